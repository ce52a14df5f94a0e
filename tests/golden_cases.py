"""Golden cases: `tests/cases/<case>/spec.yaml` (+ `case.yaml`) → `tests/cases/<case>/expected/`.

Regenerate every case after an intended change to the compiled output:

    .venv/bin/pytest tests/test_cases.py --regen-golden

What a case keeps (the full tree of one case is ~50 files, too much to review):
- `expected/files.txt`: every compiled file with the first 16 hex digits of its sha256, so a
  diff shows which files a change touched, added or removed;
- `expected/<path>`: the full text of the files `case.yaml` lists under `show` (what the
  case is about), so the diff of those is readable;
- `expected/gate.txt`: what the gate fails (check, resource, file) — `passed` when nothing;
- `expected/error.txt` instead of all of these when the spec must be refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from compiler import compile as compiler
from compiler.artifacts import Artifact
from compiler.spec import SpecError, load_spec

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases"
NAMES = tuple(sorted(p.name for p in CASES.iterdir() if (p / "spec.yaml").is_file()))


@dataclass(frozen=True)
class Compiled:
    artifacts: tuple[Artifact, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Case:
    name: str
    specs: tuple[str, ...]
    show: tuple[str, ...]

    @property
    def expected(self) -> Path:
        return CASES / self.name / "expected"


def case(name: str) -> Case:
    meta = yaml.safe_load((CASES / name / "case.yaml").read_text(encoding="utf-8")) or {}
    return Case(name, tuple(meta.get("specs", ["spec.yaml"])), tuple(meta.get("show", [])))


@cache
def compiled(name: str) -> Compiled:
    """Every file of every spec of the case, or the refusal as validate prints it."""
    found: list[Artifact] = []
    for spec in case(name).specs:
        try:
            loaded = load_spec(CASES / name / spec, root=ROOT)
        except SpecError as exc:
            return Compiled(error=exc.render() + "\n")
        found += compiler.render(loaded)
    return Compiled(artifacts=tuple(sorted(found)))


def deployment_path(artifact: Artifact) -> str:
    """`generated/<name>/prod/terraform/kms.tf` → `prod/terraform/kms.tf` (workflows: as is)."""
    parts = artifact.path.split("/")
    return "/".join(parts[2:]) if parts[0] == "generated" else artifact.path


def digest_lines(artifacts: tuple[Artifact, ...]) -> str:
    return "".join(f"{compiler.sha256_text(a.content)[:16]}  {a.path}\n" for a in artifacts)


def all_terraform() -> Iterator[tuple[str, str]]:
    """(path, text) of every `.tf` file of the examples and of every case that compiles."""
    for spec in sorted((ROOT / "spec").glob("*.yaml")):
        for artifact in compiler.render(load_spec(spec, root=ROOT)):
            if artifact.path.endswith(".tf"):
                yield artifact.path, artifact.content
    for name in NAMES:
        for artifact in compiled(name).artifacts:
            if artifact.path.endswith(".tf"):
                yield f"tests/cases/{name}/{artifact.path}", artifact.content


_LOCAL_NAME = re.compile(r'^locals \{\n(?:.*\n)*?  name\s+= "([^"]+)"', re.M)
_RESOURCE = re.compile(r'^resource "(\w+)" "([\w-]+)" \{\n(.*?)^\}', re.M | re.S)
_NAME = re.compile(r'^  (?:name|name_prefix)\s+= "([^"]+)"', re.M)
_BUCKET = re.compile(r'^  bucket\s+= "([^"]+)"', re.M)
# Names unique only within a parent (a role's inline policies, a cluster's services).
SCOPED = frozenset({"aws_iam_role_policy", "aws_ecs_service", "aws_backup_selection"})
_PROVIDER = re.compile(r"^  provider\s+= (\S+)", re.M)
# The account a root may apply in (providers pin it); "?" when a root names none.
_ACCOUNT = re.compile(r'allowed_account_ids\s*=\s*\["(\d{12})"\]')
# Resources AWS allows once per account (or per account and region).
SINGLETONS = frozenset(
    {
        "aws_iam_openid_connect_provider",
        "aws_config_configuration_recorder",
        "aws_config_delivery_channel",
        "aws_guardduty_detector",
        "aws_ecr_replication_configuration",
        "aws_ecr_registry_scanning_configuration",
    }
)


def account_wide_names(artifacts: tuple[Artifact, ...]) -> dict[tuple[str, str], list[str]]:
    """(account, resource type, name as AWS sees it) → the roots that create it: only roots
    of the same account (their providers' `allowed_account_ids`) can collide."""
    roots: dict[str, list[Artifact]] = {}
    for artifact in artifacts:
        if artifact.path.endswith(".tf"):
            roots.setdefault(artifact.path.rsplit("/", 1)[0], []).append(artifact)
    seen: dict[tuple[str, str], list[str]] = {}
    for root, files in sorted(roots.items()):
        text = "\n".join(a.content for a in files)
        local = _LOCAL_NAME.search(text)
        pinned = _ACCOUNT.search(text)
        account = pinned.group(1) if pinned else "?"
        for kind, label, body in _RESOURCE.findall(text):
            if kind in SCOPED:
                continue
            found = _BUCKET.findall(body) if kind == "aws_s3_bucket" else _NAME.findall(body)
            names = found or ([label] if kind in SINGLETONS else [])
            provider = _PROVIDER.search(body)
            region = provider.group(1) if provider else "aws"
            for name in names:
                if local:
                    name = name.replace("${local.name}", local.group(1))
                where = f"{account} {region}"
                key = (kind, f"{where}: {'(singleton)' if kind in SINGLETONS else name}")
                seen.setdefault(key, []).append(root)
    return seen
