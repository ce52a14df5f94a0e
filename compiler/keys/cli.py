"""`servespec keys ensure|add|revoke|list SPEC --env ENV`: named API keys in Secrets Manager.

Only `add` prints a key's value (once, for its caller to hand over); every other command, and
`ensure` on a first deploy, prints key ids and names only, so workflow logs never hold a key.
"""

from __future__ import annotations

import json
from typing import Any

import click

from compiler.keys import locate
from compiler.keys.store import KeyError_, SecretKeys

SPEC = click.argument("spec_path", metavar="SPEC", type=click.Path(exists=True, dir_okay=False))
ENV = click.option("--env", "env", required=True, help="Environment whose secret to use.")
ENDPOINT = click.option("--endpoint-url", help="AWS endpoint (moto_server, other emulators).")


@click.group()
def keys() -> None:
    """Manage the API keys an environment's runtime accepts."""


def _store(spec_path: str, env: str, endpoint_url: str | None) -> SecretKeys:
    spec = locate.environment(spec_path, env)
    return SecretKeys(locate.secrets_client(spec, endpoint_url), locate.secret_name(spec))


def _run(action: Any) -> Any:
    try:
        return action()
    except KeyError_ as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # botocore: credentials, network, access denied
        raise click.ClickException(f"Secrets Manager: {exc}") from None


@keys.command()
@SPEC
@ENV
@ENDPOINT
def ensure(spec_path: str, env: str, endpoint_url: str | None) -> None:
    """Make sure the secret holds a key (creating one named `initial`); prints its id only."""
    store = _store(spec_path, env, endpoint_url)
    key, created = _run(store.ensure)
    verb = "created" if created else "present"
    click.echo(json.dumps({"key_id": key.id, "name": key.name, "status": verb}))


@keys.command()
@SPEC
@ENV
@ENDPOINT
@click.option("--name", required=True, help="Who the key is for (unique in the secret).")
def add(spec_path: str, env: str, endpoint_url: str | None, name: str) -> None:
    """Add a named key and print its value once (the runtime accepts it within its reload)."""
    key = _run(lambda: _store(spec_path, env, endpoint_url).add(name))
    click.echo(json.dumps({"key_id": key.id, "name": key.name, "key": key.key}))


@keys.command()
@SPEC
@ENV
@ENDPOINT
@click.argument("name_or_id")
def revoke(spec_path: str, env: str, endpoint_url: str | None, name_or_id: str) -> None:
    """Remove a key by name or key id (the runtime refuses it within its reload interval)."""
    key = _run(lambda: _store(spec_path, env, endpoint_url).revoke(name_or_id))
    click.echo(json.dumps({"key_id": key.id, "name": key.name, "status": "revoked"}))


@keys.command("list")
@SPEC
@ENV
@ENDPOINT
def list_keys(spec_path: str, env: str, endpoint_url: str | None) -> None:
    """List names, key ids and creation times (never values)."""
    found = _run(lambda: _store(spec_path, env, endpoint_url).load())
    rows = [{"name": k.name, "key_id": k.id, "created": k.created} for k in found]
    click.echo(json.dumps(rows, indent=2))
