"""Read YAML safely while remembering where every value came from.

PyYAML's safe loader still accepts duplicate keys silently and expands aliases without
limit, and it forgets positions once objects are built. We compose the node tree (which
never runs code), then build plain data ourselves: duplicate keys and aliases are errors,
and every path maps to the line and column a user would look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Problem, SpecError

Path = tuple[str | int, ...]
Position = tuple[int, int]

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAX_NODES = 50_000


@dataclass
class Located:
    """Plain data from one YAML document plus the position of every path in it."""

    file: str
    data: Any
    positions: dict[Path, Position] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    """Recoverable problems (duplicate keys, odd values), reported with validation's."""

    def position(self, path: Path) -> Position:
        """The position of `path`, or of its nearest ancestor that the file has."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.positions:
                return self.positions[path[:end]]
        return (1, 1)


def load_yaml(raw: bytes, file: str) -> Located:
    """Parse one YAML document into `Located`, raising SpecError for any problem."""
    text = _decode(raw, file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"invalid YAML: {exc.problem or exc.context}"
        raise SpecError([Problem(file, line, col, "", message)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(file, 1, 1, "", f"invalid YAML: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(file, 1, 1, "", "the file is empty")])
    builder = _Builder(file)
    data = builder.build(node, ())
    return Located(file, data, builder.positions, builder.problems)


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError([Problem(file, line, col, "", "the file is not UTF-8 text")]) from None


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[Path, Position] = {}
        self.problems: list[Problem] = []
        self._seen: set[int] = set()
        self._alias_reported = False
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if id(node) in self._seen:
            if not self._alias_reported:  # one report is enough; a bomb has thousands
                self._alias_reported = True
                self._problem(node, path, "YAML anchors and aliases are not allowed in specs")
            return None
        self._seen.add(id(node))
        if len(self._seen) > _MAX_NODES:
            raise SpecError([self._at(node, path, "the document is too large")])
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)  # a scalar, or a collection with a foreign tag

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                self._problem(key_node, path, f"keys must be strings, not {key!r}")
                continue
            if key == "<<":
                self._problem(key_node, path, "YAML merge keys are not allowed; use environments")
                continue
            child = (*path, key)
            if key in result:
                first = self.positions[child][0]
                self._problem(key_node, child, f"duplicate key (first set on line {first})")
                continue
            self.positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in _SCALAR_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            return self._problem(node, path, f"unsupported tag {tag}; use plain YAML values")
        return self._constructor.construct_object(node)

    def _problem(self, node: yaml.Node, path: Path, message: str) -> None:
        self.problems.append(self._at(node, path, message))
        return None

    def _at(self, node: yaml.Node, path: Path, message: str) -> Problem:
        mark = node.start_mark
        return Problem(self.file, mark.line + 1, mark.column + 1, dotted(path), message)


def dotted(path: Path) -> str:
    """`('scaling', 'min')` -> `scaling.min`; list indices as `variants[1]`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
