"""The runbook's AWS CLI commands name what the generated Terraform creates, where it lives.

Read against the generated roots (pygohcl), and run with the AWS CLI against moto_server
after creating what the Terraform would: a command that names a missing resource or the
wrong region fails there exactly as in AWS (NoSuchConfigurationRecorderException,
TrailNotFoundException).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import jmespath
import pygohcl
import pytest

from compiler.runbook import render
from compiler.runbook.facts import facts

from .test_runbook import EXAMPLES, environments, section

ROOT = Path(__file__).resolve().parents[2]
MOTO_ACCOUNT = "123456789012"
# The AWS CLI the dev extra installs next to this interpreter (never skipped for lack of it).
AWS_BIN = Path(sys.executable).parent
RECORDER_START = re.compile(
    r"aws configservice start-configuration-recorder --region (\S+) \\\n\s+"
    r"--configuration-recorder-name (\S+)"
)
TRAIL_START = re.compile(r"aws cloudtrail start-logging --region (\S+) \\\n\s+--name (\S+)")
CASES = [(example, spec.environment) for example in EXAMPLES for spec in environments(example)]


@cache
def _hcl(path: str) -> dict[str, Any]:
    return pygohcl.loads((ROOT / path).read_text(encoding="utf-8"))


def _provider_regions(root: str) -> dict[str, str]:
    """`aws` / `aws.<alias>` -> region, from a root's providers.tf."""
    providers = _hcl(f"{root}/providers.tf")["provider"]["aws"]
    found = {}
    for block in providers if isinstance(providers, list) else [providers]:
        alias = block.get("alias")
        found[f"aws.{alias}" if alias else "aws"] = block["region"]
    return found


def _recorders(account: str) -> set[tuple[str, str]]:
    """(region, name) of every Config recorder the account root creates."""
    root = f"generated/accounts/{account}/terraform"
    regions = _provider_regions(root)
    blocks = _hcl(f"{root}/config.tf")["resource"]["aws_config_configuration_recorder"]
    return {(regions[b.get("provider", "aws")], b["name"]) for b in blocks.values()}


def _spec(example: str, environment: str) -> Any:
    return next(s for s in environments(example) if s.environment == environment)


@pytest.mark.parametrize(("example", "environment"), CASES)
def test_audit_restore_commands_name_the_account_recorders(example: str, environment: str) -> None:
    spec = _spec(example, environment)
    found = facts(spec)
    part = section(render(environments(example)), environment)
    named = set(RECORDER_START.findall(part))
    assert named, "no command restarts the Config recorder"
    assert named <= _recorders(found.account)
    assert {region for region, _ in named} == {spec.region, spec.dr.secondary_region}


@pytest.mark.parametrize(("example", "environment"), CASES)
def test_trail_is_started_in_its_home_region(example: str, environment: str) -> None:
    spec = _spec(example, environment)
    part = section(render(environments(example)), environment)
    trail = _hcl(f"generated/{example}/{environment}/terraform/audit.tf")["resource"][
        "aws_cloudtrail"
    ]["main"]
    assert "provider" not in trail  # the primary's provider: the trail's home region
    name = f"{example}-{environment}"  # local.name
    arn = f"arn:aws:cloudtrail:{spec.region}:<account-id>:trail/{name}"
    assert TRAIL_START.findall(part) == [(spec.region, arn)]


def test_generic_section_names_no_per_deployment_recorder() -> None:
    for example in EXAMPLES:
        assert "--configuration-recorder-name <name>" not in render(environments(example))


def _argv(command: str, endpoint: str) -> list[str]:
    argv = command.replace("\\\n", " ").replace("<account-id>", MOTO_ACCOUNT).split()
    assert argv[0] == "aws", command
    return [str(AWS_BIN / "aws"), "--endpoint-url", endpoint, *argv[1:]]


def _run(command: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _argv(command, endpoint),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": "ap-southeast-2"},  # not a region of ours
    )


@pytest.mark.parametrize(("example", "environment"), CASES)
def test_audit_restore_commands_run_against_moto(
    example: str, environment: str, aws_reset: str
) -> None:
    spec = _spec(example, environment)
    found = facts(spec)
    for region, name in _recorders(found.account):
        config = boto3.client("config", region_name=region, endpoint_url=aws_reset)
        role = f"arn:aws:iam::{MOTO_ACCOUNT}:role/config"
        config.put_configuration_recorder(ConfigurationRecorder={"name": name, "roleARN": role})
        config.put_delivery_channel(DeliveryChannel={"name": name, "s3BucketName": "config"})
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=aws_reset)
    s3.create_bucket(Bucket="trail")
    trails = boto3.client("cloudtrail", region_name=spec.region, endpoint_url=aws_reset)
    trails.create_trail(Name=found.name, S3BucketName="trail", IsMultiRegionTrail=True)
    part = section(render(environments(example)), environment)
    block = part[part.index("Turn the audit controls back on") :]
    block = block[block.index("```sh\n") + 6 :]
    block = block[: block.index("\n```")]
    for command in re.split(r"\n(?=aws )", block):
        result = _run(command, aws_reset)
        assert result.returncode == 0, (command, result.stderr)
    assert trails.get_trail_status(Name=found.name)["IsLogging"]
    for region in found.recorder_regions:
        config = boto3.client("config", region_name=region, endpoint_url=aws_reset)
        status = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
        assert [s["recording"] for s in status] == [True]


def _secondary_scalable_target(example: str, environment: str) -> dict[str, Any]:
    scaling = _hcl(f"generated/{example}/{environment}/terraform/scaling.tf")
    target: dict[str, Any] = scaling["resource"]["aws_appautoscaling_target"]["secondary"]
    return target


@pytest.mark.parametrize(("example", "environment"), CASES)
def test_failover_range_warns_that_an_apply_resets_it(example: str, environment: str) -> None:
    """Terraform owns the standby's scalable target (no ignore_changes on its range), and
    RegisterScalableTarget moves the service's desired count into the range it sets
    (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html):
    an apply during a failover shrinks the secondary back to the strategy's size."""
    part = section(render(environments(example)), environment)
    if "register-scalable-target" not in part:
        return  # nothing is started by hand (active-active, backup-restore)
    target = _secondary_scalable_target(example, environment)
    assert "lifecycle" not in target
    assert "Terraform will not undo" not in part
    reset = f"sets it back to {target['min_capacity']}..{target['max_capacity']}"
    assert reset in " ".join(part.split())


RESTORE = re.compile(
    r"aws backup get-recovery-point-restore-metadata --region (\S+) \\\n\s+"
    r"--backup-vault-name (\S+) --recovery-point-arn <arn>(?: \\\n\s+(.+))?\n\s+"
    r"aws backup start-restore-job --region (\S+) --recovery-point-arn <arn> \\\n\s+(.+)\n"
)


def _vaults(example: str, environment: str) -> set[tuple[str, str]]:
    """(region, name) of the environment's backup vaults (pygohcl renders `local.name`
    and `"${local.name}-dr"` as `local.name`, `local.name-dr`)."""
    root = f"generated/{example}/{environment}/terraform"
    regions = _provider_regions(root)
    vaults = _hcl(f"{root}/backup.tf")["resource"]["aws_backup_vault"]
    name = f"{example}-{environment}"
    return {
        (regions[v.get("provider", "aws")], v["name"].replace("local.name", name))
        for v in vaults.values()
    }


@pytest.mark.parametrize(("example", "environment"), CASES)
def test_restore_commands_read_each_vault_in_its_own_region(example: str, environment: str) -> None:
    """Vault names are unique per account and region: the copy in the secondary is read and
    restored only with its own name, through its own region's endpoint."""
    part = section(render(environments(example)), environment)
    found = RESTORE.findall(part)
    assert {(region, vault) for region, vault, *_ in found} == _vaults(example, environment)
    assert all(region == start_region for region, _, _, start_region, _ in found)


@pytest.mark.parametrize(("example", "environment"), CASES)
def test_saved_restore_metadata_is_what_start_restore_job_accepts(
    example: str, environment: str, tmp_path: Path, moto_endpoint: str
) -> None:
    """GetRecoveryPointRestoreMetadata answers {BackupVaultArn, RecoveryPointArn,
    RestoreMetadata: {...}, ResourceType}; StartRestoreJob's --metadata is a map of strings, so
    the whole answer fails the CLI's parameter validation before any request is sent."""
    part = section(render(environments(example)), environment)
    region, vault, save, _, start = RESTORE.findall(part)[0]
    answer = {
        "BackupVaultArn": f"arn:aws:backup:{region}:{MOTO_ACCOUNT}:backup-vault:{vault}",
        "RecoveryPointArn": f"arn:aws:backup:{region}:{MOTO_ACCOUNT}:recovery-point:1",
        "RestoreMetadata": {"DestinationBucketName": "restored", "NewBucket": "true"},
        "ResourceType": "S3",
    }
    query = re.search(r"--query (\S+)", save)
    saved = jmespath.search(query.group(1), answer) if query else answer
    (tmp_path / "metadata.json").write_text(json.dumps(saved), encoding="utf-8")
    command = f"aws backup start-restore-job --region {region} --recovery-point-arn arn \\\n{start}"
    result = subprocess.run(
        _argv(command, moto_endpoint), capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert "Parameter validation failed" not in result.stderr, result.stderr
    assert save.endswith("> metadata.json")  # the file the start command reads


def test_certificate_records_command_runs(aws_reset: str) -> None:
    """describe-certificate requires --certificate-arn (the CLI refuses without it): the
    first-apply step finds the pending certificate of the domain and prints its record."""
    spec = _spec("assistant", "prod")  # no hosted zone: a person writes the record
    acm = boto3.client("acm", region_name=spec.region, endpoint_url=aws_reset)
    acm.request_certificate(DomainName=spec.security.tls.domain, ValidationMethod="DNS")
    part = section(render(environments("assistant")), "prod")
    block = part[part.index("### First apply: the certificate's DNS record") :]
    block = block[: block.index("\n### ", 1)]  # this step only
    found = re.search(r"```sh\n(.*?)\n\s*```", block, re.DOTALL)
    assert found is not None
    script = found.group(1)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "PATH": f"{AWS_BIN}{os.pathsep}{os.environ['PATH']}",
            "AWS_ENDPOINT_URL": aws_reset,
            "AWS_DEFAULT_REGION": "ap-southeast-2",
        },
    )
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["Type"] for r in records] == ["CNAME"]
    assert records[0]["Name"].endswith(f"{spec.security.tls.domain}.")


def test_a_key_saved_from_deletion_is_enabled_again(aws_reset: str) -> None:
    """CancelKeyDeletion leaves the key Disabled: the runbook's commands, run in its order
    on moto, must end with a key that decrypts again."""
    text = render(environments("assistant"))
    commands = re.findall(r"`(aws kms (?:cancel-key-deletion|enable-key) [^`]+)`", text)
    assert [c.split()[2] for c in commands] == ["cancel-key-deletion", "enable-key"]
    kms = boto3.client("kms", region_name="eu-west-1", endpoint_url=aws_reset)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    for command in commands:
        concrete = command.replace("<key>", key).replace("<the key's region>", "eu-west-1")
        result = _run(concrete, aws_reset)
        assert result.returncode == 0, (concrete, result.stderr)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"])


GLOBAL_SERVICES = re.compile(r"aws (iam|sts|route53|organizations) ")


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_regional_command_names_its_region(example: str) -> None:
    """The runbook promises that every command names its region, so it works from any
    shell: the operator's default region is often not the one in trouble."""
    text = render(environments(example))
    commands = re.findall(r"`(aws [^`]+)`", text)
    for block in re.findall(r"```sh\n(.*?)\n\s*```", text, re.DOTALL):
        commands += [c.strip() for c in re.split(r"\n(?=\s*aws )", block)]
    regional = [c for c in commands if c.startswith("aws ") and not GLOBAL_SERVICES.match(c)]
    assert len(regional) > 30
    assert [c for c in regional if "--region" not in c] == []
