"""The Terraform emitter on the example specs: goldens and the invariants every output keeps."""

from __future__ import annotations

import ast
import datetime as dt
import difflib
from pathlib import Path

import pygohcl
import pytest

from compiler.artifacts import Artifact
from compiler.spec import ResolvedSpec
from compiler.spec.model import Waiver
from compiler.terraform import bootstrap, emit
from compiler.terraform.schema_check import (
    check_blocks,
    check_text,
    dangling_references,
    duplicate_addresses,
)
from compiler.terraform.stack import FILES

from .support import (
    EXAMPLES,
    REGEN_COMMAND,
    ROOT,
    artifacts,
    environments,
    formatter_missing,
    golden_path,
    schema,
    terraform_fmt,
    write_tree,
)

ALL = [(example, a) for example in EXAMPLES for a in artifacts(example)]


def _id(case: tuple[str, Artifact]) -> str:
    return case[1].path.removeprefix("generated/")


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_golden(case: tuple[str, Artifact], regen_golden: bool) -> None:
    _, artifact = case
    path = golden_path(artifact)
    if regen_golden:
        pytest.skip(f"generated/ is rewritten by `{REGEN_COMMAND}`, with its manifest")
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    if artifact.content != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            artifact.content.splitlines(keepends=True),
            fromfile=f"committed/{path.name}",
            tofile=f"emitted/{path.name}",
        )
        pytest.fail(f"golden differs; if intended, run `{REGEN_COMMAND}`\n" + "".join(diff))


@pytest.mark.parametrize("example", EXAMPLES)
def test_no_golden_is_left_over(example: str) -> None:
    root = golden_path(artifacts(example)[0]).parents[1]
    if not root.is_dir():
        pytest.skip("no goldens yet")
    emitted = {golden_path(a) for a in artifacts(example)}
    assert sorted(p for p in root.rglob("*.tf") if p not in emitted) == []


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_every_file_parses_and_is_schema_clean(case: tuple[str, Artifact]) -> None:
    _, artifact = case
    pygohcl.loads(artifact.content)
    assert [str(p) for p in check_text(artifact.content, schema(), artifact.path)] == []


def _roots(example: str) -> dict[str, dict[str, str]]:
    roots: dict[str, dict[str, str]] = {}
    for artifact in artifacts(example):
        directory, name = artifact.path.rsplit("/", 1)
        roots.setdefault(directory, {})[name] = artifact.content
    return roots


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_root_declares_each_address_once_and_references_only_those(example: str) -> None:
    for directory, texts in _roots(example).items():
        problems = duplicate_addresses(texts) + dangling_references(texts)
        assert [f"{directory}/{p}" for p in problems] == []


@pytest.mark.parametrize("example", EXAMPLES)
def test_blocks_and_attributes_are_written_as_the_schema_declares_them(example: str) -> None:
    envs = environments(example)
    views = [(f"{spec.environment}/{name}", view(spec)) for spec in envs for name, view in FILES]
    views += [(f"bootstrap/{name}", blocks) for name, blocks in bootstrap.files(envs).items()]
    problems = [f"{where}: {p}" for where, blocks in views for p in check_blocks(blocks, schema())]
    assert problems == []


@pytest.mark.skipif(formatter_missing() is not None, reason=str(formatter_missing()))
def test_every_file_is_terraform_fmt_clean(tmp_path: Path) -> None:
    paths = write_tree(tmp_path, [a for _, a in ALL])
    formatted = terraform_fmt(paths)
    unformatted = [str(p) for p in paths if formatted[str(p)] != p.read_text()]
    assert unformatted == []


@pytest.mark.parametrize("example", EXAMPLES)
def test_compiling_twice_gives_identical_bytes(example: str) -> None:
    assert emit(environments(example)) == emit(environments(example))


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_every_file_has_the_provenance_header(case: tuple[str, Artifact]) -> None:
    example, artifact = case
    spec = environments(example)[0]
    head = artifact.content.splitlines()[:3]
    assert "do not edit" in head[0]
    assert head[1] == f"# spec: {spec.source_path}"
    assert head[2] == f"# spec sha256: {spec.source_sha256}"


def _replace(spec: ResolvedSpec, **sections: object) -> ResolvedSpec:
    return spec.model_copy(update=sections)


def _changed_lines(before: list[Artifact], after: list[Artifact]) -> list[str]:
    old = {a.path: a.content for a in before}
    changed = []
    for artifact in after:
        diff = difflib.unified_diff(
            old[artifact.path].splitlines(), artifact.content.splitlines(), n=0, lineterm=""
        )
        changed += [
            line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
    assert {a.path for a in before} == {a.path for a in after}
    return changed


def test_raising_scaling_max_changes_only_that_number() -> None:
    staging = environments("assistant")[0]
    raised = _replace(staging, scaling=staging.scaling.model_copy(update={"max": 3}))
    changed = _changed_lines(emit((staging,)), emit((raised,)))
    assert changed == ["-  max_capacity       = 2", "+  max_capacity       = 3"]


def test_changing_variant_weights_changes_only_those_weights() -> None:
    staging = environments("clinical-notes")[0]
    current, candidate = staging.variants
    shifted = _replace(
        staging,
        variants=[
            current.model_copy(update={"weight": 75}),
            candidate.model_copy(update={"weight": 25}),
        ],
    )
    changed = _changed_lines(emit((staging,)), emit((shifted,)))
    assert sorted(line.split("=")[0][0] + line.split("=")[1].strip() for line in changed) == [
        "+25",
        "+75",
        "-10",
        "-90",
    ]


def test_waivers_become_inline_skips_on_the_named_resource() -> None:
    spec = environments("assistant")[0]
    waiver = Waiver(
        check="CKV_AWS_150",
        resource="aws_lb.main",
        owner="ml-platform",
        reason="staging load balancer is rebuilt nightly",
        expires=dt.date(2099, 1, 1),
    )
    waived = _replace(spec, security=spec.security.model_copy(update={"waivers": [waiver]}))
    text = {a.path.rsplit("/", 1)[1]: a.content for a in emit((waived,))}["load_balancer.tf"]
    expected = (
        "#checkov:skip=CKV_AWS_150:staging load balancer is rebuilt nightly "
        "(owner ml-platform, expires 2099-01-01)"
    )
    block = text[text.index('resource "aws_lb" "main"') :].split("\n}\n", 1)[0]
    assert expected in block


def test_the_names_other_views_reference_exist() -> None:
    spec = environments("assistant")[1]
    found = emit((spec,))
    text = "".join(a.content for a in found if "/prod/terraform/" in a.path)
    locals_tf = next(a.content for a in found if a.path.endswith("/locals.tf"))
    assert pygohcl.loads(locals_tf)["locals"]["name"] == "assistant-prod"
    for needle in (
        'resource "aws_kms_key" "main"',
        'resource "aws_kms_alias" "main"',
        'bucket        = "${local.name}-models-${local.account_id}"',
        'resource "aws_s3_bucket" "logs"',
        'resource "aws_ecr_repository" "runtime"',
        'resource "aws_ecs_cluster" "main"',
        'resource "aws_sns_topic" "alarms"',
        'resource "aws_cloudwatch_log_group" "runtime"',
        'data "aws_caller_identity" "current"',
        'data "aws_region" "current"',
        'data "aws_partition" "current"',
        'alias               = "secondary"',
        'resource "terraform_data" "servespec_policy"',
    ):
        assert needle in text, needle


def test_backend_and_bootstrap_agree_on_the_state_bucket() -> None:
    found = {a.path: a.content for a in artifacts("assistant")}
    backend = pygohcl.loads(found["generated/assistant/prod/terraform/versions.tf"])
    s3 = backend["terraform"]["backend"]["s3"]
    bootstrap = pygohcl.loads(found["generated/assistant/bootstrap/providers.tf"])
    assert s3["bucket"] == bootstrap["locals"]["state_bucket"]
    assert s3["key"] == "assistant/prod/terraform.tfstate"
    assert s3["use_lockfile"] is True and s3["encrypt"] is True
    state = found["generated/assistant/bootstrap/state.tf"]
    assert f'name          = "{s3["kms_key_id"]}"' in state


def test_github_trust_is_pinned_to_the_repository() -> None:
    text = {a.path: a.content for a in artifacts("assistant")}[
        "generated/assistant/bootstrap/github_oidc.tf"
    ]
    assert '"repo:acme/llm-platform:pull_request"' in text
    assert '"repo:acme/llm-platform:ref:refs/heads/main"' in text
    assert '"repo:acme/llm-platform:environment:prod"' in text
    assert "repo:acme/llm-platform:*" not in text


def test_tasks_read_their_settings_from_the_spec() -> None:
    prod = environments("clinical-notes")[1]
    compute = {a.path.rsplit("/", 1)[1]: a.content for a in emit((prod,))}["compute.tf"]
    assert (
        '"s3://${local.name}-models-${local.account_id}/models/clinical-notes-llm/2026-11-01/"'
        in compute
    )
    assert (
        '"s3://${local.name}-models-${local.account_id}/models/clinical-notes-llm/2026-11-20/"'
        in compute
    )
    assert "stopTimeout            = 60" in compute
    assert "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id" in compute
    assert 'http_tokens                 = "required"' in compute


def test_an_existing_vpc_is_used_instead_of_creating_one() -> None:
    spec = environments("assistant")[0]
    network = spec.security.network.model_copy(
        update={
            "vpc_id": "vpc-0123456789abcdef0",
            "private_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "public_subnet_ids": ["subnet-0123456789abcdef2", "subnet-0123456789abcdef3"],
        }
    )
    spec = _replace(spec, security=spec.security.model_copy(update={"network": network}))
    found = {a.path.rsplit("/", 1)[1]: a.content for a in emit((spec,))}
    assert 'resource "aws_vpc"' not in found["network.tf"]
    assert '"subnet-0123456789abcdef0"' in found["network.tf"]  # the network's locals
    for artifact in emit((spec,)):
        assert [str(p) for p in check_text(artifact.content, schema(), artifact.path)] == []


def _policy_contract_keys() -> list[str]:
    """CONTRACT_KEYS of policies/ssp_lib.py (read as source: it imports checkov)."""
    tree = ast.parse((ROOT / "policies" / "ssp_lib.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CONTRACT_KEYS":
            return list(ast.literal_eval(node.value))
    raise AssertionError("policies/ssp_lib.py has no CONTRACT_KEYS")


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_root_carries_the_policy_contract_the_gate_reads(example: str) -> None:
    for directory, texts in _roots(example).items():
        contracts = [
            pygohcl.loads(text)["resource"]["terraform_data"]["servespec_policy"]["input"]
            for text in texts.values()
            if 'resource "terraform_data" "servespec_policy"' in text
        ]
        assert len(contracts) == 1, directory
        assert sorted(contracts[0]) == sorted(_policy_contract_keys()), directory
