"""`servespec rehearse`: one environment's deploy, end to end, on this machine.

Everything is read from what is committed (generated/ after `compile --check`): the image from
the generated Dockerfile, the container from the generated task definition, the probe from
the generated target group. The step that fails names itself; nothing is reported that was
not seen.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from compiler.keys import locate
from compiler.keys.store import SecretKeys
from compiler.rehearse import container, drain, emulator, image, probe, rotation, terraform
from compiler.rehearse.steps import StepFailed, Steps
from compiler.smoke import check
from compiler.spec import ResolvedSpec

CACHE = Path(".cache/servespec/rehearse")


@dataclass
class Context:
    spec: Any
    spec_path: str
    root: Path
    moto: emulator.Moto
    tag: str = ""
    deploy: terraform.Deploy | None = None
    refs: dict[str, str] | None = None
    key: str = ""


def servespec(*args: str) -> str:
    """Run a servespec command as a user would (same code, own process); its output."""
    command = [sys.executable, "-c", "from compiler.cli import main; main()", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"servespec {args[0]} {args[1] if len(args) > 1 else ''}: "
            f"{(done.stderr or done.stdout).strip()[-1200:]}"
        )
    return done.stdout


def rehearse(spec_path: str, env: str, root: Path) -> Steps:
    spec = locate.environment(spec_path, env)
    steps = Steps()
    steps.run("compile --check", lambda: servespec("compile", "--check"))
    ctx = Context(
        spec,
        spec_path,
        root,
        steps.run("find moto_server", lambda: emulator.Moto(_account_id(spec))),
    )
    ctx.tag = f"localhost/servespec-{spec.metadata.name}:rehearse"
    steps.run("build image", lambda: _build(ctx))
    try:
        steps.run("emulate account", lambda: _account(ctx))
        steps.run("push model", lambda: _push(ctx))
        running = steps.run("start container", lambda: _start(ctx))
        try:
            _serve(ctx, steps, running)
        finally:
            _keep_logs(ctx, running)
            container.remove(running)
    finally:
        ctx.moto.__exit__()
    return steps


def _build(ctx: Context) -> None:
    base = image.ensure_base(ctx.root / CACHE)
    dockerfile = ctx.root / "generated" / ctx.spec.metadata.name / "image" / "Dockerfile"
    image.build(ctx.root, dockerfile, base, ctx.tag)


def _account(ctx: Context) -> None:
    ctx.moto.__enter__()
    region = ctx.spec.region
    account = emulator.account_id(ctx.moto, region)
    ctx.deploy = terraform.read(locate.terraform_dir(ctx.spec, ctx.root), account, ctx.tag)
    ctx.refs = emulator.create_account(ctx.deploy, ctx.moto, region)
    # The deploy workflow's own step: seed the empty secret, print the key id only.
    servespec(
        "keys",
        "ensure",
        ctx.spec_path,
        "--env",
        ctx.spec.environment,
        "--endpoint-url",
        ctx.moto.url,
    )
    if ctx.deploy.secret_name is not None:
        client = emulator.client("secretsmanager", ctx.moto, region)
        ctx.key = SecretKeys(client, ctx.deploy.secret_name).load()[0].key


def _push(ctx: Context) -> None:
    env = ctx.spec.environment
    servespec("model", "build", ctx.spec_path, "--env", env)  # a cache hit when built before
    servespec("model", "push", ctx.spec_path, "--env", env, "--endpoint-url", ctx.moto.url)


def _start(ctx: Context) -> container.Running:
    assert ctx.deploy is not None and ctx.refs is not None
    definition = ctx.deploy.resolve(ctx.deploy.container, ctx.refs)
    client = emulator.client("secretsmanager", ctx.moto, ctx.spec.region)
    secrets = {
        s["name"]: client.get_secret_value(SecretId=s["valueFrom"])["SecretString"]
        for s in definition.get("secrets", [])
    }
    ecs = {
        "AWS_REGION": ctx.spec.region,
        "AWS_DEFAULT_REGION": ctx.spec.region,
        "AWS_ENDPOINT_URL": ctx.moto.url,
        **emulator.CREDENTIALS,
    }
    return container.start(definition, ctx.tag, image.declared_volumes(ctx.tag), secrets, ecs)


def _serve(ctx: Context, steps: Steps, running: container.Running) -> None:
    assert ctx.deploy is not None
    deploy, base_url = ctx.deploy, f"http://127.0.0.1:{running.port}"
    started = __import__("time").monotonic()

    def alive() -> bool:
        return bool(container.state(running).get("Running"))

    probed = steps.run(
        "healthy (target group)",
        lambda: probe.until_healthy(deploy.health, deploy.grace_period_s, alive, started),
    )
    code, output = container.health_status(running)
    if code != 0:
        raise StepFailed("container health check", f"exit {code}: {output}")
    _report_load(deploy, probed, ctx.spec)
    steps.run("smoke test", lambda: check.run(base_url, ctx.key, ctx.spec.model.name))
    interval = rotation.reload_interval_s(deploy.resolve(deploy.container, ctx.refs or {}))
    if interval is not None:
        seen, gone = steps.run("keys add/revoke", lambda: _rotate(ctx, base_url, interval))
        click.echo(
            f"[rehearse] added key accepted after {seen:.1f} s, revoked key refused after "
            f"{gone:.1f} s (reload every {interval:.0f} s, no restart)",
            err=True,
        )
        usage = steps.run("usage per key id", lambda: rotation.usage(container.logs(running)))
        click.echo(f"[rehearse] requests per key id, from the task's log: {usage}", err=True)
    drained = steps.run(
        "stop like ECS",
        lambda: drain.stop_with_streams(running, base_url, ctx.key, ctx.spec.model.name),
    )
    click.echo(
        f"[rehearse] SIGTERM with {drained.streams} streams in flight: all completed, "
        f"exit {drained.exit_code} after {drained.exit_s:.1f} s (stopTimeout "
        f"{running.stop_timeout_s} s)",
        err=True,
    )


def _rotate(ctx: Context, base_url: str, interval: float) -> tuple[float, float]:
    def keys(*args: str) -> str:
        command, *rest = args
        env = ctx.spec.environment
        return servespec(
            "keys", command, ctx.spec_path, "--env", env, "--endpoint-url", ctx.moto.url, *rest
        )

    return rotation.add_then_revoke(base_url, interval, keys)


def _report_load(deploy: terraform.Deploy, probed: probe.Probed, spec: Any) -> None:
    health = deploy.health
    implied = int(probed.healthy_s * 2) + health.interval_s
    stop_s = int(deploy.container.get("stopTimeout", 30))
    drain_s = deploy.deregistration_delay_s + stop_s
    drain = "enough" if drain_s >= spec.serving.request_timeout_s else "TOO SHORT"
    click.echo(
        f"[rehearse] model load (start to first ready): {probed.ready_s:.1f} s; the target "
        f"group marks it healthy at {probed.healthy_s:.1f} s ({health.healthy_threshold} x "
        f"{health.interval_s} s checks)\n"
        f"[rehearse] implied health_check_grace_period_seconds >= {implied} s (2x this "
        f"machine, + one interval); the Terraform sets {deploy.grace_period_s} s\n"
        f"[rehearse] a request in flight at scale-in gets deregistration delay "
        f"{deploy.deregistration_delay_s} s + stopTimeout {stop_s} s = {drain_s} s; the "
        f"request timeout is {spec.serving.request_timeout_s} s: {drain}",
        err=True,
    )
    if deploy.grace_period_s < probed.healthy_s:
        raise StepFailed("health grace", "the grace period is shorter than the measured load")


def _keep_logs(ctx: Context, running: container.Running) -> None:
    """Save the container's log; a key value in it fails the rehearsal."""
    text = container.logs(running)
    out = ctx.root / CACHE / f"{ctx.spec.metadata.name}-{ctx.spec.environment}-container.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    click.echo(f"[rehearse] container log: {out}", err=True)
    if ctx.key and ctx.key in text:
        raise StepFailed("logs", "an API key value appears in the container log")


def _account_id(spec: ResolvedSpec) -> str:
    """The account moto plays: the environment's own (account.id), else moto's default."""
    return spec.account.id if spec.account else emulator.MOTO_DEFAULT_ACCOUNT
