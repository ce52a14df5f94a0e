"""`servespec keys` against moto_server, and the runtime picking keys up without a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.keys.store import SecretKeys
from runtime.auth import (
    KeyReloader,
    KeyStore,
    key_id,
    key_sources,
    parse_keys,
    parse_named_keys,
)

SPEC = "spec/assistant.yaml"
SECRET = "assistant-staging/api-keys"  # what generated/assistant/staging/terraform names it


@pytest.fixture
def secret(aws_reset: str) -> Any:
    client = boto3.client("secretsmanager", endpoint_url=aws_reset, region_name="eu-west-1")
    client.create_secret(Name=SECRET)  # empty, as Terraform leaves it
    return client


def keys(endpoint: str, command: str, *extra: str) -> Any:
    base = [SPEC, "--env", "staging", "--endpoint-url", endpoint]
    result = CliRunner().invoke(cli, ["keys", command, *base, *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_ensure_seeds_an_empty_secret_once_and_prints_no_key(secret: Any, aws_reset: str) -> None:
    first = keys(aws_reset, "ensure")
    again = keys(aws_reset, "ensure")
    stored = SecretKeys(secret, SECRET).load()
    assert first["status"] == "created" and again["status"] == "present"
    assert [k.id for k in stored] == [first["key_id"]] == [again["key_id"]]
    assert stored[0].key not in json.dumps(first) and stored[0].key.startswith("sk-")


def test_add_list_revoke(secret: Any, aws_reset: str) -> None:
    keys(aws_reset, "ensure")
    added = keys(aws_reset, "add", "--name", "partner-a")
    listed = keys(aws_reset, "list")
    assert [row["name"] for row in listed] == ["initial", "partner-a"]
    # A named key's id is its name: stable across tasks, unrelated to the value.
    assert added["key_id"] == "partner-a" == key_id(added["key"], "partner-a")
    assert "key" not in listed[1]
    assert added["key"] not in json.dumps(listed)
    keys(aws_reset, "revoke", added["key_id"])
    assert [row["name"] for row in keys(aws_reset, "list")] == ["initial"]


def test_revoking_the_last_key_and_duplicate_names_are_refused(secret: Any, aws_reset: str) -> None:
    keys(aws_reset, "ensure")
    runner = CliRunner()
    base = [SPEC, "--env", "staging", "--endpoint-url", aws_reset]
    last = runner.invoke(cli, ["keys", "revoke", *base, "initial"])
    spaced = runner.invoke(cli, ["keys", "add", *base, "--name", "a b"])
    assert spaced.exit_code == 1 and "key name 'a b'" in spaced.output
    twice = runner.invoke(cli, ["keys", "add", *base, "--name", "initial"])
    assert last.exit_code == 1 and "last key" in last.output
    assert twice.exit_code == 1 and "exists" in twice.output


def test_runtime_reads_the_secret_json_and_the_old_comma_list() -> None:
    body = json.dumps({"keys": [{"name": "a", "key": "k1"}, {"name": "b", "key": "k2"}]})
    assert parse_keys(body) == ("k1", "k2")
    assert parse_keys("k1, k2,") == ("k1", "k2")
    with pytest.raises(ValueError):
        parse_keys('{"nope": 1}')


def test_runtime_accepts_added_and_refuses_revoked_keys_without_restart(
    secret: Any, aws_reset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_reset)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    store = SecretKeys(secret, SECRET)
    first, _ = store.ensure()
    read = key_sources((), None, SECRET, None)
    keystore = KeyStore(read())
    reloader = KeyReloader(keystore, read, interval_s=0.2).start()
    try:
        added = store.add("partner")
        assert _eventually(lambda: keystore.identify(added.key) == added.id)
        store.revoke("partner")
        assert _eventually(lambda: keystore.identify(added.key) is None)
        assert keystore.identify(first.key) == first.id
        assert keystore.usage[first.id] >= 1 and added.key not in str(keystore.usage)
    finally:
        reloader.stop()


def test_a_failed_or_empty_reload_keeps_the_loaded_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("k1\n")
    read = key_sources((), path, None, None)
    keystore = KeyStore(read())
    reloader = KeyReloader(keystore, read, interval_s=60)
    path.write_text("# emptied\n")
    reloader.reload_once()
    path.unlink()
    reloader.reload_once()
    assert keystore.identify("k1") == key_id("k1")


def _eventually(condition: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_usage_is_counted_per_key_id_and_taken_once() -> None:
    store = KeyStore(["k1", "k2"])
    for token in ("k1", "k1", "k2", "wrong"):
        store.identify(token)
    assert store.take_usage() == {key_id("k1"): 2, key_id("k2"): 1}
    assert store.take_usage() == {}


def test_unnamed_key_ids_are_salted_and_stable_under_one_salt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hashlib

    monkeypatch.setenv("SERVESPEC_KEY_ID_SALT", "deployment-salt")
    first = key_id("k1")
    assert first.startswith("key-") and len(first) == len("key-") + 12
    assert first == key_id("k1")  # another task or a restart with the same salt agrees
    assert hashlib.sha256(b"k1").hexdigest()[:12] not in first  # not the guessable digest
    monkeypatch.setenv("SERVESPEC_KEY_ID_SALT", "another-salt")
    assert key_id("k1") != first
    # Names that could pass for another id fall back to the HMAC.
    assert key_id("k1", "anonymous").startswith("key-")
    assert key_id("k1", "key-0123456789ab") == key_id("k1")


def test_a_key_both_injected_and_read_from_the_secret_keeps_its_name() -> None:
    body = json.dumps({"keys": [{"name": "partner", "key": "k1"}, {"name": "b", "key": "k2"}]})
    store = KeyStore(["k1", *parse_named_keys(body)])
    assert store.identify("k1") == "partner" and store.identify("k2") == "b"
    assert store.take_usage() == {"partner": 1, "b": 1}
