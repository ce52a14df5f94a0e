"""experiment.tf: the capture bucket, the task's write grant, variant pins and variables."""

from __future__ import annotations

from pathlib import Path

import pygohcl

from compiler.terraform.plan import plan
from compiler.terraform.stack import compute, experiment

from .support import ROOT, environments


def _tf(example: str, env: str) -> dict[str, object]:
    path = Path(ROOT / "generated" / example / env / "terraform" / "experiment.tf")
    return pygohcl.loads(path.read_text())  # type: ignore[no-any-return]


def test_capture_bucket_expires_records_and_accepts_only_kms() -> None:
    resources = _tf("assistant", "prod")["resource"]
    rules = resources["aws_s3_bucket_lifecycle_configuration"]["capture"]["rule"]
    assert rules["expiration"]["days"] == 90  # observability.capture.retention_days
    sse = resources["aws_s3_bucket_server_side_encryption_configuration"]["capture"]["rule"]
    assert sse["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    policy = resources["aws_s3_bucket_policy"]["capture"]["policy"]
    assert "DenyUploadsNotUnderKms" in policy and "DenyInsecureTransport" in policy


def test_the_task_may_only_put_under_the_capture_prefix() -> None:
    policy = _tf("assistant", "prod")["resource"]["aws_iam_role_policy"]["task_capture"]
    text = str(policy["policy"])
    assert "s3:PutObject" in text and "/capture/*" in text
    for broader in ("s3:GetObject", "s3:DeleteObject", "s3:*", "kms:Decrypt"):
        assert broader not in text


def test_every_variant_has_a_pin_rule_and_knows_its_name() -> None:
    spec = environments("clinical-notes")[1]
    resources = _tf("clinical-notes", "prod")["resource"]["aws_lb_listener_rule"]
    assert set(resources) == {f"pin_{v.name}" for v in spec.variants}
    env = {
        item["name"]: item["value"]  # type: ignore[index]
        for item in compute.environment(spec, "2026-11-20", "candidate")
    }
    assert env["SERVESPEC_VARIANT"] == "candidate"
    assert env["SERVESPEC_VARIANTS"] == "current,candidate"
    assert env["SERVESPEC_CAPTURE_KEEP_TEXT"] == "false"


def test_no_capture_and_no_variants_emit_nothing() -> None:
    spec = environments("assistant")[0]
    plain = spec.model_copy(
        update={
            "observability": spec.observability.model_copy(
                update={"capture": spec.observability.capture.model_copy(update={"enabled": False})}
            )
        }
    )
    assert experiment.blocks(plan(plain)) == []
    assert experiment.environment(plain, "runtime") == {}
    assert set(experiment.environment(spec, "runtime")) == {
        "SERVESPEC_CAPTURE_URI", "SERVESPEC_CAPTURE_SAMPLE_PERCENT",
        "SERVESPEC_CAPTURE_KEEP_TEXT", "SERVESPEC_CAPTURE_KMS_KEY_ID",
    }  # fmt: skip


def test_each_variant_has_its_own_alarms_and_dashboard_lines() -> None:
    resources = _tf("clinical-notes", "prod")["resource"]
    alarms = resources["aws_cloudwatch_metric_alarm"]
    assert set(alarms) == {
        "current_latency", "current_timetofirsttoken",
        "candidate_latency", "candidate_timetofirsttoken",
    }  # fmt: skip
    assert alarms["candidate_latency"]["dimensions"] == {
        "Model": "clinical-notes-llm",
        "Variant": "candidate",
    }
    body = str(resources["aws_cloudwatch_dashboard"]["experiment"]["dashboard_body"])
    assert body.count('"Variant"') == 8  # 4 widgets x 2 variants
