"""The runtime's container definition, built in one place for every region.

Both regions run the same container; only where it runs differs (image registry, model
bucket, log group, secret replica), and that is the `Place`. Built from literals and
locals only: checkov cannot see through computed attributes, and the checks that read
container definitions would silently vanish.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.image.emit import CACHE_DIR
from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Template, Value
from compiler.terraform.plan import (
    Fleet,
    Variant,
    api_keys,
    keep_alive_s,
    model_prefix,
    runtime_threads,
)

from . import capture, common, regional
from .region import Region

# ECS caps a container health check's start period at 300 s.
HEALTH_START_PERIOD_S = 300
MOUNTS = (("tmp", "/tmp"), ("model-cache", CACHE_DIR))  # volume name, container path


@dataclass(frozen=True)
class Place:
    """Where one region's container gets its image, model and keys, and logs to."""

    image: Value
    artifact: Value
    log_group: str
    log_region: str
    api_keys: Value
    gpus: bool  # the DR region runs Fargate: no GPUs there (plan.Fleet)
    variant: str = ""  # the A/B variant the runtime says it is ("": the DR's single service)
    where: Region | None = None  # the region (capture writes stay in it); None: the primary
    memory_mib: int = 0  # the task's hard memory limit (plan.Fleet); 0: the spec's


def place(spec: ResolvedSpec, where: Region, fleet: Fleet, variant: Variant) -> Place:
    """Where `variant` runs in `where`: its registry, model bucket (the replica in the
    secondary), log group and key secret; GPUs only on an EC2 fleet."""
    bucket = regional.models_bucket(where)
    return Place(
        image=regional.image(where),
        artifact=Template(f"s3://{bucket}/{model_prefix(spec)}{variant.model_version}/"),
        log_group=regional.log_group_name(spec, where, "runtime"),
        log_region=where.name,
        api_keys=regional.api_keys_arn(spec, where),
        gpus=fleet.platform == "ec2",
        variant=variant.key if fleet.names_variants else "",
        where=where,
        memory_mib=fleet.memory_mib,
    )


def volumes() -> list[Block]:
    """Task volumes for the image's writable paths (the root filesystem is read-only)."""
    return [Block("volume", (), {"name": name}) for name, _ in MOUNTS]


def environment(
    spec: ResolvedSpec,
    artifact: Value,
    model_version: str,
    variant: str = "",
    where: Region | None = None,
    memory_mib: int = 0,
) -> list[Value]:
    """The runtime's settings (runtime/settings.py reads SERVESPEC_<FIELD>) and its SDK's
    region, sorted by name.

    The runtime is told the task's memory (``memory_mib``, the fleet's; 0: the spec's): ECS
    stops a container that exceeds the task's hard limit (exit 137, every stream on it
    ended), so the runtime batches only the rows whose KV fits (runtime/memory.py).

    ECS sets AWS_REGION and AWS_DEFAULT_REGION itself on Fargate, and on EC2 only with agents
    from April 2026 on (aws/amazon-ecs-agent#4946). Without them boto3 (which reads
    AWS_DEFAULT_REGION) has no region for Secrets Manager and sends S3 calls to us-east-1,
    which a VPC that reaches AWS only through its own region's endpoints cannot reach; so
    the task names its region itself, whatever the agent.
    """
    serving = spec.serving
    region = where.name if where is not None else spec.region
    values: dict[str, Value] = {
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "SERVESPEC_ARTIFACT": artifact,
        "SERVESPEC_AUTH": serving.auth,
        "SERVESPEC_CACHE_DIR": CACHE_DIR,
        "SERVESPEC_DETERMINISTIC": "true" if serving.deterministic else "false",
        "SERVESPEC_KEEP_ALIVE_S": str(keep_alive_s(spec)),
        "SERVESPEC_LOG_PROMPTS": "true" if serving.log_prompts else "false",
        "SERVESPEC_MAX_BODY_BYTES": str(serving.max_request_bytes),
        "SERVESPEC_MAX_CONCURRENT_REQUESTS": str(serving.max_concurrent_requests),
        "SERVESPEC_MAX_OUTPUT_TOKENS": str(spec.model.max_output_tokens),
        "SERVESPEC_MAX_QUEUE": str(serving.max_queue),
        "SERVESPEC_MEMORY_MIB": str(memory_mib or spec.compute.memory_mib),
        "SERVESPEC_METRICS_NAMESPACE": spec.metrics_namespace,
        "SERVESPEC_PORT": str(serving.port),
        "SERVESPEC_PREFILL_CHUNK_TOKENS": str(serving.prefill_chunk_tokens),
        "SERVESPEC_PREFIX_CACHE_MB": str(serving.prefix_cache_mb),
        "SERVESPEC_RATE_LIMIT_PER_KEY_RPM": str(serving.rate_limit_per_key_rpm),
        "SERVESPEC_REQUEST_TIMEOUT_S": str(serving.request_timeout_s),
        "SERVESPEC_SERVED_MODEL_NAME": spec.model.name,
        "SERVESPEC_SHUTDOWN_GRACE_S": str(serving.shutdown_grace_s),
        "SERVESPEC_THREADS": str(runtime_threads(spec)),
        "SERVESPEC_MODEL_VERSION": model_version,
        **capture.environment(spec, variant, where),
    }
    if api_keys(spec):
        # ECS resolves `secrets` once, at task start: the runtime re-reads the secret itself
        # (task role) so added and revoked keys take effect without a restart.
        values["SERVESPEC_API_KEYS_SECRET"] = Template(common.API_KEYS_SECRET)
        values["SERVESPEC_API_KEYS_RELOAD_S"] = str(common.API_KEYS_RELOAD_S)
    return [{"name": key, "value": values[key]} for key in sorted(values)]


def definition(spec: ResolvedSpec, variant: Variant, place: Place) -> dict[str, Value]:
    port = spec.serving.port
    probe = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{port}/readyz', timeout=4)"
    )
    definition: dict[str, Value] = {
        "name": common.CONTAINER,
        "image": place.image,
        "essential": True,
        "user": common.USER,
        "privileged": False,
        "readonlyRootFilesystem": True,
        "stopTimeout": spec.serving.shutdown_grace_s,
        "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}],
        "environment": environment(
            spec,
            place.artifact,
            variant.model_version,
            place.variant,
            place.where,
            place.memory_mib,
        ),
        # The root filesystem is read-only: the artifact cache and temp files live here.
        "mountPoints": [
            {"sourceVolume": name, "containerPath": path, "readOnly": False}
            for name, path in MOUNTS
        ],
        "healthCheck": {
            "command": ["CMD", "python", "-c", probe],
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": HEALTH_START_PERIOD_S,
        },
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": place.log_group,
                "awslogs-region": place.log_region,
                "awslogs-stream-prefix": variant.key,
            },
        },
    }
    if api_keys(spec):
        definition["secrets"] = [{"name": "SERVESPEC_API_KEYS", "valueFrom": place.api_keys}]
    if place.gpus and spec.compute.gpu is not None:
        definition["resourceRequirements"] = [{"type": "GPU", "value": str(spec.compute.gpu.count)}]
    return definition
