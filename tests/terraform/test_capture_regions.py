"""Capture records stay in the region whose tasks write them.

The secondary's VPC reaches S3 and KMS only through same-Region endpoints (an S3 gateway
endpoint reaches only buckets of its own Region), and has no route to the internet. A
container there that names the primary's capture bucket or key (how the secondary was
first configured) loses every record it writes during a failover and, under active-active,
all of that region's traffic. So: every S3 location and KMS key a container's environment
names is in its task's region, the secondary's capture bucket exists there with the
primary's settings, the one task role may write it, and it replicates into the primary's
bucket (the learning loop reads one bucket).
"""

from __future__ import annotations

import re
from typing import Any

import pygohcl
import pytest

from compiler.spec import ResolvedSpec, load_spec
from compiler.terraform.hcl import Block, Call, Expr, Ref, Template, render
from compiler.terraform.plan import plan, secondary_fleet
from compiler.terraform.stack import FILES

from .support import EXAMPLES, ROOT, environments

S3_URI = re.compile(r"^s3://([^/]+)/")
KMS_ARN = re.compile(r":kms:([a-z0-9-]+):[^:]+:(alias/.+|key/.+)$")


def _cases() -> list[ResolvedSpec]:
    found = [s for e in EXAMPLES for s in environments(e)]
    for case in sorted((ROOT / "tests" / "cases").glob("dr-*/spec.yaml")):
        found += load_spec(case).environments
    return [s for s in found if s.observability.capture.enabled and secondary_fleet(s) is not None]


CASES = _cases()


def _blocks(spec: ResolvedSpec) -> dict[str, Block]:
    return {b.address: b for _, view in FILES for b in view(plan(spec)) if b.type == "resource"}


def _secondary(block: Block) -> bool:
    try:
        return block.attribute("provider") == Ref("aws.secondary")
    except KeyError:
        return False


def _text(value: object) -> str:
    assert isinstance(value, (str, Template)), value
    return value if isinstance(value, str) else value.text


def _parsed(block: Block) -> Any:
    return pygohcl.loads(render([block]))["resource"][block.labels[0]][block.labels[1]]


def _environment(block: Block) -> dict[str, str]:
    definitions = block.attribute("container_definitions")
    assert isinstance(definitions, Call)
    (container,) = definitions.args[0]  # type: ignore[misc]
    return {item["name"]: _text(item["value"]) for item in container["environment"]}


def _bucket_named(blocks: dict[str, Block], name: str) -> Block:
    found = [
        b
        for b in blocks.values()
        if b.labels[0] == "aws_s3_bucket" and _text(b.attribute("bucket")) == name
    ]
    assert len(found) == 1, name
    return found[0]


def test_some_case_captures_in_the_secondary() -> None:
    assert {"assistant-prod", "clinical-notes-prod"} <= {
        f"{s.metadata.name}-{s.environment}" for s in CASES
    }


@pytest.mark.parametrize("spec", CASES, ids=lambda s: f"{s.metadata.name}-{s.environment}")
def test_every_container_writes_and_reads_in_its_own_region(spec: ResolvedSpec) -> None:
    blocks = _blocks(spec)
    tasks = [b for b in blocks.values() if b.labels[0] == "aws_ecs_task_definition"]
    assert any(_secondary(task) for task in tasks)
    for task in tasks:
        region = spec.dr.secondary_region if _secondary(task) else spec.region
        env = _environment(task)
        # The runtime's SDK calls go to its own region's endpoints, whatever the ECS agent.
        assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == region, task.address
        for name, value in env.items():
            uri = S3_URI.match(value)
            if uri:
                bucket = _bucket_named(blocks, uri.group(1))
                assert _secondary(bucket) == _secondary(task), (task.address, name)
            arn = KMS_ARN.search(value)
            if arn:
                assert arn.group(1) == region, (task.address, name)
        assert "SERVESPEC_CAPTURE_URI" in env and "SERVESPEC_CAPTURE_KMS_KEY_ID" in env
        # The alias the runtime names exists in the task's region, on the region's key.
        alias = KMS_ARN.search(env["SERVESPEC_CAPTURE_KMS_KEY_ID"])
        assert alias is not None
        (found,) = [
            b
            for b in blocks.values()
            if b.labels[0] == "aws_kms_alias"
            and _secondary(b) == _secondary(task)
            and _text(b.attribute("name")) == alias.group(2)
        ]
        target = found.attribute("target_key_id")
        assert isinstance(target, Expr)
        assert target.text.split(".")[1] == ("secondary" if _secondary(task) else "main")


@pytest.mark.parametrize("spec", CASES, ids=lambda s: f"{s.metadata.name}-{s.environment}")
def test_the_secondary_capture_bucket_is_the_primarys_in_its_region(spec: ResolvedSpec) -> None:
    blocks = _blocks(spec)
    (task,) = [
        b for b in blocks.values() if b.labels[0] == "aws_ecs_task_definition" and _secondary(b)
    ]
    uri = S3_URI.match(_environment(task)["SERVESPEC_CAPTURE_URI"])
    assert uri is not None
    label = _bucket_named(blocks, uri.group(1)).labels[1]

    def settings(kind: str) -> Any:
        block = blocks[f"{kind}.{label}"]
        assert _secondary(block), block.address
        return _parsed(block)

    assert settings("aws_s3_bucket_public_access_block") | {"bucket": None} == {
        "provider": "aws.secondary",
        "bucket": None,
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    }
    assert settings("aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    sse = settings("aws_s3_bucket_server_side_encryption_configuration")["rule"]
    default = sse["apply_server_side_encryption_by_default"]
    assert default["sse_algorithm"] == "aws:kms"
    assert default["kms_master_key_id"].split(".")[1] == "secondary"
    rule = settings("aws_s3_bucket_lifecycle_configuration")["rule"]
    assert rule["expiration"] == {"days": spec.observability.capture.retention_days}
    policy = render([blocks[f"aws_s3_bucket_policy.{label}"]])
    assert '"aws:SecureTransport" = "false"' in policy
    assert '"s3:x-amz-server-side-encryption" = "aws:kms"' in policy
    # Replicated into the primary's capture bucket, under the primary's key.
    replication = settings("aws_s3_bucket_replication_configuration")
    destination = replication["rule"]["destination"]
    assert destination["bucket"] == "aws_s3_bucket.capture.arn"
    assert destination["encryption_configuration"] == {"replica_kms_key_id": "aws_kms_key.main.arn"}
    # The one task role may write there, and make data keys in that region.
    capture = render([blocks["aws_iam_role_policy.task_capture"]])
    assert f"{uri.group(1)}/capture/*" in capture
    assert f":kms:{spec.dr.secondary_region}:" in capture
