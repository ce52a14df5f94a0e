"""This repository's own hand-written CI workflow keeps the project's security rules."""

from __future__ import annotations

import re

import yaml

from compiler.workflows import actions

from .helpers import ROOT

CI = ROOT / ".github" / "workflows" / "ci.yml"


def test_runs_what_ci_run_runs() -> None:
    data = yaml.safe_load(CI.read_text())
    runs = [step.get("run") for job in data["jobs"].values() for step in job["steps"]]
    assert "bash .ci/run" in runs
    assert (ROOT / ".ci" / "run").is_file()


def test_least_privilege_and_timeouts() -> None:
    data = yaml.safe_load(CI.read_text())
    assert data["permissions"] == {}
    for job in data["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
        assert job["timeout-minutes"] > 0
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_pins_match_the_table_with_their_tag_comment() -> None:
    lines = [line for line in CI.read_text().splitlines() if "uses:" in line]
    assert lines
    for line in lines:
        match = re.fullmatch(r"\s*(?:- )?uses: (\S+)  # (\S+)", line)
        assert match, line
        assert actions.tag_for(match[1]) == match[2]
