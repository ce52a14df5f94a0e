"""A tampered or incomplete artifact keeps the server alive but never ready."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.runtime.conftest import running, settings_for


@pytest.mark.parametrize("damage", ["flip a byte", "delete a file"])
def test_bad_artifact_is_never_served(
    tiny_artifact: Path, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    artifact = tmp_path / "artifact"
    shutil.copytree(tiny_artifact, artifact)
    if damage == "flip a byte":
        data = bytearray((artifact / "model.onnx").read_bytes())
        data[-10] ^= 0xFF
        (artifact / "model.onnx").write_bytes(bytes(data))
    else:
        (artifact / "tokenizer.json").unlink()
    with running(settings_for(artifact), wait_ready=False) as live:
        assert httpx.get(live.url + "/healthz").status_code == 200
        ready = httpx.get(live.url + "/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "failed"
        assert "artifact rejected" in ready.json()["reason"]
        chat = live.http().post(
            "/v1/chat/completions",
            json={"model": "tiny-llama", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert chat.status_code == 503 and chat.json()["error"]["code"] == "not_ready"
        assert "retry-after" in chat.headers
    assert any("artifact rejected; not serving" in r.getMessage() for r in caplog.records)
