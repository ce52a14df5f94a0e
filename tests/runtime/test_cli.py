from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from runtime.cli import serve


def test_serve_documents_its_options() -> None:
    result = CliRunner().invoke(serve, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--api-key", "--api-keys-file", "--no-auth"):
        assert option in result.output


def test_serve_refuses_to_run_without_keys(tmp_path: Path) -> None:
    result = CliRunner().invoke(serve, [str(tmp_path)], env={"SERVESPEC_API_KEYS": ""})
    assert result.exit_code == 2
    assert "no API keys" in result.output
