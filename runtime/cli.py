"""``servespec serve ARTIFACT``: run the server locally with the image's settings.

Options override the matching ``SERVESPEC_*`` variables; everything else is read from the
environment exactly as in the container.
"""

from __future__ import annotations

from pathlib import Path

import click

from runtime.settings import Settings, SettingsError


@click.command("serve")
@click.argument("artifact")
@click.option("--host", default=None, help="Interface to bind (default 0.0.0.0).")
@click.option("--port", type=int, default=None, help="Port (default 8080).")
@click.option("--api-key", "api_keys", multiple=True, help="Accepted API key (repeatable).")
@click.option(
    "--api-keys-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File with one API key per line.",
)
@click.option("--no-auth", is_flag=True, help="Serve without API keys (local use only).")
@click.option("--threads", type=int, default=None, help="ONNX Runtime threads (0: all cores).")
@click.option(
    "--max-concurrent-requests", type=int, default=None, help="Rows in the running batch."
)
@click.option("--served-model-name", default=None, help="Model id clients must send.")
@click.option("--s3-endpoint-url", default=None, help="S3 endpoint for s3:// artifacts.")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Serve with the settings SPEC's task definition gives the runtime (needs --env).",
)
@click.option("--env", "env_name", default=None, help="The environment of --spec.")
def serve(
    artifact: str,
    host: str | None,
    port: int | None,
    api_keys: tuple[str, ...],
    api_keys_file: Path | None,
    no_auth: bool,
    threads: int | None,
    max_concurrent_requests: int | None,
    served_model_name: str | None,
    s3_endpoint_url: str | None,
    spec_path: str | None,
    env_name: str | None,
) -> None:
    """Serve the model ARTIFACT (a directory or s3:// URI) over the OpenAI API."""
    from runtime.server import serve as run  # uvicorn and the model load only when serving

    try:
        settings = Settings.from_env(
            _spec_environment(spec_path, env_name),
            artifact=artifact,
            host=host,
            port=port,
            api_keys=api_keys or None,
            api_keys_file=api_keys_file,
            auth="none" if no_auth else None,
            threads=threads,
            max_concurrent_requests=max_concurrent_requests,
            served_model_name=served_model_name,
            s3_endpoint_url=s3_endpoint_url,
        )
        if settings.auth == "api_key" and not settings.load_api_keys():
            raise SettingsError(
                "no API keys: pass --api-key, set SERVESPEC_API_KEYS or SERVESPEC_API_KEYS_FILE, "
                "or use --no-auth for a local run"
            )
    except (SettingsError, OSError) as exc:
        raise click.UsageError(str(exc)) from exc
    run(settings)


def _spec_environment(spec_path: str | None, env_name: str | None) -> dict[str, str]:
    """The variables the task definition would set, under the caller's own (which win).

    Without --spec the runtime's built-in defaults apply, which are not the spec's: say so.
    """
    import os

    if spec_path is None:
        if env_name is not None:
            raise click.UsageError("--env needs --spec")
        click.echo("serve: no --spec, using the runtime's defaults, not a spec's", err=True)
        return dict(os.environ)
    if env_name is None:
        raise click.UsageError("--spec needs --env")
    from compiler.spec import SpecError, load_resolved
    from compiler.terraform.stack import common, compute

    try:
        spec = load_resolved(spec_path, env_name)
    except SpecError as exc:
        raise click.UsageError(exc.render()) from None
    variant = common.variants(spec)[0]
    local = {"SERVESPEC_ARTIFACT", "SERVESPEC_API_KEYS_SECRET", "SERVESPEC_CACHE_DIR"}
    values = {
        str(item["name"]): item["value"]
        for item in compute.environment(spec, variant.model_version)
        if isinstance(item, dict)
    }
    found = {k: v for k, v in values.items() if isinstance(v, str) and k not in local}
    return {**found, **os.environ}
