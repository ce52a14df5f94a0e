"""`servespec release` and `plan-summary`: the deploy's decisions, against moto_server.

The release status step of the generated workflow runs for real here (bash, the real
servespec, moto_server through AWS_ENDPOINT_URL), so "build only what AWS lacks" is proven
on the script reviewers read, not on a copy of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.model.s3 import client
from compiler.workflows import plan_summary, release

from .helpers import ROOT, environments, workflows

ECR_MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
)


def prod() -> Any:
    return next(s for s in environments("assistant") if s.environment == "prod")


def seed(endpoint: str, *, image: bool, model: bool) -> None:
    spec = prod()
    ecr = client("ecr", endpoint, spec.region)
    ecr.create_repository(repositoryName="assistant-prod")
    if image:
        ecr.put_image(repositoryName="assistant-prod", imageManifest=ECR_MANIFEST, imageTag="0a1b")
    if model:
        s3 = client("s3", endpoint, spec.region)
        bucket = "assistant-prod-models-123456789012"
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": spec.region}
        )
        key = f"models/{spec.model.name}/{spec.model.version}/manifest.json"
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")


@pytest.mark.parametrize(("image", "model"), [(False, False), (True, False), (True, True)])
def test_status_reads_ecr_and_s3(aws_reset: str, image: bool, model: bool) -> None:
    seed(aws_reset, image=image, model=model)
    found = release.status(prod(), "0a1b", aws_reset)
    assert found == release.Status(image, {"model_present": model})


def test_a_missing_repository_and_bucket_mean_build_everything(aws_reset: str) -> None:
    assert release.status(prod(), "0a1b", aws_reset) == release.Status(
        False, {"model_present": False}
    )


def test_status_checks_every_variant_artifact(aws_reset: str) -> None:
    """clinical-notes serves two variants: each needs its own manifest in the bucket."""
    spec = next(s for s in environments("clinical-notes") if s.environment == "prod")
    s3 = client("s3", aws_reset, spec.region)
    bucket = "clinical-notes-prod-models-123456789012"
    where = {} if spec.region == "us-east-1" else {"LocationConstraint": spec.region}
    s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {}))
    current = next(v for v in spec.variants if v.name == "current")
    key = f"models/{spec.model.name}/{current.model_version}/manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    found = release.status(spec, "0a1b", aws_reset)
    assert found.lines()[1:] == [
        "model_present=false",
        "model_present_current=true",
        "model_present_candidate=false",
    ]
    candidate = next(v for v in spec.variants if v.name == "candidate")
    key = f"models/{spec.model.name}/{candidate.model_version}/manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    assert release.status(spec, "0a1b", aws_reset).model_present


def test_the_workflow_step_runs_against_moto(aws_reset: str, tmp_path: Path) -> None:
    seed(aws_reset, image=True, model=False)
    data = workflows("assistant")["servespec-assistant-deploy.yml"]
    step = next(
        s for s in data["jobs"]["plan-prod"]["steps"] if s["name"] == "What the release lacks"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "terraform").write_text("#!/usr/bin/env bash\necho repo-url\n")
    (bin_dir / "terraform").chmod(0o755)
    output = tmp_path / "out"
    env = {
        **os.environ,
        "PATH": os.pathsep.join(
            [str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]
        ),
        "AWS_ENDPOINT_URL": aws_reset,
        "GITHUB_OUTPUT": str(output),
        "SPEC": "spec/assistant.yaml",
        "ENVIRONMENT": "prod",
        "IMAGE_TAG": "0a1b",
    }
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert output.read_text().splitlines() == [
        "image_present=true",
        "model_present=false",
        "stage=full",
    ]


def ecs_service(endpoint: str) -> tuple[Any, str, str]:
    ecs = client("ecs", endpoint, "eu-west-1")
    ecs.create_cluster(clusterName="c")
    old = ecs.register_task_definition(
        family="f", containerDefinitions=[{"name": "r", "image": "i:1", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    new = ecs.register_task_definition(
        family="f", containerDefinitions=[{"name": "r", "image": "i:2", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="c", serviceName="s", taskDefinition=new, desiredCount=1)
    return ecs, old, new


def test_running_accepts_the_applied_task_definition(aws_reset: str) -> None:
    ecs, _, new = ecs_service(aws_reset)
    assert release.running_problems(ecs, "c", ["s"], {new}) == []


def test_running_refuses_a_service_ecs_rolled_back(aws_reset: str) -> None:
    ecs, old, new = ecs_service(aws_reset)
    ecs.update_service(cluster="c", service="s", taskDefinition=old)
    problems = release.running_problems(ecs, "c", ["s"], {new})
    assert problems and "not the applied task definition" in problems[0]


def test_running_cli_exit_codes(aws_reset: str) -> None:
    _, old, new = ecs_service(aws_reset)
    base = ["running", "--cluster", "c", "--service", "s", "--region", "eu-west-1"]
    runner = CliRunner()
    ok = runner.invoke(
        release.release, [*base, "--task-definition", new, "--endpoint-url", aws_reset]
    )
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(
        release.release, [*base, "--task-definition", old, "--endpoint-url", aws_reset]
    )
    assert bad.exit_code == 1


def change(address: str, *actions: str) -> dict[str, Any]:
    return {"address": address, "change": {"actions": list(actions)}}


PLAN = {
    "resource_changes": [
        change("aws_ecs_service.current", "update"),
        change("aws_s3_bucket.models", "create"),
        change("aws_lb.main", "delete", "create"),
        change("aws_sns_topic.old", "delete"),
        change("aws_kms_key.main", "no-op"),
        change("data.aws_region.current", "read"),
    ]
}


def test_replacements_come_first_then_destroys_updates_creates() -> None:
    found = plan_summary.changes(PLAN)
    assert [(c.kind, c.address) for c in found] == [
        ("replace", "aws_lb.main"),
        ("delete", "aws_sns_topic.old"),
        ("update", "aws_ecs_service.current"),
        ("create", "aws_s3_bucket.models"),
    ]
    assert plan_summary.counts(found) == {"add": 2, "change": 1, "destroy": 2}


def test_markdown_warns_about_replacements(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(PLAN))
    result = CliRunner().invoke(plan_summary.plan_summary, [str(path), "--env", "prod"])
    assert result.exit_code == 0
    assert result.output.startswith("⚠️ **prod** destroys or replaces 2 resource(s).")
    assert "- 🔁 replace `aws_lb.main`" in result.output
    counts = CliRunner().invoke(plan_summary.plan_summary, [str(path), "--env", "p", "--counts"])
    assert json.loads(counts.output) == {"add": 2, "change": 1, "destroy": 2}


def test_not_a_plan_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("[1]")
    result = CliRunner().invoke(plan_summary.plan_summary, [str(path), "--env", "prod"])
    assert result.exit_code == 2
    assert "not a terraform JSON plan" in result.output
