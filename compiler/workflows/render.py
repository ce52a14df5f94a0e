"""The one serializer of workflow data: YAML from a SafeDumper, plus reviewer comments.

Workflows are built as plain dicts and dumped once. YAML comments are not data, so two small,
strict passes over the dumped text add them: the release tag of each pinned action
(`uses: owner/repo@<sha>  # v1.2.3`, refusing unknown pins) and the reason for each granted
permission (refusing unexplained grants). A final check proves the comments changed nothing.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .actions import tag_for

# Long lines are wrapped by PyYAML into folded scalars; keep expressions on one line.
WIDTH = 200

_USES = re.compile(r"^(?P<lead>\s*(?:- )?uses: )(?P<ref>\S+)$")
_PERMISSIONS = re.compile(r"^(?P<indent>\s*)permissions:$")

# Why a job holds each permission, written beside it: a grant nobody can explain gets removed.
WHY: dict[str, str] = {
    "actions: read": "read runs and environments (SARIF upload, deploys in flight, reviewers)",
    "contents: read": "check out the repository",
    "id-token: write": "GitHub OIDC token to assume the AWS role; no static keys",
    "issues: write": "open or update the drift issue",
    "pull-requests: write": "the sticky plan comment",
    "security-events: write": "upload policy findings to code scanning",
}


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings (shell scripts) as literal `|` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent sequences under their key, as GitHub's own examples and actionlint do.
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def annotate_pins(text: str) -> str:
    """Append `# <tag>` to every `uses:` line; raise on a `uses:` that is not pinned."""
    out = []
    for line in text.splitlines():
        match = _USES.match(line)
        if match:
            line = f"{line}  # {tag_for(match['ref'])}"
        elif re.match(r"^\s*(- )?uses:", line):
            raise ValueError(f"unexpected uses: line shape: {line!r}")
        out.append(line)
    return "\n".join(out) + "\n"


def annotate_permissions(text: str) -> str:
    """Append the reason to each line of a `permissions:` block; raise on an unexplained one."""
    out = []
    block_indent: int | None = None
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if block_indent is not None and indent <= block_indent:
            block_indent = None
        if block_indent is not None:
            grant = line.strip()
            if grant not in WHY:
                raise ValueError(f"no reason recorded for permission {grant!r}")
            line = f"{line}  # {WHY[grant]}"
        match = _PERMISSIONS.match(line)
        if match:
            block_indent = len(match["indent"])
        out.append(line)
    return "\n".join(out) + "\n"


def dump_workflow(data: dict[str, Any], header: str) -> str:
    """Serialize one workflow; `header` becomes leading `#` comment lines."""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=WIDTH, allow_unicode=True)
    text = annotate_permissions(annotate_pins(body))
    # The comments must never change what GitHub reads.
    if yaml.safe_load(text) != data:
        raise AssertionError("annotating pins changed the workflow data")
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + text
