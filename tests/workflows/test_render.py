"""The serializer: one dump, pinned-tag and permission comments, nothing else changed."""

from __future__ import annotations

import pytest
import yaml

from compiler.workflows import actions
from compiler.workflows.render import annotate_permissions, annotate_pins, dump_workflow


def workflow() -> dict[str, object]:
    return {
        "name": "x",
        "on": {"push": {}},
        "permissions": {},
        "jobs": {
            "a": {
                "runs-on": "ubuntu-24.04",
                "permissions": {"contents": "read", "id-token": "write"},
                "steps": [
                    {"uses": actions.CHECKOUT.ref, "with": {"persist-credentials": False}},
                    {"name": "script", "run": "echo one\necho two\n"},
                ],
            }
        },
    }


def test_dump_adds_tags_and_reasons_and_keeps_the_data() -> None:
    text = dump_workflow(workflow(), "line one\nline two")
    assert text.startswith("# line one\n# line two\n")
    assert f"uses: {actions.CHECKOUT.ref}  # {actions.CHECKOUT.tag}\n" in text
    assert "      id-token: write  # GitHub OIDC token" in text
    assert "permissions: {}\n" in text
    assert yaml.safe_load(text) == workflow()


def test_multiline_scripts_are_literal_blocks() -> None:
    text = dump_workflow(workflow(), "h")
    assert "run: |\n          echo one\n          echo two\n" in text


def test_on_key_is_quoted_so_yaml_1_1_readers_keep_it_a_string() -> None:
    assert "\n'on':\n" in dump_workflow(workflow(), "h")


def test_unpinned_or_unknown_uses_is_refused() -> None:
    with pytest.raises(ValueError, match="not a pinned action"):
        annotate_pins("    - uses: actions/checkout@v4\n")
    with pytest.raises(ValueError, match="not a pinned action"):
        annotate_pins("    uses: evil/action@" + "a" * 40 + "\n")


def test_unexplained_permission_is_refused() -> None:
    with pytest.raises(ValueError, match="no reason recorded"):
        annotate_permissions("jobs:\n  a:\n    permissions:\n      packages: write\n")


def test_permission_block_ends_at_dedent() -> None:
    text = "    permissions:\n      contents: read\n    steps: []\n"
    assert annotate_permissions(text) == (
        "    permissions:\n      contents: read  # check out the repository\n    steps: []\n"
    )
