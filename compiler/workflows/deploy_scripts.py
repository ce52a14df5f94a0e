"""The shell of the deploy workflow's steps, one constant per step, run by tests for real.

Values reach the scripts through `env:` only. Scripts that talk to AWS call `servespec`
commands (boto3 with an endpoint URL, tested against moto_server) or the aws CLI.
"""

from __future__ import annotations

RELEASE = "release"  # artifact name and download directory of the built image and models
PLAN_DIR = "saved-plan"  # download directory of an environment's saved plan


# What the operator does when the reviewed plan cannot be applied (see APPLY_SAVED_PLAN).
RERUN_ALL = (
    "Use 'Re-run all jobs' to plan again and approve the new plan ('Re-run failed jobs' "
    "re-runs this job alone, with this same saved plan)."
)


def plan_artifact(env: str) -> str:
    """The artifact that carries an environment's saved plan from its plan job to its apply."""
    return f"plan-{env}"


# What the pushes need before the service can start: on a first deploy the saved plan holds
# only these (stage "foundation"); the next run plans the rest against the pushed release.
FOUNDATION_TARGETS = (
    "aws_ecr_repository.runtime",
    "aws_ecr_lifecycle_policy.runtime",
    "aws_kms_alias.main",
    "aws_s3_bucket_policy.models",
    "aws_s3_bucket_public_access_block.models",
    "aws_s3_bucket_server_side_encryption_configuration.models",
    "aws_s3_bucket_versioning.models",
)
# With API keys, the key secret too: its first key is seeded (`servespec keys ensure`) before
# any task starts, because ECS cannot start a task whose secret has no value.
KEYS_FOUNDATION_TARGETS = ("aws_secretsmanager_secret.api_keys",)
DR_FOUNDATION_TARGETS = (
    "aws_s3_bucket_replication_configuration.models",
    "aws_ecr_repository.runtime_secondary",  # registry replication (account root) fills it
)

RELEASE_STATUS = """
# Decided from AWS, not from a git diff: a first deploy builds everything, a re-run of a
# deployed commit builds nothing.
if terraform output -raw ecr_repository_url > /dev/null 2>&1; then
  stage=full
  servespec release status "$SPEC" --env "$ENVIRONMENT" --image-tag "$IMAGE_TAG" >> "$GITHUB_OUTPUT"
else
  stage=foundation
  # Nothing exists yet: every output (the image, each model artifact in $MODEL_OUTPUTS) false.
  for key in image_present $MODEL_OUTPUTS; do echo "$key=false"; done >> "$GITHUB_OUTPUT"
fi
echo "stage=$stage" >> "$GITHUB_OUTPUT"
"""


def plan_script(targets: tuple[str, ...]) -> str:
    """Plan once, with the release in it; the saved plan is what the apply job applies."""
    flags = " ".join(f"-target={target}" for target in targets)
    return f"""
if [ "$STAGE" = foundation ]; then
  # First deploy: only what the image and model pushes need. Approve this, and the next run
  # of the workflow plans the service with the pushed release.
  terraform plan -input=false -no-color -out=tfplan -var "image_tag=$IMAGE_TAG" {flags}
else
  terraform plan -input=false -no-color -out=tfplan -var "image_tag=$IMAGE_TAG"
fi
terraform show -json tfplan > plan.json
servespec plan-summary plan.json --env "$ENVIRONMENT" > plan-summary.md
echo "counts=$(servespec plan-summary plan.json --env "$ENVIRONMENT" --counts)" >> "$GITHUB_OUTPUT"
{{
  echo "### $ENVIRONMENT: the saved plan (stage: $STAGE, image $IMAGE_TAG)"
  cat plan-summary.md
}} >> "$GITHUB_STEP_SUMMARY"
mkdir -p "$OUT"
cp tfplan .terraform.lock.hcl plan-summary.md "$OUT/"
rm -f plan.json
"""


CHECK_REVIEWERS = """
# Approval is a setting of the GitHub environment; on plans where private repositories get
# no required reviewers the environment silently lets every job through. Refuse instead, and
# fail closed: on an HTTP error `gh api` prints the error body to stdout and exits 1 (cli/cli
# pkg/cmd/api/api.go), so only a successful answer that is a positive count lets this through.
rules="$(gh api "repos/$GITHUB_REPOSITORY/environments/$ENVIRONMENT" \\
  --jq '[.protection_rules[]? | select(.type == "required_reviewers")] | length')" || rules=error
if ! [[ "$rules" =~ ^[1-9][0-9]*$ ]]; then
  echo "::error::$ENVIRONMENT needs approval (deployment.approval: required), but the GitHub \\
environment '$ENVIRONMENT' has no required reviewers (reviewer rules read: $rules): GitHub does \\
not enforce reviewers on private repositories of this plan, generated/$DEPLOYMENT/github is not \\
applied, or the API did not answer. Refusing to apply."
  exit 1
fi
echo "$ENVIRONMENT requires reviewers: $rules rule(s)"
"""

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
# Push exactly the artifact the build job hashed (the push verifies every file against it),
# under the version of its A/B variant when $VARIANT names one.
echo "$MODEL_SHA256  $ARTIFACT/manifest.json" | sha256sum --check --strict
servespec model push "$SPEC" --env "$ENVIRONMENT" ${VARIANT:+--variant "$VARIANT"} "$ARTIFACT"
"""

EVAL_GATE = """
# The gate (deployment.eval) before this artifact is pushed, so before any traffic can
# reach it. Baseline: the model the deployed release serves (SERVESPEC_ARTIFACT of the task
# definitions in the Terraform state, read back from S3): this variant's own when it is
# deployed, else the first deployed artifact by URI. None on a first deploy: then only the
# spec's min_score applies.
baseline="$(terraform -chdir="$TF_DIR" state pull | jq -r --arg variant "${VARIANT:-}" '
  [.resources[]? | select(.type == "aws_ecs_task_definition")
   | .instances[]?.attributes.container_definitions | fromjson | .[]
   | (.environment // []) | from_entries | select(.SERVESPEC_ARTIFACT)]
  | sort_by(.SERVESPEC_ARTIFACT) | map(select(.SERVESPEC_VARIANT == $variant)) + .
  | first | .SERVESPEC_ARTIFACT // ""')"
args=()
if [ -n "$baseline" ]; then
  args+=(--baseline "$baseline")
  echo "baseline: $baseline (the deployed release's model)"
else
  echo "no deployed model: the candidate is gated on the minimum score only"
fi
set +e
servespec eval "$ARTIFACT" --spec "$SPEC" --env "$ENVIRONMENT" "${args[@]}" > eval.txt
code=$?
set -e
cat eval.txt
{
  echo "### $ENVIRONMENT: evaluation of the candidate model ${VARIANT:-}"
  echo "Baseline: ${baseline:-none (first deploy)}"
  echo '```'
  cat eval.txt
  echo '```'
} >> "$GITHUB_STEP_SUMMARY"
rm -f eval.txt
if [ "$code" -ne 0 ]; then
  echo "::error::the candidate model fails $ENVIRONMENT's evaluation gate: nothing was pushed \
or applied, traffic stays on the deployed release"
fi
exit "$code"
"""

# A stale plan is planned again only by "Re-run all jobs": "Re-run failed jobs" re-runs the
# apply job alone, and "Jobs that aren't included keep their outputs from the previous
# attempt" (https://docs.github.com/en/enterprise-server@3.21/actions/managing-workflow-runs/
# re-running-workflows-and-jobs), so it downloads the same stale plan again.
APPLY_SAVED_PLAN = f"""
# Exactly the plan reviewers approved; never a fresh plan approved automatically.
cp "$GITHUB_WORKSPACE/{PLAN_DIR}/tfplan" tfplan
set +e
terraform apply -input=false -no-color tfplan 2>&1 | tee apply.log
code=${{PIPESTATUS[0]}}
set -e
if [ "$code" -ne 0 ] && grep -q "Saved plan is stale" apply.log; then
  echo "::error::the saved plan of $ENVIRONMENT no longer applies: the state changed after it \\
was reviewed. Nothing was applied. {RERUN_ALL}"
fi
rm -f apply.log
exit "$code"
"""

# The apply job's artifacts (the saved plan, the release) expire: after the retention the
# upload asks for at most, sooner where the repository's maximum is lower (upload-artifact
# then silently uses that maximum: "Retention days cannot be greater than the maximum allowed
# retention set within the repository", @actions/artifact getExpiration), and a re-run of
# failed jobs up to 30 days later still downloads the first attempt's. Without this step the
# job ends on download-artifact's own error, which says nothing of what to do.
ARTIFACT_GONE = f"""
echo "::error::the reviewed plan of $ENVIRONMENT or the release built for it could not be \\
downloaded (see the step above; artifacts of this run expire). Nothing was applied. {RERUN_ALL}"
"""

USE_PLAN_LOCK = f"""
# A saved plan applies only with the provider builds it was made with.
cp "$GITHUB_WORKSPACE/{PLAN_DIR}/.terraform.lock.hcl" .terraform.lock.hcl
"""

FIRST_DEPLOY_DONE = """
{
  echo "### $ENVIRONMENT: first deploy, stage 1 of 2 done"
  echo "Registry, key and model bucket exist; image and model are pushed. Run the deploy"
  echo "workflow again (gh workflow run $WORKFLOW --ref main) to plan and approve the service."
} >> "$GITHUB_STEP_SUMMARY"
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

CHECK_RUNNING = """
# A COMPLETED rollout can be ECS's own rollback: the services must run what was applied.
cluster="$(terraform output -raw cluster_name)"
mapfile -t services < <(terraform output -json service_names | jq -r '.[]')
mapfile -t applied < <(terraform show -json | jq -r '.values.root_module.resources[]?
  | select(.type == "aws_ecs_task_definition") | .values.arn')
args=()
for service in "${services[@]}"; do args+=(--service "$service"); done
for arn in "${applied[@]}"; do args+=(--task-definition "$arn"); done
servespec release running --cluster "$cluster" "${args[@]}"
"""

SEED_KEYS = """
# A first key in the new secret (its value never reaches a log, Terraform or its state).
servespec keys ensure "$SPEC" --env "$ENVIRONMENT"
"""

SMOKE_TEST = """
# Through this environment's own load balancer whatever DNS says (it may not point here yet).
servespec smoke "$SPEC" --env "$ENVIRONMENT" --base-url "$(terraform output -raw api_url)" \\
  --connect-to "$(terraform output -raw load_balancer_dns_name)"
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

ROLLBACK = """
# The previous release together: its commit's generated config, its image (tagged with that
# commit) and the model that config names (model versions in S3 are immutable).
echo "::warning::rolling $ENVIRONMENT back to release $PREVIOUS"
git worktree add --detach "$RUNNER_TEMP/previous" "$PREVIOUS"
cd "$RUNNER_TEMP/previous/$TF_DIR"
terraform init -input=false -no-color
terraform plan -input=false -no-color -out=rollback.tfplan -var "image_tag=$PREVIOUS"
terraform show -json rollback.tfplan > rollback.json
{
  echo "### $ENVIRONMENT rolled back to $PREVIOUS"
  servespec plan-summary rollback.json --env "$ENVIRONMENT"
} >> "$GITHUB_STEP_SUMMARY"
terraform apply -input=false -no-color rollback.tfplan
"""
