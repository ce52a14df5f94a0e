"""Turn a spec file into validated, per-environment `ResolvedSpec`s.

Pipeline: bytes -> located YAML -> base `Spec` -> for each environment, overlay merged onto
the base (explicitly set values win, lists replace) -> `ResolvedSpec` -> cross-field rules.
Every failure on the way becomes a `Problem` at the line that set the offending value.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import Problem, SpecError
from .model import OVERLAY_KEYS, ResolvedSpec, Spec
from .rules import check_rules
from .yaml_source import Located, Position, dotted, load_yaml
from .yaml_source import Path as DataPath

M = typing.TypeVar("M", bound=BaseModel)

# Regex patterns make poor messages: say what the field wants instead.
_PATTERN_HINTS = {
    "name": "use 2-24 lowercase letters, digits and '-', starting with a letter",
    "repository": "use the GitHub 'org/repo' form",
    "source": "use package://<package>/<file>, s3://<bucket>/<prefix>, or a local path",
    "version": "use letters, digits, '.', '_' and '-' (an S3 prefix)",
    "model_version": "use letters, digits, '.', '_' and '-' (an S3 prefix)",
    "notify": "must be an email address",
    "domain": "must be a lowercase DNS name such as api.example.com",
    "hosted_zone_id": "must be a Route 53 zone id such as Z0123456789ABC",
    "check": "must be a check id such as CKV_AWS_7 or SSP_KMS_001",
    "schedule": "must be an AWS cron expression such as cron(0 3 * * ? *)",
    "vpc_id": "must be a VPC id such as vpc-0123456789abcdef0",
}

_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
}


@dataclass(frozen=True)
class Layered:
    """One resolved environment plus where each of its values came from."""

    spec: ResolvedSpec
    overlay_paths: frozenset[DataPath]
    positions: dict[DataPath, Position]


@dataclass(frozen=True)
class LoadedSpec:
    """A spec file, validated, with every environment resolved."""

    path: str
    sha256: str
    spec: Spec
    layers: dict[str, Layered]

    @property
    def environments(self) -> tuple[ResolvedSpec, ...]:
        return tuple(layer.spec for layer in self.layers.values())

    def resolve(self, environment: str) -> ResolvedSpec:
        if environment not in self.layers:
            known = ", ".join(self.layers)
            raise SpecError(
                [
                    Problem(
                        self.path,
                        1,
                        1,
                        "environments",
                        f"no environment '{environment}' (known: {known})",
                    )
                ]
            )
        return self.layers[environment].spec


def display_path(path: Path, root: Path | None = None) -> str:
    """Path as users and generated headers see it: relative to the root, POSIX style."""
    root = root or Path.cwd()
    try:
        return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def load_spec(path: Path, *, root: Path | None = None, today: dt.date | None = None) -> LoadedSpec:
    """Load and fully validate one spec file; raise SpecError listing every problem."""
    shown = display_path(path, root)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError([Problem(shown, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    located = load_yaml(raw, shown)
    if not isinstance(located.data, dict):
        raise SpecError([*located.problems, Problem(shown, 1, 1, "", "a spec is a mapping")])
    try:
        spec = _validate(Spec, located.data, located)
    except SpecError as exc:
        raise SpecError([*located.problems, *exc.problems]) from None
    if located.problems:
        raise SpecError(located.problems)
    sha = hashlib.sha256(raw).hexdigest()
    problems: list[Problem] = []
    layers: dict[str, Layered] = {}
    for name in spec.environments:
        try:
            layers[name] = _resolve(spec, name, located, sha, today or dt.date.today())
        except SpecError as exc:
            problems.extend(exc.problems)
    problems += _shared(layers, located, "account", lambda s: s.account and s.account.id)
    problems += _shared(layers, located, "domain", lambda s: s.security.tls.domain)
    if problems:
        raise SpecError(problems)
    return LoadedSpec(shown, sha, spec, layers)


_WHERE: dict[str, tuple[tuple[str, ...], str]] = {
    # what -> (field path, why it must differ between environments)
    "account": (("account", "id"), "give each environment its own AWS account"),
    "domain": (
        ("security", "tls", "domain"),
        "give each environment its own host name (DNS records and certificates collide)",
    ),
}


def _shared(
    layers: dict[str, Layered],
    located: Located,
    what: str,
    value: typing.Callable[[ResolvedSpec], object],
) -> list[Problem]:
    """Values two environments must not share: one account each, one host name each."""
    field, why = _WHERE[what]
    owner: dict[object, str] = {}
    problems = []
    for name, layer in layers.items():
        found = value(layer.spec)
        if not found:
            continue
        if found in owner:
            path: DataPath = ("environments", name, *field)
            if path not in located.positions:
                path = field
            message = f"environment '{name}' has the {what} {found} of '{owner[found]}': {why}"
            problems.append(_problem(located, path, message))
        owner.setdefault(found, name)
    return problems


def _resolve(spec: Spec, name: str, located: Located, sha: str, today: dt.date) -> Layered:
    prefix: DataPath = ("environments", name)
    overlay = located.data["environments"][name]
    unknown = [key for key in overlay if key not in OVERLAY_KEYS]
    if unknown:
        raise SpecError([_unknown_key(located, (*prefix, key), OVERLAY_KEYS) for key in unknown])
    base = {key: located.data[key] for key in OVERLAY_KEYS if key in located.data}
    merged = _merge(base, overlay)
    positions = dict(located.positions)
    overlay_paths = frozenset(p[2:] for p in located.positions if p[:2] == prefix and len(p) > 2)
    positions.update(
        {p[2:]: pos for p, pos in located.positions.items() if p[:2] == prefix and len(p) > 2}
    )
    view = Located(located.file, merged, positions)
    document = {
        **merged,
        "metadata": located.data["metadata"],
        "environment": name,
        "environments": tuple(spec.environments),
        "source_path": located.file,
        "source_sha256": sha,
    }
    resolved = _validate(ResolvedSpec, document, view)
    violations = check_rules(resolved, today)
    if violations:
        raise SpecError([_problem(view, path, message) for path, message in violations])
    return Layered(resolved, overlay_paths, positions)


def _merge(base: Any, overlay: Any) -> Any:
    """Overlay wins where it sets a value; mappings merge key by key; lists replace."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return overlay


def _validate(model: type[M], data: dict[str, Any], located: Located) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError([_from_pydantic(error, model, located) for error in exc.errors()]) from None


def _from_pydantic(error: Any, model: type[BaseModel], located: Located) -> Problem:
    path: DataPath = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        return _unknown_key(located, path, _field_names(_model_at(model, path[:-1])))
    message = _MESSAGES.get(error["type"], error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch":
        field = next((part for part in reversed(path) if isinstance(part, str)), "")
        message = _PATTERN_HINTS.get(field, message)
    if error["type"] == "missing":
        return _problem(located, path, message, at=path[:-1])
    return _problem(located, path, message)


def _unknown_key(located: Located, path: DataPath, known: typing.Iterable[str]) -> Problem:
    key = str(path[-1])
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else f" (expected one of: {', '.join(known)})"
    return _problem(located, path, f"unknown field '{key}'{hint}")


def _problem(located: Located, path: DataPath, message: str, at: DataPath | None = None) -> Problem:
    line, column = located.position(path if at is None else at)
    return Problem(located.file, line, column, dotted(path), message)


def _model_at(model: type[BaseModel] | None, path: DataPath) -> type[BaseModel] | None:
    """The spec section class that a data path points into, for 'did you mean'."""
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        model = _model_in(field.annotation) if field else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _field_names(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]
