"""Step and job building blocks shared by the PR, deploy and drift workflows.

Every value that comes from outside the spec (event payloads, job outputs, variables) reaches
a shell script through `env:` and is quoted there; `run:` text itself holds no `${{ }}`.
"""

from __future__ import annotations

from typing import Any

from compiler.spec import ResolvedSpec

from . import actions, names

Step = dict[str, Any]
Job = dict[str, Any]


def run(
    name: str,
    script: str,
    *,
    id: str | None = None,
    if_: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> Step:
    """A `run:` step, its keys always in the same order."""
    step: Step = {"name": name}
    if id:
        step["id"] = id
    if if_:
        step["if"] = if_
    if env:
        step["env"] = env
    if cwd:
        step["working-directory"] = cwd
    # Multi-line scripts end in a newline so they serialize as clean literal blocks.
    text = script.strip("\n")
    step["run"] = text + "\n" if "\n" in text else text
    return step


def checkout(*, full_history: bool = False) -> Step:
    # No token left in .git/config: later steps run code from the repository.
    with_: dict[str, Any] = {"persist-credentials": False}
    if full_history:
        with_["fetch-depth"] = 0
    return {"name": "Check out", "uses": actions.CHECKOUT.ref, "with": with_}


def setup_python(*, cache: bool = False) -> Step:
    with_: dict[str, Any] = {"python-version": names.PYTHON_VERSION}
    if cache:
        # Pull requests only: a cache written by a PR must never feed a deploy (zizmor's
        # cache-poisoning audit), so deploy and drift jobs install from scratch.
        with_ |= {"cache": "pip", "cache-dependency-path": "constraints.txt"}
    return {"name": "Set up Python", "uses": actions.SETUP_PYTHON.ref, "with": with_}


def install(*, cache: bool = False) -> list[Step]:
    """Python and servespec itself, from the repository's constraints (no floating deps)."""
    return [
        setup_python(cache=cache),
        # The deploy extra: the openai client (`servespec smoke`) and the HCL parser.
        run("Install servespec", 'python -m pip install -c constraints.txt -e ".[deploy]"'),
    ]


def aws_credentials(spec: ResolvedSpec, role: str) -> Step:
    """Short-lived credentials via GitHub OIDC; the job must grant `id-token: write`."""
    return {
        "name": f"Assume the {role.lower()} role for {spec.environment}",
        "uses": actions.CONFIGURE_AWS.ref,
        "with": {
            "role-to-assume": "${{ vars." + names.role_variable(spec, role) + " }}",
            "role-session-name": names.concurrency_group(spec, role.lower()),
            "aws-region": spec.region,
            "mask-aws-account-id": True,
        },
    }


def upload(
    name: str, artifact: str, path: str, *, days: int, required: bool = True, hidden: bool = False
) -> Step:
    """Keep `path` as the artifact `artifact` of this run for `days` days.

    `overwrite`: a re-run is the same workflow run, and upload-artifact v4+ fails with 409
    Conflict when the run already holds an artifact of that name ("If false, the action will
    fail if an artifact for the given name already exists", action.yml of the pinned v7.0.0),
    so without it every "Re-run all jobs" fails at its first upload. The earlier attempt's
    artifact is deleted first; it is the one a re-run must not use anyway.
    """
    with_: dict[str, Any] = {"name": artifact, "path": path}
    if required:
        with_["if-no-files-found"] = "error"
    if hidden:
        with_["include-hidden-files"] = True
    with_ |= {"retention-days": days, "overwrite": True}
    return {"name": name, "uses": actions.UPLOAD_ARTIFACT.ref, "with": with_}


def plan_summary(key: str, script: str, *, id: str | None = None) -> list[Step]:
    """List the resources a saved plan changes (`script`: pr.PLAN, which writes
    `$RUNNER_TEMP/plan-summary-<key>.md`) and hand the list to the PR's sticky comment,
    whose job downloads every `plan-summary-*` artifact."""
    return [
        run("The resources it changes", script, id=id, env={"ENVIRONMENT": key}),
        upload(
            "Hand the resource list to the comment",
            f"plan-summary-{key}",
            f"${{{{ runner.temp }}}}/plan-summary-{key}.md",
            days=3,
            required=False,
        ),
    ]


def setup_terraform() -> Step:
    # The wrapper rewrites stdout and exit codes; -detailed-exitcode and JSON need the real ones.
    return {
        "name": "Set up Terraform",
        "uses": actions.SETUP_TERRAFORM.ref,
        "with": {"terraform_version": names.TERRAFORM_VERSION, "terraform_wrapper": False},
    }


# Provider plugins (the AWS provider is ~700 MB unpacked) kept between pull-request runs.
PLUGIN_CACHE = "${{ github.workspace }}/.terraform-plugins"


def terraform_cache(spec: ResolvedSpec) -> list[Step]:
    """Pull requests only: a cache a PR writes must never feed a deploy (cache poisoning)."""
    versions = f"{names.terraform_dir(spec)}/versions.tf"
    return [
        run("Terraform plugin cache directory", 'mkdir -p "$TF_PLUGIN_CACHE_DIR"'),
        {
            "name": "Cache Terraform providers",
            "uses": actions.CACHE.ref,
            "with": {
                "path": PLUGIN_CACHE,
                "key": f"terraform-{names.TERRAFORM_VERSION}-${{{{ hashFiles('{versions}') }}}}",
            },
        },
    ]


def terraform_init(cwd: str | None = None) -> Step:
    return run("terraform init", "terraform init -input=false -no-color", cwd=cwd)


def job(
    name: str,
    steps: list[Step],
    *,
    permissions: dict[str, str],
    timeout: int,
    runner: str = names.RUNNER,
    **extra: Any,
) -> Job:
    """A job with the keys every generated job has, in one order (deterministic output)."""
    body: Job = {"name": name}
    needs = extra.pop("needs", None)
    if needs:
        body["needs"] = needs
    if "if_" in extra:
        body["if"] = extra.pop("if_")
    body["runs-on"] = runner
    body["timeout-minutes"] = timeout
    body["permissions"] = permissions
    body.update(extra)
    body["steps"] = steps
    return body


# The image tag the stack runs now, read from the task definitions in the state (there is no
# state, hence no tag, before the first apply). Tags are immutable commit SHAs.
READ_DEPLOYED_TAG = """
tag="$(terraform state pull | jq -r '[.resources[]? | select(.type == "aws_ecs_task_definition")
  | .instances[]?.attributes.container_definitions | fromjson | .[].image]
  | first // "" | sub("^[^:]*:"; "")')"
case "$tag" in *[!A-Za-z0-9._-]*) tag="" ;; esac
echo "image_tag=$tag" >> "$GITHUB_OUTPUT"
"""


def with_image_tag(command: str) -> str:
    """Run a terraform command with `-var image_tag=$IMAGE_TAG` when IMAGE_TAG is set."""
    return f"""
release_vars=()
if [ -n "${{IMAGE_TAG:-}}" ]; then release_vars+=(-var "image_tag=$IMAGE_TAG"); fi
{command} "${{release_vars[@]}}"
"""
