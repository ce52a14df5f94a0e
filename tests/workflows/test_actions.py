"""The pinned-actions table: well-formed, and (where a mirror is at hand) true."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from compiler.workflows import actions

# Directory of bare mirrors named <owner>+<repo>/repo (as the search tooling fetches them).
MIRRORS = os.environ.get("SERVESPEC_ACTION_MIRRORS", "")


@pytest.mark.parametrize("action", actions.ALL, ids=lambda a: a.repo)
def test_pins_are_full_shas_of_semver_tags(action: actions.Action) -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", action.sha)
    assert re.fullmatch(r"v\d+\.\d+\.\d+", action.tag)
    assert action.ref == f"{action.repo}@{action.sha}"


@pytest.mark.parametrize("action", actions.ALL, ids=lambda a: a.repo)
def test_docstring_table_agrees(action: actions.Action) -> None:
    doc = actions.__doc__ or ""
    owner_repo = "/".join(action.repo.split("/")[:2])
    row = next(line for line in doc.splitlines() if line.startswith(f"| {owner_repo} "))
    assert f"| {action.tag} " in row and action.sha in row


def test_tag_for_known_and_unknown() -> None:
    assert actions.tag_for(actions.CHECKOUT.ref) == actions.CHECKOUT.tag
    with pytest.raises(ValueError, match="not a pinned action"):
        actions.tag_for("actions/checkout@v4")
    with pytest.raises(ValueError, match="not a pinned action"):
        actions.tag_for("actions/checkout@" + "0" * 40)


@pytest.mark.parametrize("action", actions.ALL, ids=lambda a: a.repo)
def test_sha_is_the_tag_in_the_mirror(action: actions.Action) -> None:
    """Re-verify against a local mirror of the action's repository when one exists."""
    owner, repo = action.repo.split("/")[:2]
    git_dir = Path(MIRRORS) / f"{owner}+{repo}" / "repo"
    if not MIRRORS or not git_dir.is_dir():
        pytest.skip(f"no mirror of {owner}/{repo} on this machine")
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), "rev-parse", f"refs/tags/{action.tag}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == action.sha
