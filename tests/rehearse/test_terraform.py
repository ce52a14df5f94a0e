"""What the rehearsal reads from the committed Terraform, and how it maps to podman flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.rehearse import container, terraform

STAGING = Path("generated/assistant/staging/terraform")


def test_names_probe_and_grace_come_from_the_generated_terraform() -> None:
    deploy = terraform.read(STAGING, "123456789012", "localhost/x:rehearse")
    assert deploy.secret_name == "assistant-staging/api-keys"
    assert deploy.bucket == "assistant-staging-models-123456789012"
    assert deploy.key_alias == "alias/assistant-staging"
    assert (deploy.health.path, deploy.health.port, deploy.health.matcher) == (
        "/readyz",
        8080,
        "200",
    )
    assert deploy.grace_period_s == 300 and deploy.deregistration_delay_s == 30
    resolved = deploy.resolve(deploy.container, {"aws_secretsmanager_secret.api_keys.arn": "ARN"})
    env = {e["name"]: e["value"] for e in resolved["environment"]}
    assert env["SERVESPEC_ARTIFACT"].startswith("s3://assistant-staging-models-123456789012/")
    assert env["SERVESPEC_API_KEYS_SECRET"] == "assistant-staging/api-keys"
    # The task pulls the stack's repository at the deployed tag (the rehearsal runs its
    # local build of that tag).
    assert (
        resolved["image"]
        == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/assistant-staging:rehearse"
    )
    assert resolved["secrets"][0]["valueFrom"] == "ARN"
    assert resolved["readonlyRootFilesystem"] is True and set(deploy.volumes) == {
        "tmp",
        "model-cache",
    }


def test_an_image_from_another_repository_fails_the_read(tmp_path: Path) -> None:
    """A task definition that pulls anything but the repository the pipeline pushes to
    would never start: the rehearsal refuses it before building anything."""
    for path in STAGING.glob("*.tf"):
        text = path.read_text()
        if path.name == "compute.tf":
            text = text.replace("/${local.name}:${var.image_tag}", "/other:${var.image_tag}")
        (tmp_path / path.name).write_text(text)
    with pytest.raises(terraform.TerraformError, match="not the stack's ECR repository"):
        terraform.read(tmp_path, "123456789012", "localhost/x:rehearse")


def test_every_writable_path_is_a_declared_volume_with_a_mount() -> None:
    """The image declares what the task mounts: else Fargate's bind mount is root-owned."""
    deploy = terraform.read(STAGING, "123456789012", "x")
    mounted = {m["containerPath"] for m in deploy.container["mountPoints"]}
    dockerfile = Path("generated/assistant/image/Dockerfile").read_text()
    assert 'VOLUME ["/tmp", "/var/cache/servespec"]' in dockerfile
    assert mounted == {"/tmp", "/var/cache/servespec"}


def test_mounts_follow_fargate_bind_mount_rules() -> None:
    flags = container._mounts(
        [
            {"sourceVolume": "a", "containerPath": "/data"},
            {"sourceVolume": "b", "containerPath": "/x"},
        ],
        declared={"/data"},
    )
    assert flags == [
        "--mount", "type=volume,destination=/data",
        "--mount", "type=tmpfs,destination=/x,tmpfs-mode=0755",
    ]  # fmt: skip


def test_unknown_container_fields_fail_instead_of_being_dropped() -> None:
    with pytest.raises(container.DefinitionError, match="linuxParameters"):
        container.start({"linuxParameters": {}}, "tag", set(), {}, {})


def test_rehearse_says_when_podman_cannot_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(cli, ["rehearse", "spec/assistant.yaml", "--env", "staging"])
    assert result.exit_code == 2
    assert "cannot run here" in result.output and "passed" not in result.output


def test_only_the_from_lines_change_for_the_local_base() -> None:
    from compiler.rehearse.image import FROM

    original = Path("generated/assistant/image/Dockerfile").read_text()
    swapped = FROM.sub(lambda m: m.group(1) + "localhost/base:k", original)
    changed = [
        (a, b) for a, b in zip(original.splitlines(), swapped.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 2 and all(
        a.startswith("FROM python:3.11-slim@sha256:") for a, _ in changed
    )
    assert [b for _, b in changed] == ["FROM localhost/base:k AS build", "FROM localhost/base:k"]
