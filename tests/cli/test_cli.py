"""The CLI's contract: exit codes, messages without tracebacks, and a fast --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from compiler.cli import cli

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "spec" / "broken"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_validate_examples_ok() -> None:
    code, out, _ = run("validate", str(ROOT / "spec"))
    assert code == 0
    assert "assistant.yaml: ok (staging, prod)" in out


def test_validate_broken_exits_2_with_location() -> None:
    code, _, err = run("validate", str(BROKEN / "unknown_key.yaml"))
    assert code == 2
    assert "unknown_key.yaml:8:3: model.quantisation: unknown field" in err
    assert "Traceback" not in err


def test_validate_missing_file_exits_2() -> None:
    code, _, err = run("validate", "does/not/exist.yaml")
    assert code == 2 and "cannot read" in err


def test_explain_marks_layers() -> None:
    code, out, _ = run("explain", str(ROOT / "spec" / "assistant.yaml"), "--env", "prod")
    assert code == 0
    lines = {line.split(":")[0]: line for line in out.splitlines()}
    assert "environments.prod" in lines["scaling.max"]
    assert "spec (line" in lines["region"]
    assert lines["serving.port"].endswith("# default")


def test_explain_unknown_env_exits_2() -> None:
    code, _, err = run("explain", str(ROOT / "spec" / "assistant.yaml"), "--env", "qa")
    assert code == 2 and "no environment 'qa'" in err


def test_schema_prints_json() -> None:
    code, out, _ = run("schema")
    assert code == 0 and json.loads(out)["$id"].endswith("servespec-v1.json")


def test_init_writes_a_valid_spec_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "spec" / "demo.yaml"
    code, _, _ = run("init", str(target), "--name", "demo", "--repository", "acme/demo")
    assert code == 0 and target.exists()
    assert run("validate", str(target))[0] == 0
    code, _, err = run("init", str(target))
    assert code == 2 and "exists" in err


def test_help_imports_nothing_heavy() -> None:
    probe = (
        "import sys; from compiler.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('boto3', 'onnxruntime', 'torch', 'numpy', 'transformers') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and "servespec" in out
