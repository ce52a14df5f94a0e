"""One environment's apply job of the deploy workflow: the reviewed saved plan, and nothing else.

The job names the GitHub environment, so it starts only after the environment's reviewers
approved the plan they saw in the run summary; only this job, from the deploy workflow on
main, can assume the apply role (bootstrap.py trusts exactly that OIDC subject).
"""

from __future__ import annotations

from typing import Any

from compiler.spec import ResolvedSpec

from . import actions, names, steps
from . import deploy_scripts as scripts
from .artifacts import Artifact, artifacts
from .deploy import IMAGE_TAG, ROLLOUT_MARGIN, build_job, model_builds, plan_job

Step = dict[str, Any]


def bake_minutes(spec: ResolvedSpec) -> int:
    """How long ECS bakes a new revision: canary and blue-green only (rolling replaces tasks
    under the alarms without a bake; the spec rules forbid either with variants)."""
    return 0 if spec.deployment.strategy == "rolling" else spec.deployment.bake_minutes


def _plan(spec: ResolvedSpec, key: str) -> str:
    return f"needs.{names.job_id('plan', spec.environment)}.outputs.{key}"


def _pushes(spec: ResolvedSpec, builds: dict[str, str], stage: str) -> list[Step]:
    """Push the image and each model artifact (every A/B variant's) the plan job found
    missing; an environment with the same artifacts as an earlier one pushes that build."""
    source = builds[spec.environment]
    when = f"{_plan(spec, 'stage')} == '{stage}'"
    image = steps.run(
        "Push the image",
        scripts.PUSH_IMAGE,
        if_=f"{when} && {_plan(spec, 'image_present')} == 'false'",
        env={"IMAGE_TAG": IMAGE_TAG, "IMAGE_DIGEST": "${{ needs.build.outputs.image_digest }}"},
    )
    models = [s for a in artifacts(spec) for s in _gate_and_push(spec, source, a, when)]
    return [image, *models]


def _gate_and_push(spec: ResolvedSpec, source: str, artifact: Artifact, when: str) -> list[Step]:
    """With `deployment.eval`, a new artifact is evaluated before it is pushed: a refused
    candidate fails the job before any push or apply, so no traffic ever reaches it."""
    push = _push_model(spec, source, artifact, when)
    if spec.deployment.eval is None:
        return [push]
    env = {k: v for k, v in push["env"].items() if k != "MODEL_SHA256"}
    gate = steps.run(
        f"Evaluation gate{artifact.label}",
        scripts.EVAL_GATE,
        if_=push["if"],
        env={**env, "TF_DIR": names.terraform_dir(spec)},
        # The suite path is relative to the repository root.
        cwd=".",
    )
    return [gate, push]


def _push_model(spec: ResolvedSpec, source: str, artifact: Artifact, when: str) -> Step:
    env = {
        "MODEL_SHA256": f"${{{{ needs.build.outputs.model_sha256_{source}{artifact.suffix} }}}}",
        "ARTIFACT": f"${{{{ github.workspace }}}}/{scripts.RELEASE}/{artifact.directory(source)}",
        "SPEC": f"${{{{ github.workspace }}}}/{spec.source_path}",
        "ENVIRONMENT": spec.environment,
    }
    if artifact.variant:
        env["VARIANT"] = artifact.variant
    present = _plan(spec, f"model_present{artifact.suffix}")
    return steps.run(
        f"Push the model artifact{artifact.label}",
        scripts.PUSH_MODEL,
        if_=f"{when} && {present} == 'false'",
        env=env,
    )


def _seed_keys(spec: ResolvedSpec, when: str) -> list[Step]:
    """Seed the key secret the foundation stage created, before any task needs it."""
    if spec.serving.auth != "api_key":
        return []
    env = {
        "SPEC": f"${{{{ github.workspace }}}}/{spec.source_path}",
        "ENVIRONMENT": spec.environment,
    }
    return [steps.run("Seed the first API key", scripts.SEED_KEYS, if_=when, env=env)]


def _renew(spec: ResolvedSpec, if_: str) -> Step:
    """Fresh credentials before a long step: a role session lasts an hour."""
    step = steps.aws_credentials(spec, "APPLY")
    return {**step, "name": f"Renew credentials for {spec.environment}", "if": if_}


def _verify(spec: ResolvedSpec) -> list[Step]:
    full = f"{_plan(spec, 'stage')} == 'full'"
    bake = bake_minutes(spec)
    return [
        _renew(spec, full),
        steps.run(
            f"Wait for the ECS rollout (up to {bake + ROLLOUT_MARGIN} min)",
            scripts.WAIT_FOR_ROLLOUT,
            if_=full,
            env={"ROLLOUT_MINUTES": str(bake + ROLLOUT_MARGIN)},
        ),
        _renew(spec, full),
        steps.run("The services run the applied task definitions", scripts.CHECK_RUNNING, if_=full),
        steps.run(
            "Smoke test",
            scripts.SMOKE_TEST,
            if_=full,
            env={
                "SPEC": f"${{{{ github.workspace }}}}/{spec.source_path}",
                "ENVIRONMENT": spec.environment,
            },
        ),
        steps.run(
            "Check the deployment alarms",
            scripts.CHECK_ALARMS,
            if_=full,
            env={"ALARM_PREFIX": f"{spec.metadata.name}-{spec.environment}-"},
        ),
    ]


def _rollback(spec: ResolvedSpec) -> list[Step]:
    # Only after an apply ran, and when there is something to go back to (not on a first
    # deploy). It restores the release that was reviewed and applied before this one.
    when = "failure() && steps.apply.outcome != 'skipped' && steps.previous.outputs.image_tag != ''"
    return [
        _renew(spec, when),
        steps.run(
            "Roll back to the previous release",
            scripts.ROLLBACK,
            if_=when,
            env={
                "PREVIOUS": "${{ steps.previous.outputs.image_tag }}",
                "ENVIRONMENT": spec.environment,
                "TF_DIR": names.terraform_dir(spec),
            },
        ),
    ]


def _guard(spec: ResolvedSpec) -> list[Step]:
    if spec.deployment.approval != "required":
        return []
    return [
        steps.run(
            "The environment enforces reviewers",
            scripts.CHECK_REVIEWERS,
            env={
                "GH_TOKEN": "${{ github.token }}",
                "ENVIRONMENT": spec.environment,
                "DEPLOYMENT": spec.metadata.name,
            },
            cwd=".",
        )
    ]


def _downloads(env: str) -> list[Step]:
    """The reviewed plan and the release; when either is gone (expired), say what to do."""
    gone = "steps.reviewed_plan.outcome == 'failure' || steps.release.outcome == 'failure'"
    return [
        {
            "name": "Download the reviewed plan",
            "id": "reviewed_plan",
            "uses": actions.DOWNLOAD_ARTIFACT.ref,
            "with": {"name": scripts.plan_artifact(env), "path": scripts.PLAN_DIR},
        },
        {
            "name": "Download the release",
            "id": "release",
            "if": "needs.build.result == 'success'",
            "uses": actions.DOWNLOAD_ARTIFACT.ref,
            "with": {"name": scripts.RELEASE, "path": scripts.RELEASE},
        },
        steps.run(
            "Why nothing was applied",
            scripts.ARTIFACT_GONE,
            if_=f"failure() && ({gone})",
            env={"ENVIRONMENT": env},
        ),
    ]


def _condition(spec: ResolvedSpec, previous: str | None) -> str:
    plan = f"needs.{names.job_id('plan', spec.environment)}.result == 'success'"
    # The build is skipped when the environments already hold the release (a re-run).
    built = "(needs.build.result == 'success' || needs.build.result == 'skipped')"
    after = f" && needs.{previous}.result == 'success'" if previous else ""
    return f"${{{{ !cancelled() && {plan} && {built}{after} }}}}"


def apply_job(
    envs: tuple[ResolvedSpec, ...], spec: ResolvedSpec, previous: str | None
) -> dict[str, Any]:
    """The apply job of `spec`; `previous` is the apply job of the environment before it."""
    env = spec.environment
    builds = model_builds(envs)
    foundation = f"{_plan(spec, 'stage')} == 'foundation'"
    job_steps: list[Step] = [
        # Full history: a rollback checks out the previous release's commit.
        steps.checkout(full_history=True),
        *steps.install(),
        *_guard(spec),
        *_downloads(env),
        steps.aws_credentials(spec, "APPLY"),
        steps.setup_terraform(),
        steps.run("Use the providers the plan used", scripts.USE_PLAN_LOCK),
        steps.terraform_init(),
        steps.run("Remember the deployed release", steps.READ_DEPLOYED_TAG, id="previous"),
        *_pushes(spec, builds, "full"),
        steps.run(
            "terraform apply (the saved plan)",
            scripts.APPLY_SAVED_PLAN,
            id="apply",
            env={"ENVIRONMENT": env},
        ),
        *_pushes(spec, builds, "foundation"),
        *_seed_keys(spec, foundation),
        steps.run(
            "First deploy: what comes next",
            scripts.FIRST_DEPLOY_DONE,
            if_=foundation,
            env={"ENVIRONMENT": env, "WORKFLOW": names.workflow_path(spec.metadata.name, "deploy")},
        ),
        *_verify(spec),
    ]
    if spec.deployment.rollback_on_alarm:
        job_steps += _rollback(spec)
    bake = bake_minutes(spec)
    needs = [names.job_id("plan", env), "build", *([previous] if previous else [])]
    return steps.job(
        f"Apply {env}",
        job_steps,
        needs=needs,
        if_=_condition(spec, previous),
        permissions={"actions": "read", "contents": "read", "id-token": "write"},
        timeout=bake + ROLLOUT_MARGIN + 60,
        environment=env,
        concurrency={"group": names.environment_lock(spec), "cancel-in-progress": False},
        defaults={"run": {"working-directory": names.terraform_dir(spec)}},
    )


def build(envs: tuple[ResolvedSpec, ...]) -> dict[str, Any]:
    """The whole deploy workflow: plan every environment, build what is missing, then apply
    environment by environment in spec order."""
    name = envs[0].metadata.name
    jobs: dict[str, Any] = {names.job_id("plan", s.environment): plan_job(s) for s in envs}
    jobs["build"] = build_job(envs)
    previous = None
    for spec in envs:
        job = names.job_id("apply", spec.environment)
        jobs[job] = apply_job(envs, spec, previous)
        previous = job
    return {
        "name": f"servespec {name}: deploy",
        "on": {
            "push": {"branches": ["main"], "paths": names.shipped_paths(envs[0])},
            "workflow_dispatch": {},
        },
        "permissions": {},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }
