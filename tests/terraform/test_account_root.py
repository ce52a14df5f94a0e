"""The account root: account-wide singletons once per AWS account, across every spec."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pygohcl
import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.spec import ResolvedSpec
from compiler.spec.model import Account
from compiler.terraform import account, emit
from compiler.terraform.schema_check import check_text, dangling_references, duplicate_addresses

from .support import ROOT, artifacts, environments, schema

SINGLETONS = (
    "aws_config_configuration_recorder",
    "aws_config_delivery_channel",
    "aws_config_configuration_recorder_status",
    "aws_guardduty_detector",
    "aws_ecr_replication_configuration",
    "aws_iam_openid_connect_provider",
    "aws_iam_service_linked_role",
)


CONFIG = "replication_configuration"


def all_environments() -> list[ResolvedSpec]:
    return [*environments("assistant"), *environments("clinical-notes")]


def roots(envs: list[ResolvedSpec]) -> dict[str, dict[str, str]]:
    """Account key -> file name -> text."""
    found: dict[str, dict[str, str]] = {}
    for artifact in account.emit(envs):
        key, _, name = artifact.path.removeprefix("generated/accounts/").partition("/terraform/")
        found.setdefault(key, {})[name] = artifact.content
    return found


def resources(texts: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for text in texts.values():
        for kind, labelled in pygohcl.loads(text).get("resource", {}).items():
            for label, body in labelled.items():
                found[(kind, label)] = body
    return found


def of_type(texts: dict[str, str], kind: str) -> dict[str, dict[str, Any]]:
    return {label: body for (k, label), body in resources(texts).items() if k == kind}


def in_account(spec: ResolvedSpec, account_id: str) -> ResolvedSpec:
    return spec.model_copy(update={"account": Account(id=account_id)})


def test_one_root_per_account_of_the_examples() -> None:
    assert sorted(roots(all_environments())) == [
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
    ]


def test_two_deployments_in_one_account_make_one_root() -> None:
    staging = [e for e in all_environments() if e.environment == "staging"]
    shared = [in_account(e, "555555555555") for e in staging]
    found = roots(shared)
    assert list(found) == ["555555555555"]
    texts = found["555555555555"]
    assert "assistant/staging, clinical-notes/staging" in texts["providers.tf"]
    # one OIDC provider, one recorder per region, one registry replication per region
    assert list(of_type(texts, "aws_iam_openid_connect_provider")) == ["github"]
    recorders = of_type(texts, "aws_config_configuration_recorder")
    # primaries and the DR regions; global resource types once, in the home region
    globals_ = {
        label: r["recording_group"]["include_global_resource_types"]
        for label, r in recorders.items()
    }
    assert globals_ == {
        "config_eu_west_1": True,
        "config_us_east_1": False,
        "config_eu_central_1": False,
        "config_us_west_2": False,
    }
    rules = of_type(texts, "aws_ecr_replication_configuration")
    filters = {
        label: [
            r["repository_filter"]["filter"]
            for r in _list(body["replication_configuration"]["rule"])
        ]
        for label, body in rules.items()
    }
    assert filters == {"eu_west_1": ["assistant-staging"], "us_east_1": ["clinical-notes-staging"]}
    problems = duplicate_addresses(texts) + dangling_references(texts)
    assert [str(p) for p in problems] == []


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_environment_roots_hold_no_account_wide_singleton() -> None:
    for example in ("assistant", "clinical-notes"):
        for artifact in artifacts(example):
            for kind in SINGLETONS:
                assert f'resource "{kind}"' not in artifact.content, (artifact.path, kind)


def test_bootstrap_reads_the_accounts_github_provider() -> None:
    found = [a for a in artifacts("assistant") if a.path.endswith("/github_oidc.tf")]
    # One bootstrap per account, each in its own account's folder.
    assert sorted(a.path.split("/")[3] for a in found) == ["111111111111", "222222222222"]
    for artifact in found:
        assert 'data "aws_iam_openid_connect_provider" "github"' in artifact.content
        assert "data.aws_iam_openid_connect_provider.github.arn" in artifact.content


def test_config_delivers_to_its_own_bucket_without_object_lock() -> None:
    texts = roots(all_environments())["444444444444"]  # clinical-notes prod: hipaa, locked audit
    channel = of_type(texts, "aws_config_delivery_channel")["config_us_east_1"]
    assert channel["s3_bucket_name"] == "aws_s3_bucket.config_us_east_1.id"
    assert "aws_s3_bucket_object_lock_configuration" not in texts["config.tf"]
    assert "object_lock_enabled" not in texts["config.tf"]
    # IAM is eventually consistent: the channel waits for its role's permissions.
    assert {
        "aws_iam_role_policy_attachment.config",
        "aws_iam_role_policy.config_delivery",
    } <= set(channel["depends_on"])
    audit = next(
        a.content for a in artifacts("clinical-notes") if a.path.endswith("prod/terraform/audit.tf")
    )
    assert "config.amazonaws.com" not in audit  # the locked audit bucket is not Config's


AGENTS = [("ec2", "EC2_AGENT_MANAGEMENT"), ("fargate", "ECS_FARGATE_AGENT_MANAGEMENT")]


@pytest.mark.parametrize(("platform", "agent"), AGENTS)
def test_guardduty_runtime_monitoring_matches_the_fleet(platform: str, agent: str) -> None:
    spec = environments("clinical-notes")[1]
    spec = spec.model_copy(
        update={"compute": spec.compute.model_copy(update={"platform": platform, "gpu": None})}
    )
    texts = roots([spec])["444444444444"]
    runtime = of_type(texts, "aws_guardduty_detector_feature")["us_east_1_runtime"]
    assert [c["name"] for c in _list(runtime["additional_configuration"])] == [agent]


def test_guardduty_only_where_asked() -> None:
    found = roots(all_environments())
    assert "guardduty.tf" not in found["111111111111"]  # assistant: guardduty off
    assert of_type(found["444444444444"], "aws_guardduty_detector")


def test_autoscaling_role_exists_before_a_key_policy_names_it() -> None:
    found = roots(all_environments())
    assert of_type(found["444444444444"], "aws_iam_service_linked_role")  # clinical-notes: EC2
    assert not of_type(found["111111111111"], "aws_iam_service_linked_role")  # Fargate
    kms = next(
        a.content for a in artifacts("clinical-notes") if a.path.endswith("prod/terraform/kms.tf")
    )
    assert 'data "aws_iam_role" "autoscaling"' in kms
    assert "${data.aws_iam_role.autoscaling.name}" in kms


def test_account_roots_pass_the_schema_and_reference_checks() -> None:
    for key, texts in roots(all_environments()).items():
        for name, text in texts.items():
            assert [str(p) for p in check_text(text, schema(), f"{key}/{name}")] == []
        assert [str(p) for p in duplicate_addresses(texts) + dangling_references(texts)] == []


def test_account_roots_are_committed_under_generated_accounts() -> None:
    for artifact in account.emit(all_environments()):
        assert (ROOT / artifact.path).read_text(encoding="utf-8") == artifact.content


def test_emit_of_one_deployment_writes_no_account_root() -> None:
    assert not [a for a in emit(environments("assistant")) if "/accounts/" in a.path]


def test_compile_writes_and_checks_the_account_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "spec", tmp_path / "spec")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["compile"], catch_exceptions=False).exit_code == 0
    config = tmp_path / "generated/accounts/444444444444/terraform/config.tf"
    assert config.is_file()
    assert (tmp_path / "generated/accounts/manifest.json").is_file()
    config.write_text(config.read_text() + "# edited\n")
    result = runner.invoke(cli, ["compile", "--check"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "generated/accounts/444444444444/terraform/config.tf: hand-edited" in result.stderr


def test_a_spec_may_not_be_named_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "spec").mkdir()
    text = (
        (ROOT / "spec" / "assistant.yaml").read_text().replace("name: assistant", "name: accounts")
    )
    (tmp_path / "spec" / "accounts.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["compile"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "'accounts' is reserved" in result.stderr


def test_the_dr_region_is_recorded_and_watched_too() -> None:
    # clinical-notes prod: EC2 in us-east-1, the DR service on Fargate in us-west-2.
    texts = roots(all_environments())["444444444444"]
    assert set(of_type(texts, "aws_config_configuration_recorder")) == {
        "config_us_east_1",
        "config_us_west_2",
    }
    features = of_type(texts, "aws_guardduty_detector_feature")
    agents = {
        label: [c["name"] for c in _list(body["additional_configuration"])]
        for label, body in features.items()
        if label.endswith("_runtime")
    }
    assert agents == {
        "us_east_1_runtime": ["EC2_AGENT_MANAGEMENT"],
        "us_west_2_runtime": ["ECS_FARGATE_AGENT_MANAGEMENT"],
    }
    # the registry replicates from the primary only
    assert list(of_type(texts, "aws_ecr_replication_configuration")) == ["us_east_1"]
