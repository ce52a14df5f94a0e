"""`servespec smoke SPEC --env ENV --base-url URL`: the deploy workflow's smoke test.

The key is read from the environment's API-key secret (never passed on a command line, never
printed); exit 0 when every check passed, 1 when one failed.
"""

from __future__ import annotations

import click

from compiler.keys import locate
from compiler.keys.store import SecretKeys
from compiler.smoke.check import SmokeFailed, run


@click.command("smoke")
@click.argument("spec_path", metavar="SPEC", type=click.Path(exists=True, dir_okay=False))
@click.option("--env", "env", required=True, help="Environment to test.")
@click.option("--base-url", required=True, help="The API's URL, e.g. https://api.example.com")
@click.option("--endpoint-url", help="AWS endpoint for Secrets Manager (emulators).")
@click.option(
    "--connect-to",
    metavar="HOST",
    help="Connect to HOST (e.g. this environment's load balancer) for --base-url's host name; "
    "TLS still verifies --base-url's name (like curl --connect-to).",
)
def smoke(
    spec_path: str, env: str, base_url: str, endpoint_url: str | None, connect_to: str | None
) -> None:
    """Chat and streamed chat through the official openai client, with a key from the secret."""
    spec = locate.environment(spec_path, env)
    store = SecretKeys(locate.secrets_client(spec, endpoint_url), locate.secret_name(spec))
    try:
        keys = store.load()
    except Exception as exc:
        raise click.ClickException(f"reading the API-key secret: {exc}") from None
    if not keys:
        raise click.ClickException("the API-key secret is empty: run `servespec keys ensure`")
    try:
        result = run(base_url, keys[0].key, spec.model.name, connect_to=connect_to)
    except SmokeFailed as exc:
        click.echo(f"smoke test failed: {exc}", err=True)
        raise SystemExit(1) from None
    for name, seconds in result.checks:
        click.echo(f"ok  {name} ({seconds:.1f} s)")
