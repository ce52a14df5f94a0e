"""compile writes atomically, check catches every kind of drift, failures touch nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler import compile as compiler
from compiler.artifacts import Artifact
from compiler.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "spec", tmp_path / "spec")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "spec" not in p.relative_to(root).parts[:1]
    }


def test_compile_then_check_is_fresh(repo: Path) -> None:
    assert run("compile")[0] == 0
    code, out = run("compile", "--check")
    assert code == 0, out


def test_compile_twice_gives_identical_bytes(repo: Path) -> None:
    run("compile")
    first = snapshot(repo)
    run("compile")
    assert snapshot(repo) == first


def test_check_reports_hand_edit_missing_and_extra(repo: Path) -> None:
    run("compile")
    manifest = repo / "generated" / "assistant" / "manifest.json"
    files = json.loads(manifest.read_text())["files"]
    edited, removed = sorted(files)[0], sorted(files)[-1]
    (repo / edited).write_text((repo / edited).read_text() + "# tweak\n")
    (repo / removed).unlink()
    (repo / "generated" / "assistant" / "notes.txt").write_text("mine")
    code, out = run("compile", "--check")
    assert code == 1
    assert f"{edited}: hand-edited" in out
    assert f"{removed}: missing" in out
    assert "generated/assistant/notes.txt: extra" in out


def test_check_reports_stale_after_spec_change(repo: Path) -> None:
    run("compile")
    spec = repo / "spec" / "assistant.yaml"
    spec.write_text(spec.read_text().replace("max: 4", "max: 5"))
    code, out = run("compile", "--check")
    assert code == 1 and "stale" in out and "hand-edited" not in out


def test_invalid_spec_writes_nothing(repo: Path) -> None:
    run("compile")
    before = snapshot(repo)
    spec = repo / "spec" / "assistant.yaml"
    spec.write_text(spec.read_text().replace("region: eu-west-1", "region: mars-1"))
    code, out = run("compile")
    assert code == 2 and "nothing was written" in out
    assert snapshot(repo) == before


def test_failing_emitter_leaves_generated_untouched(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("compile")
    before = snapshot(repo)

    def broken(envs: tuple) -> list[Artifact]:
        raise RuntimeError("emitter bug")

    monkeypatch.setattr(compiler, "EMITTERS", (*compiler.EMITTERS, broken))
    with pytest.raises(RuntimeError):
        CliRunner().invoke(cli, ["compile"], catch_exceptions=False)
    assert snapshot(repo) == before


def test_removed_spec_removes_its_output(repo: Path) -> None:
    run("compile")
    (repo / "spec" / "clinical-notes.yaml").unlink()
    assert run("compile", "--check")[0] == 1
    assert run("compile")[0] == 0
    assert not (repo / "generated" / "clinical-notes").exists()


def test_emitter_paths_are_confined() -> None:
    with pytest.raises(ValueError, match="outside its deployment"):
        compiler._check_paths("assistant", [Artifact("generated/other/x.tf", "")])
