"""Check Terraform text against the AWS provider's own schema, without a terraform binary.

The text is parsed by HashiCorp's HCL parser (pygohcl); every `resource` and `data` block is
walked against the vendored schema (`tests/data/aws-provider-schema-6.47.0.json.gz`): the
type exists, every attribute and nested block is known, required ones are present, blocks
nested `single` or with `max_items` are not repeated beyond it, computed-only attributes are
not set, deprecated arguments are not used. Terraform's own meta-arguments are allowed.

pygohcl renders a nested block and an object-valued attribute alike (a dict, or a list of
dicts when repeated), so the schema decides which one a name is.

    schema = ProviderSchema.load(Path("tests/data/aws-provider-schema-6.47.0.json.gz"))
    problems = check_text(text, schema, file="network.tf")

Two whole-module checks complete it: `duplicate_addresses` (an address declared twice across
a root module's files) and `dangling_references` (a reference to nothing the module
declares), the mistakes `terraform validate` would catch first.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygohcl

from compiler.terraform.hcl import Attribute, Block

RESOURCE_META = frozenset(
    {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"}
)
DATA_META = frozenset({"count", "for_each", "provider", "depends_on", "lifecycle"})
LIFECYCLE_KEYS = frozenset(
    {
        "create_before_destroy",
        "prevent_destroy",
        "ignore_changes",
        "replace_triggered_by",
        "precondition",
        "postcondition",
    }
)
# Terraform's own top-level blocks; only resource and data blocks belong to the provider.
TOP_LEVEL = frozenset(
    {
        "terraform",
        "provider",
        "locals",
        "variable",
        "output",
        "module",
        "moved",
        "import",
        "removed",
        "check",
        "resource",
        "data",
        "ephemeral",
    }
)


SCHEMA_PATH = Path(__file__).resolve().parents[2] / "tests/data/aws-provider-schema-6.47.0.json.gz"

# Resources of Terraform's built-in provider (terraform.io/builtin/terraform).
BUILTIN_RESOURCES: dict[str, Any] = {
    "terraform_data": {
        "attributes": {
            "input": {"type": "dynamic", "optional": True},
            "triggers_replace": {"type": "dynamic", "optional": True},
            "output": {"type": "dynamic", "computed": True},
            "id": {"type": "string", "computed": True},
        },
        "blocks": {},
    }
}


@dataclass(frozen=True, order=True)
class SchemaProblem:
    file: str
    address: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.address}.{self.path}" if self.path else self.address
        return f"{self.file}: {where}: {self.message}"


@dataclass(frozen=True)
class ProviderSchema:
    version: str
    resources: Mapping[str, Any]
    data_sources: Mapping[str, Any]

    @classmethod
    def load(cls, path: Path) -> ProviderSchema:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        doc = json.loads(raw)
        return cls(doc["provider_version"], doc["resources"], doc["data_sources"])


def check_text(text: str, schema: ProviderSchema, file: str = "<text>") -> list[SchemaProblem]:
    """Every schema problem in one file's text (a parse error is one problem)."""
    try:
        doc = pygohcl.loads(text)
    except (pygohcl.HCLParseError, pygohcl.HCLInternalError) as exc:
        return [SchemaProblem(file, "", "", f"does not parse: {exc}")]
    return check_document(doc, schema, file)


def check_files(paths: Iterable[Path], schema: ProviderSchema) -> list[SchemaProblem]:
    problems: list[SchemaProblem] = []
    for path in sorted(paths):
        problems.extend(check_text(path.read_text(encoding="utf-8"), schema, str(path)))
    return problems


def check_document(
    doc: Mapping[str, Any], schema: ProviderSchema, file: str
) -> list[SchemaProblem]:
    problems: list[SchemaProblem] = []
    for kind in doc:
        if kind not in TOP_LEVEL:
            problems.append(SchemaProblem(file, kind, "", "unknown top-level block"))
    for kind, types, meta in (
        ("resource", {**BUILTIN_RESOURCES, **schema.resources}, RESOURCE_META),
        ("data", schema.data_sources, DATA_META),
    ):
        for type_name, instances in _as_mapping(doc.get(kind, {})).items():
            for name, bodies in _as_mapping(instances).items():
                address = f"{type_name}.{name}"
                address = address if kind == "resource" else f"data.{address}"
                if type_name not in types:
                    problems.append(SchemaProblem(file, address, "", f"unknown {kind} type"))
                    continue
                for body in _instances(bodies):
                    found = _check_body(body, types[type_name], meta, "")
                    problems.extend(SchemaProblem(file, address, p, m) for p, m in found)
    return sorted(problems)


def _as_mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, list):  # the same label pair twice is a duplicate; keep both
        merged: dict[str, Any] = {}
        for entry in value:
            for key, body in entry.items():
                merged.setdefault(key, []).extend(_instances(body))
        return merged
    return value if isinstance(value, Mapping) else {}


def _instances(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, Mapping)]
    return [value] if isinstance(value, Mapping) else []


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_body(
    body: Mapping[str, Any], schema: Mapping[str, Any], meta: frozenset[str], path: str
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    attributes = schema.get("attributes", {})
    blocks = schema.get("blocks", {})
    dynamic = _as_mapping(body.get("dynamic", {}))
    for name, value in body.items():
        where = _join(path, name)
        if name == "dynamic":
            problems.extend(_check_dynamic(dynamic, blocks, path))
        elif name in meta:
            if name == "lifecycle":
                problems.extend(_check_lifecycle(value, where))
        elif name in attributes:
            problems.extend(_check_attribute(value, attributes[name], where))
        elif name in blocks:
            problems.extend(_check_block(_instances(value), blocks[name], where, value))
        else:
            problems.append((where, "unknown attribute or block"))
    for name, spec in attributes.items():
        if spec.get("required") and name not in body:
            problems.append((_join(path, name), "required attribute missing"))
    for name, spec in blocks.items():
        if (spec.get("min_items") or 0) > 0 and name not in body and name not in dynamic:
            problems.append((_join(path, name), "required block missing"))
    return problems


def _check_attribute(value: Any, spec: Mapping[str, Any], where: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if spec.get("computed") and not spec.get("optional") and not spec.get("required"):
        problems.append((where, "computed-only attribute cannot be set"))
    if spec.get("deprecated"):
        problems.append((where, "deprecated argument"))
    kind = spec.get("type")
    primitive = isinstance(kind, str) and kind in {"string", "number", "bool"}
    if primitive and isinstance(value, (list, dict)):
        problems.append((where, f"expects a {kind}, got a {type(value).__name__}"))
    if isinstance(kind, list) and kind[0] in {"list", "set"} and isinstance(value, dict):
        # A collection of objects may be written as blocks ("attributes as blocks", e.g.
        # a security group's ingress); one such block parses as a single object.
        element = kind[1] if len(kind) > 1 else None
        if not (isinstance(element, list) and element[0] == "object"):
            problems.append((where, f"expects a {kind[0]}, got an object"))
    if isinstance(kind, list) and kind[0] in {"map", "object"} and isinstance(value, list):
        problems.append((where, f"expects a {kind[0]}, got a list"))
    return problems


def _check_block(
    instances: list[Mapping[str, Any]], spec: Mapping[str, Any], where: str, raw: Any
) -> list[tuple[str, str]]:
    if not instances:
        return [(where, "is a block, written as an attribute")]
    problems: list[tuple[str, str]] = []
    limit = 1 if spec.get("nesting") == "single" else spec.get("max_items")
    if limit is not None and len(instances) > limit:
        problems.append((where, f"at most {limit} block(s) allowed, found {len(instances)}"))
    if spec.get("opaque"):
        return problems
    if spec.get("nesting") == "map":
        instances = [b for inst in instances for b in _instances(list(inst.values()))]
    for instance in instances:
        problems.extend(_check_body(instance, spec, frozenset(), where))
    return problems


def _check_dynamic(
    dynamic: Mapping[str, Any], blocks: Mapping[str, Any], path: str
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for name, bodies in dynamic.items():
        where = _join(path, f"dynamic.{name}")
        if name not in blocks:
            problems.append((where, "dynamic block of an unknown block type"))
            continue
        for body in _instances(bodies):
            if "for_each" not in body:
                problems.append((where, "dynamic block without for_each"))
            for content in _instances(body.get("content", [])):
                problems.extend(_check_body(content, blocks[name], frozenset(), where))
    return problems


def _check_lifecycle(value: Any, where: str) -> list[tuple[str, str]]:
    return [
        (_join(where, key), "unknown lifecycle argument")
        for body in _instances(value)
        for key in body
        if key not in LIFECYCLE_KEYS
    ]


_REFERENCE = re.compile(
    r"(?<![\w.\-/:])(data\.)?((?:aws|terraform)_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)"
    r"|(?<![\w.])(local|var)\.([A-Za-z_][A-Za-z0-9_]*)"
)
# `from = <address>` in moved and removed blocks names what the module no longer declares.
_FORMER_ADDRESS = re.compile(r"\s*from\s*=")


def dangling_references(texts: Mapping[str, str]) -> list[SchemaProblem]:
    """References in one root module (file name -> text) to things it does not declare:
    `aws_x.y`, `data.aws_x.y`, `local.x`, `var.x`. Comment lines, and the former addresses
    of moved and removed blocks, are ignored."""
    declared: set[str] = set()
    for text in texts.values():
        doc = pygohcl.loads(text)
        for type_name, instances in _as_mapping(doc.get("resource", {})).items():
            declared |= {f"{type_name}.{name}" for name in _as_mapping(instances)}
        for type_name, instances in _as_mapping(doc.get("data", {})).items():
            declared |= {f"data.{type_name}.{name}" for name in _as_mapping(instances)}
        for block in _instances(doc.get("locals", [])):
            declared |= {f"local.{name}" for name in block}
        declared |= {f"var.{name}" for name in _as_mapping(doc.get("variable", {}))}
    problems = []
    for file, text in sorted(texts.items()):
        for line in text.splitlines():
            if line.lstrip().startswith("#") or _FORMER_ADDRESS.match(line):
                continue
            for match in _REFERENCE.finditer(line):
                data, type_name, name, kind, local = match.groups()
                found = f"{kind}.{local}" if kind else f"{data or ''}{type_name}.{name}"
                if found not in declared:
                    problems.append(SchemaProblem(file, found, "", "reference to nothing declared"))
    return sorted(set(problems))


def duplicate_addresses(texts: Mapping[str, str]) -> list[SchemaProblem]:
    """Resources, data sources, outputs and variables declared twice in one root module."""
    seen: dict[str, str] = {}
    problems = []
    for file, text in sorted(texts.items()):
        doc = pygohcl.loads(text)
        addresses: list[str] = []
        for kind, prefix in (("resource", ""), ("data", "data.")):
            for type_name, instances in _as_mapping(doc.get(kind, {})).items():
                for name, bodies in _as_mapping(instances).items():
                    addresses += [f"{prefix}{type_name}.{name}"] * len(_instances(bodies))
        for kind in ("output", "variable"):
            addresses += [f"{kind}.{name}" for name in _as_mapping(doc.get(kind, {}))]
        for address in addresses:
            if address in seen:
                problems.append(
                    SchemaProblem(file, address, "", f"declared again (first in {seen[address]})")
                )
            seen[address] = file
    return sorted(problems)


def check_blocks(blocks: Iterable[Block], schema: ProviderSchema) -> list[SchemaProblem]:
    """Attribute-versus-block syntax of emitter data (`compiler.terraform.hcl.Block`s), the
    one distinction parsed text cannot show: `tags { }` for an attribute, or `x = {}` for
    a nested block. Collections of objects may be written either way."""
    types = {"resource": {**BUILTIN_RESOURCES, **schema.resources}, "data": schema.data_sources}
    problems: list[SchemaProblem] = []

    def walk(block: Block, spec: Mapping[str, Any], address: str, path: str) -> None:
        attributes, nested = spec.get("attributes", {}), spec.get("blocks", {})
        for item in block.body:
            if not isinstance(item, (Attribute, Block)):
                continue  # comments
            where = _join(path, item.name if isinstance(item, Attribute) else item.type)
            if isinstance(item, Attribute) and item.name in nested:
                problems.append(
                    SchemaProblem("", address, where, "is a block, written as an attribute")
                )
            elif isinstance(item, Block) and item.type in attributes:
                kind = attributes[item.type].get("type")
                objects = (
                    isinstance(kind, list)
                    and isinstance(kind[-1], list)
                    and kind[-1][0] == "object"
                )
                if not objects:
                    problems.append(
                        SchemaProblem("", address, where, "is an attribute, written as a block")
                    )
            elif (
                isinstance(item, Block)
                and item.type in nested
                and not nested[item.type].get("opaque")
            ):
                walk(item, nested[item.type], address, where)

    for block in blocks:
        if (
            isinstance(block, Block)
            and block.type in types
            and block.labels[0] in types[block.type]
        ):
            walk(block, types[block.type][block.labels[0]], block.address, "")
    return sorted(problems)


def check_root(directory: Path, schema: ProviderSchema) -> list[SchemaProblem]:
    """Every problem of one root module (the `.tf` files of one directory)."""
    paths = sorted(directory.glob("*.tf"))
    problems = check_files(paths, schema)
    if any(p.message.startswith("does not parse") for p in problems):
        return problems
    texts = {str(path): path.read_text(encoding="utf-8") for path in paths}
    return sorted(problems + duplicate_addresses(texts) + dangling_references(texts))


def main(argv: list[str] | None = None) -> int:
    """`python -m compiler.terraform.schema_check DIR...`: check every root module under
    the directories; exit 1 when anything is wrong."""
    args = sys.argv[1:] if argv is None else argv
    schema = ProviderSchema.load(SCHEMA_PATH)
    roots = sorted({p.parent for arg in args for p in Path(arg).rglob("*.tf")})
    problems = [p for root in roots for p in check_root(root, schema)]
    for problem in problems:
        print(problem)
    print(
        f"{len(roots)} root module(s), {len(problems)} problem(s) (aws provider {schema.version})"
    )
    return 1 if problems or not roots else 0


if __name__ == "__main__":
    raise SystemExit(main())
