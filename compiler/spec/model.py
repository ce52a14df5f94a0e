"""The typed deployment spec: the one input every emitter reads.

Every section has secure defaults, so a minimal spec already yields an encrypted, audited,
private deployment. Structural rules live here (types, ranges, patterns); rules that relate
several fields live in `rules.py`, so that all of a file's problems are reported at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

# Sections in their own modules, re-exported: `from compiler.spec.model import Waiver` works.
from .base import LOG_RETENTION_DAYS as LOG_RETENTION_DAYS
from .base import Cidr as Cidr
from .base import Email as Email
from .base import EnvName, GitHubHandle, Name, Region, Strict
from .observability import Alarms as Alarms
from .observability import Capture as Capture
from .observability import Observability
from .security import Account, Security
from .security import Audit as Audit
from .security import Kms as Kms
from .security import Network as Network
from .security import Tls as Tls
from .security import Waf as Waf
from .security import Waiver as Waiver

API_VERSION = "servespec/v1"


class Review(Strict):
    """Who reviews what on GitHub: CODEOWNERS, the ruleset on main, environment reviewers."""

    owners: list[GitHubHandle] = []
    """`@org/team` or `@user` owning the spec, generated/ and the workflows (CODEOWNERS)."""
    security: list[GitHubHandle] = []
    """Owners of policies/, waivers, IAM, the bootstrap and the GitHub root (CODEOWNERS)."""
    deployers: list[GitHubHandle] = []
    """Reviewers of environments with `deployment.approval: required` (at most 6 each of
    teams and users)."""
    required_approvals: Annotated[int, Field(ge=1, le=10)] = 1
    """Approving reviews a pull request into main needs."""


class Metadata(Strict):
    name: Name
    """Deployment name; prefixes every AWS resource, so it is short and DNS-safe."""
    owner: Annotated[str, Field(min_length=1, max_length=64)]
    """Team that owns the deployment; tagged on every resource and named in alarms."""
    repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    """GitHub `org/repo` whose workflows may assume the deploy roles (OIDC trust)."""
    tags: dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=256)]] = {}
    """Extra tags applied to every resource."""
    review: Review = Review()
    """Review rules generated for GitHub (generated/<name>/github, .github/CODEOWNERS)."""


class Adapter(Strict):
    path: Annotated[str, Field(min_length=1)]
    """A PEFT LoRA/QLoRA adapter directory (local path or s3:// URI), merged before export."""


class Quantization(Strict):
    method: Literal["none", "int8", "int4"] = "int8"
    """Weight format of the shipped model: fp32 (`none`), int8 or int4."""
    int8_mode: Literal["dynamic", "weight-only"] = "weight-only"
    """For int8: dynamic (weights and activations) or weight-only (MatMulNBits, 8 bit)."""
    block_size: Literal[16, 32, 64, 128] = 32
    """For int4: weights per quantization block along the input dimension."""
    symmetric: bool = False
    """For int4: symmetric blocks (no zero point). Asymmetric is more accurate."""
    max_perplexity_increase: Annotated[float, Field(gt=0, le=1)] = 0.10
    """Build gate: the quantized model's perplexity may rise at most this fraction."""


class ModelSpec(Strict):
    source: Annotated[
        str, Field(pattern=r"^(package://[A-Za-z0-9_]+/.+|s3://[a-z0-9.-]+/.*|[./~].*)$")
    ]
    """`package://<python package>/<file.gguf>`, a local Hugging Face directory, or s3://."""
    name: Name
    """Model id that clients pass as `model` in API calls."""
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    """Version of the artifact; an S3 prefix that is never overwritten."""
    adapter: Adapter | None = None
    """Optional fine-tune adapter merged into the weights before export."""
    quantization: Quantization = Quantization()
    graph: Literal["fused", "optimum"] = "fused"
    """ONNX graph: `fused` (GroupQueryAttention, fused norms; ~1.5x faster decoding, Llama
    family) or `optimum` (optimum's generic export). Both pass the same parity gate."""
    context_tokens: Annotated[int, Field(ge=256, le=131072)] = 2048
    """Longest prompt + completion the server accepts, in tokens."""
    max_output_tokens: Annotated[int, Field(ge=1, le=32768)] = 512
    """Upper bound for a request's `max_tokens`."""


def _steps(low: int, high: int, step: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1, step))


# The memory sizes (MiB) Fargate accepts for each CPU size; the rules and the DR stack both use
# it. Not ranges: 8 and 16 vCPU take 4 and 8 GiB steps, 0.25 vCPU no 1.5 GiB, and any other
# value fails RegisterTaskDefinition ("No Fargate configuration exists for given values"):
# https://docs.aws.amazon.com/AmazonECS/latest/userguide/task-cpu-memory-error.html
FARGATE_MEMORY_MIB: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _steps(1024, 4096, 1024),
    1024: _steps(2048, 8192, 1024),
    2048: _steps(4096, 16384, 1024),
    4096: _steps(8192, 30720, 1024),
    8192: _steps(16384, 61440, 4096),
    16384: _steps(32768, 122880, 8192),
}


class Gpu(Strict):
    count: Annotated[int, Field(ge=1, le=8)] = 1
    """GPUs reserved per task."""


class Compute(Strict):
    platform: Literal["fargate", "ec2"] = "fargate"
    """Fargate (serverless) or EC2 (an Auto Scaling group as ECS capacity provider)."""
    cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = 4096
    """CPU units per task (1024 = one vCPU)."""
    memory_mib: Annotated[int, Field(ge=512, le=122880)] = 16384
    """Memory per task in MiB; on Fargate one of the sizes its `cpu` takes (1 GiB steps up to 4
    vCPU, 4 GiB at 8 and 8 GiB at 16 vCPU)."""
    instance_type: str | None = None
    """EC2 instance type; required when platform is ec2."""
    gpu: Gpu | None = None
    """Reserve GPUs per task (ec2 only, GPU instance families)."""
    architecture: Literal["x86_64", "arm64"] = "x86_64"


class Scaling(Strict):
    min: Annotated[int, Field(ge=0, le=1000)] = 2
    """Fewest tasks (per variant)."""
    max: Annotated[int, Field(ge=1, le=1000)] = 10
    """Most tasks (per variant)."""
    target_requests_per_instance: Annotated[int, Field(ge=1, le=100000)] = 50
    """ALB requests per target per minute that target tracking holds."""
    target_cpu_percent: Annotated[int, Field(ge=10, le=95)] = 70
    scale_in_cooldown_s: Annotated[int, Field(ge=0, le=3600)] = 300
    scale_out_cooldown_s: Annotated[int, Field(ge=0, le=3600)] = 60
    target_queue_depth: Annotated[int, Field(ge=1, le=4096)] = 4
    """Requests waiting for a batch slot per task (the runtime's QueueDepth metric, per
    variant: each A/B variant's service scales on its own tasks' queue, sampled every 10 s
    idle or busy) that target tracking holds, alongside requests and CPU: LLM load is
    tokens, not requests."""


class Serving(Strict):
    port: Annotated[int, Field(ge=1024, le=65535)] = 8080
    max_concurrent_requests: Annotated[int, Field(ge=1, le=1024)] = 32
    """Requests decoded together in one running batch per task; fewer where `compute.memory_mib`
    cannot hold their KV at the full `model.context_tokens` (the runtime logs how many, and
    is not ready if it cannot hold one)."""
    max_queue: Annotated[int, Field(ge=0, le=4096)] = 32
    """Requests that may wait for a batch slot; beyond this the server answers 429."""
    request_timeout_s: Annotated[int, Field(ge=1, le=3600)] = 60
    auth: Literal["api_key", "none"] = "api_key"
    """`api_key` (Bearer keys from Secrets Manager) or `none` (needs a waiver)."""
    rate_limit_per_key_rpm: Annotated[int, Field(ge=1, le=1_000_000)] = 600
    max_request_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 1_048_576
    log_prompts: bool = False
    """Log prompt and completion text (off by default: prompts may hold personal data)."""
    shutdown_grace_s: Annotated[int, Field(ge=5, le=120)] = 30
    """Time to finish in-flight streams after SIGTERM; also the ALB deregistration delay."""
    prefix_cache_mb: Annotated[int, Field(ge=0, le=65536)] = 64
    """KV cache of recent prompts, reused by prompts that start alike (system prompt,
    earlier turns) so only the rest is computed; 0 turns it off. Fused graphs only."""
    prefill_chunk_tokens: Annotated[int, Field(ge=0, le=32768)] = 256
    """Prompts longer than this are prefilled this many tokens per step while the other
    requests keep streaming; 0 prefills every prompt in one go. Fused graphs only."""
    deterministic: bool = False
    """Build the model with batch-invariant int4 kernels (no int8 activations, fp32 output
    layer) so a request's greedy answer never depends on what else is in the batch; the
    runtime refuses an artifact built otherwise. Costs throughput (see the README)."""


class Deployment(Strict):
    strategy: Literal["rolling", "blue-green", "canary"] = "rolling"
    canary_percent: Annotated[int, Field(ge=1, le=50)] = 10
    """For canary: share of traffic the new revision gets while it bakes."""
    bake_minutes: Annotated[int, Field(ge=0, le=1440)] = 15
    """Time the new revision serves under watch before it takes all traffic."""
    rollback_on_alarm: bool = True
    """Roll back automatically when a deployment alarm fires."""
    approval: Literal["none", "required"] = "none"
    """`required`: applying this environment waits for a GitHub environment reviewer."""
    eval: Evaluation | None = None
    """Evaluate the candidate model with `servespec eval` and refuse a regression."""


class Evaluation(Strict):
    """The gate `servespec eval` applies to a candidate before traffic shifts to it."""

    suite: Annotated[str, Field(min_length=1)]
    """Evaluation suite (YAML or JSON Lines), relative to the repository root."""
    max_regression: Annotated[float, Field(ge=0, le=1)] = 0.0
    """Largest drop of the suite's score (0..1) below the baseline the gate accepts."""
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.0
    """Lowest score the gate accepts, whatever the baseline."""


class VariantModel(Strict):
    """How a variant's model differs from `model` (same name, its own version)."""

    source: (
        Annotated[str, Field(pattern=r"^(package://[A-Za-z0-9_]+/.+|s3://[a-z0-9.-]+/.*|[./~].*)$")]
        | None
    ) = None
    """Another base model; default: `model.source`."""
    adapter: Adapter | None = None
    """Another fine-tune adapter (e.g. from `servespec model finetune`); default: none."""
    quantization: Quantization | None = None
    """Another weight format; default: `model.quantization`."""


class Variant(Strict):
    name: Name
    model_version: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    weight: Annotated[int, Field(ge=0, le=100)]
    """Percent of traffic; weights of all variants sum to 100."""
    model: VariantModel | None = None
    """What this variant's artifact is built from, when it is not `model` itself:
    `servespec model build|push --variant NAME` builds and uploads it."""


class DisasterRecovery(Strict):
    strategy: Literal["none", "backup-restore", "pilot-light", "warm-standby", "active-active"] = (
        "none"
    )
    secondary_region: Region | None = None
    rpo_minutes: Annotated[int, Field(ge=0, le=10080)] = 60
    """Recovery point objective: most data (model artifacts, config) that may be lost."""
    rto_minutes: Annotated[int, Field(ge=1, le=10080)] = 240
    """Recovery time objective: longest the API may be down after a regional failure."""


class Backups(Strict):
    enabled: bool = True
    schedule: Annotated[str, Field(pattern=r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")] = (
        "cron(0 3 * * ? *)"
    )
    """AWS Backup schedule expression (UTC)."""
    retention_days: Annotated[int, Field(ge=1, le=36500)] = 35
    copy_to_secondary: bool = False
    """Copy every recovery point to a vault in `dr.secondary_region`."""


class DeploymentBody(Strict):
    """The fields an environment overlay may set: everything but identity and environments."""

    production: bool = False
    """Production environments get 3 AZs, deletion protection and stricter gates."""
    model: ModelSpec
    region: Region
    compute: Compute = Compute()
    scaling: Scaling = Scaling()
    serving: Serving = Serving()
    deployment: Deployment = Deployment()
    variants: list[Variant] = []
    """Weighted A/B variants, each a service pinned to a model version."""
    dr: DisasterRecovery = DisasterRecovery()
    backups: Backups = Backups()
    security: Security
    observability: Observability
    account: Account | None = None
    """Where the environment deploys; set it in each `environments.<env>` overlay."""


# Overlays are partial documents of the base's shape; the loader merges then re-validates.
OVERLAY_KEYS: tuple[str, ...] = tuple(DeploymentBody.model_fields)


class Spec(DeploymentBody):
    """A deployment spec as written: the base plus named environment overlays."""

    api_version: Literal["servespec/v1"] = Field(alias="apiVersion")
    kind: Literal["Deployment"]
    metadata: Metadata
    environments: Annotated[dict[EnvName, dict[str, Any]], Field(min_length=1)]
    """Named overlays (staging, prod, ...) merged onto the base; explicitly set values win."""

    model_config = ConfigDict(populate_by_name=True)


class ResolvedSpec(DeploymentBody):
    """One environment of a deployment, overlays merged: what every emitter reads."""

    metadata: Metadata
    environment: EnvName
    environments: tuple[str, ...]
    """All environment names of the deployment, in spec order (for workflows)."""
    source_path: str
    """Spec path relative to the repository root, for headers and provenance."""
    source_sha256: str

    @property
    def az_count(self) -> int:
        return self.security.network.az_count or (3 if self.production else 2)

    @property
    def metrics_namespace(self) -> str:
        return f"servespec/{self.metadata.name}"
