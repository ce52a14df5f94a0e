"""Golden error output for broken specs: what a user sees, byte for byte.

Regenerate after an intended change: `.venv/bin/pytest tests/spec --regen-golden`.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from compiler.spec import SpecError, load_spec

from .helpers import ROOT

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_spec_errors(path: Path, regen_golden: bool) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(path, root=ROOT)
    actual = info.value.render() + "\n"
    expected_path = path.with_suffix(".err")
    if regen_golden:
        expected_path.write_text(actual, encoding="utf-8")
    expected = expected_path.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                        str(expected_path), "actual"))  # fmt: skip
    assert actual == expected, diff


def test_every_error_names_file_line_column() -> None:
    for path in BROKEN:
        with pytest.raises(SpecError) as info:
            load_spec(path, root=ROOT)
        for problem in info.value.problems:
            assert problem.file == path.relative_to(ROOT).as_posix()
            assert problem.line >= 1 and problem.column >= 1


def test_python_tags_are_never_executed() -> None:
    marker = Path("/tmp/servespec-pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(SpecError, match=r"unsupported tag !!python/object/apply:os\.system"):
        load_spec(Path(__file__).parent / "broken" / "python_tag.yaml", root=ROOT)
    assert not marker.exists()
