"""`servespec policy` end to end, on a small secure stack and on hand-edited copies of it.

The stack (fixtures/stack/) passes; each edit below is one a reviewer must never see pass:
the gate exits 1 and names the resource and the spec field that governs it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from compiler.policy.cli import policy
from compiler.policy.gate import GateResult, run_gate
from compiler.policy.render import as_json, as_sarif
from compiler.policy.verdict import Outcome

from .conftest import POLICIES, ROOT, STACK


def gate(args: list[str], checkov: Path, **env: str) -> Result:
    return CliRunner().invoke(policy, args, env={"SERVESPEC_CHECKOV": str(checkov), **env})


def replace(file: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(stack: Path) -> None:
        path = stack / "terraform" / file
        text = path.read_text()
        assert old in text, f"{old!r} not in {file}"
        path.write_text(text.replace(old, new, 1))

    return edit


def append(file: str, block: str) -> Callable[[Path], None]:
    def edit(stack: Path) -> None:
        path = stack / "terraform" / file
        path.write_text(path.read_text() + "\n" + block)

    return edit


def drop_secondary_key(stack: Path) -> None:
    path = stack / "terraform" / "kms.tf"
    text = path.read_text()
    path.write_text(text[: text.index('resource "aws_kms_key" "secondary"')])


SSH_RULE = """resource "aws_vpc_security_group_ingress_rule" "ssh" {
  security_group_id = aws_security_group.tasks.id
  description       = "debugging"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 22
  to_port           = 22
  ip_protocol       = "tcp"
}
"""


@dataclass(frozen=True)
class Edit:
    apply: Callable[[Path], None]
    check: str
    resource: str
    spec_field: str


EDITS: dict[str, Edit] = {
    "rotation_off": Edit(
        replace("kms.tf", "enable_key_rotation     = true", "enable_key_rotation     = false"),
        "SSP_KMS_001",
        "aws_kms_key.main",
        "security.kms.rotation",
    ),
    "key_dropped": Edit(
        drop_secondary_key,
        "SSP_ENC_001",
        "aws_s3_bucket_server_side_encryption_configuration.replica",
        "security.kms",
    ),
    "ssh_open": Edit(
        append("network.tf", SSH_RULE),
        "CKV_AWS_24",
        "aws_vpc_security_group_ingress_rule.ssh",
        "security.network",
    ),
    "tls_weak": Edit(
        replace("network.tf", "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-2016-08"),
        "SSP_ALB_001",
        "aws_lb_listener.https",
        "security.tls.min_version",
    ),
    "action_star": Edit(
        replace("iam.tf", 'Action   = ["s3:GetObject"]', 'Action   = "*"'),
        "SSP_IAM_001",
        "aws_iam_role_policy.task",
        "security (least privilege)",
    ),
    "log_group_no_cmk": Edit(
        replace("observability.tf", "  kms_key_id        = aws_kms_key.main.arn\n", ""),
        "SSP_ENC_002",
        "aws_cloudwatch_log_group.api",
        "security.kms",
    ),
    "privileged": Edit(
        replace("ecs.tf", "privileged             = false", "privileged             = true"),
        "SSP_ECS_003",
        "aws_ecs_task_definition.api",
        "compute (runtime image)",
    ),
    "retention_short": Edit(
        replace("observability.tf", "retention_in_days = 365", "retention_in_days = 30"),
        "SSP_LOG_001",
        "aws_cloudwatch_log_group.api",
        "observability.log_retention_days",
    ),
    "region_outside_gdpr": Edit(
        replace("servespec.tf", 'region = "eu-west-1"', 'region = "us-east-1"'),
        "SSP_REG_001",
        "aws.default",
        "region / dr.secondary_region / security.compliance",
    ),
}


EXPIRED_WAIVER = replace(
    "kms.tf",
    "  enable_key_rotation     = true\n",
    "  #checkov:skip=CKV_AWS_33:vendor key policy (owner sec-team, expires 2020-01-31)\n"
    "  enable_key_rotation     = true\n",
)


@pytest.fixture(scope="module")
def edited(checkov: Path, tmp_path_factory: pytest.TempPathFactory) -> GateResult:
    """One gate run over every edited copy (one checkov import instead of ten)."""
    root = tmp_path_factory.mktemp("edits")
    for name, edit in EDITS.items():
        shutil.copytree(STACK, root / name)
        edit.apply(root / name)
    shutil.copytree(STACK, root / "expired_waiver")
    EXPIRED_WAIVER(root / "expired_waiver")
    environ = {"SERVESPEC_CHECKOV": str(checkov)}
    return run_gate([root], root=ROOT, environ=environ, today=dt.date.today())


@pytest.fixture(scope="module")
def edited_json(edited: GateResult) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(as_json(edited.scan, edited.verdict))
    return report


def test_secure_stack_passes(checkov: Path) -> None:
    result = gate([str(STACK)], checkov)
    assert result.exit_code == 0, result.output
    assert "PASSED: 0 failed" in result.output
    assert "Waived by the spec (security.waivers):" in result.output
    assert "Skipped by compiler design" in result.output


def test_the_committed_generated_output_passes(checkov: Path) -> None:
    """What main.sh and the PR gate run: every deployment and account root under generated/.
    Unit cases cannot stand in for it: a policy checkov cannot render fails closed only on
    the real output (a replication policy naming one key twice did, once)."""
    result = gate([str(ROOT / "generated")], checkov)
    assert result.exit_code == 0, result.output
    assert "PASSED: 0 failed" in result.output


def test_edits_fail_the_gate(edited: GateResult, edited_json: dict[str, Any]) -> None:
    assert edited.verdict.outcome is Outcome.FAILED
    assert edited_json["exit_code"] == 1
    assert edited_json["problems"] == []


@pytest.mark.parametrize("name", sorted(EDITS))
def test_edit_names_resource_and_spec_field(edited_json: dict[str, Any], name: str) -> None:
    edit = EDITS[name]
    failed = [f for f in edited_json["failed"] if f"/{name}/" in f["file"]]
    named = [(f["check_id"], f["resource"], f["spec_field"]) for f in failed]
    assert (edit.check, edit.resource, edit.spec_field) in named
    # The edit broke only what it touched: every failure is on the edited resource.
    assert {f["resource"] for f in failed} == {edit.resource}
    assert all(f["line"] > 0 and f["file"].endswith(".tf") for f in failed)


def test_expired_waiver_fails(edited_json: dict[str, Any]) -> None:
    waived = [w for w in edited_json["waived"] if "/expired_waiver/" in w["file"]]
    bad = [(w["check_id"], w["resource"], w["owner"], w["problem"]) for w in waived if w["problem"]]
    assert bad == [("CKV_AWS_33", "aws_kms_key.main", "sec-team", "waiver expired on 2020-01-31")]
    assert not [f for f in edited_json["failed"] if "/expired_waiver/" in f["file"]]


def test_waivers_are_listed_with_reasons(edited_json: dict[str, Any]) -> None:
    waived = [w for w in edited_json["waived"] if "/rotation_off/" in w["file"]]
    assert {(w["check_id"], w["resource"], w["kind"]) for w in waived} == {
        ("CKV_AWS_260", "aws_vpc_security_group_ingress_rule.http_redirect", "spec"),
        ("CKV_AWS_144", "aws_s3_bucket.replica", "spec"),
        ("CKV_AWS_144", "aws_s3_bucket.logs", "spec"),
        ("CKV_AWS_145", "aws_s3_bucket.logs", "spec"),
        ("CKV_AWS_18", "aws_s3_bucket.logs", "compiler"),
        ("SSP_BAK_002", "terraform_data.servespec_policy", "compiler"),
        ("SSP_DR_001", "terraform_data.servespec_policy", "compiler"),
    }
    assert all(w["reason"] and w["problem"] is None for w in waived)


def test_sarif_carries_spec_field_and_location(edited: GateResult) -> None:
    sarif = json.loads(as_sarif(edited.scan, edited.verdict, "test"))
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    kms = [r for r in run["results"] if r["ruleId"] == "SSP_KMS_001"]
    assert len(kms) == 1 and "security.kms.rotation" in kms[0]["message"]["text"]
    location = kms[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("rotation_off/terraform/kms.tf")
    assert location["region"]["startLine"] == 1
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rule_ids == sorted(set(rule_ids)) and "SSP_KMS_001" in rule_ids


def test_cli_table_and_sarif_file(checkov: Path, tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    shutil.copytree(STACK, stack)
    EDITS["tls_weak"].apply(stack)
    out = tmp_path / "gate.sarif"
    result = gate([str(stack), "--format", "sarif", "--output", str(out)], checkov)
    assert result.exit_code == 1
    # With --output the reviewer's table still goes to the terminal.
    row = next(line for line in result.output.splitlines() if line.startswith("SSP_ALB_001"))
    assert "aws_lb_listener.https" in row
    assert "network.tf:" in row
    assert "security.tls.min_version" in row
    assert "ELBSecurityPolicy-TLS13-1-2-2021-06" in row
    assert json.loads(out.read_text())["runs"][0]["results"]


def test_empty_directory_is_not_a_pass(checkov: Path, tmp_path: Path) -> None:
    result = gate([str(tmp_path)], checkov)
    assert result.exit_code == 2
    assert "scanned zero Terraform resources" in result.output


def test_parse_error_is_not_a_pass(checkov: Path, tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    shutil.copytree(STACK, stack)
    (stack / "terraform" / "broken.tf").write_text('resource "aws_s3_bucket" "x" {\n  bucket = \n')
    result = gate([str(stack)], checkov)
    assert result.exit_code == 2, result.output
    assert "could not parse" in result.output


def test_policies_not_loaded_is_not_a_pass(checkov: Path, tmp_path: Path) -> None:
    # checkov loads no Python check from a directory without __init__.py, silently.
    shutil.copytree(POLICIES, tmp_path / "policies")
    (tmp_path / "policies" / "__init__.py").unlink()
    shutil.rmtree(tmp_path / "policies" / "graph")
    result = run_gate(
        [STACK], root=tmp_path, environ={"SERVESPEC_CHECKOV": str(checkov)}, today=dt.date.today()
    )
    assert result.verdict.outcome is Outcome.INVALID
    assert any("none of servespec's policies ran" in p for p in result.verdict.problems)


def test_missing_checkov_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        policy, [str(STACK)], env={"SERVESPEC_CHECKOV": str(tmp_path / "nope")}
    )
    assert result.exit_code == 2
    assert "scripts/install-checkov.sh" in result.output


def test_missing_path_exits_2(checkov: Path, tmp_path: Path) -> None:
    result = gate([str(tmp_path / "generated")], checkov)
    assert result.exit_code == 2
    assert "nothing to scan" in result.output


def test_tf_json_is_refused(checkov: Path, tmp_path: Path) -> None:
    (tmp_path / "main.tf.json").write_text("{}")
    result = gate([str(tmp_path)], checkov)
    assert result.exit_code == 2
    assert ".tf.json" in result.output
