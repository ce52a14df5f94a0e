"""The plan: every decision derived from one environment's spec, made once, in one place.

Views render the plan; they never ask another view for a fact (which view owns the API's
DNS name, whether ECS runs blue/green, what the secondary region runs). The runbook reads
the same plan, so what on-call is told and what Terraform builds cannot disagree.

    from compiler.terraform.plan import plan
    p = plan(spec)
    p.hostname, p.blue_green, p.secondary_capacity, p.target_groups

The emitter makes the plan once per environment root and hands it to every view
(`stack.FILES`: `blocks(p: Plan)`); the plan keeps the spec it was made from (`p.spec`)
for the fields views copy verbatim. Each field comes from a small pure function of the
spec (below), which the shared builders that still take the spec may call directly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from compiler.spec import ResolvedSpec
from compiler.spec.model import FARGATE_MEMORY_MIB

# Elastic Load Balancing names (load balancers, target groups) are at most 32 characters.
ELB_NAME_LIMIT = 32
FAST_INTERVAL_S = 10  # Route 53's fast health checks, for RTOs of 15 minutes or less
STANDARD_INTERVAL_S = 30
FAILURE_THRESHOLD = 3
TLS_POLICIES = {
    "1.2": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "1.3": "ELBSecurityPolicy-TLS13-1-3-2021-06",
}


@dataclass(frozen=True)
class Capacity:
    """Tasks of the secondary service: desired at apply time, and the autoscaling range."""

    desired: int
    min: int
    max: int


# -- names ------------------------------------------------------------------------------


def name(spec: ResolvedSpec) -> str:
    """The prefix of every AWS name of the environment."""
    return f"{spec.metadata.name}-{spec.environment}"


def account_key(spec: ResolvedSpec) -> str:
    """The account an environment deploys to; without `account.id`, an account of its own
    (the secure default), named after the environment."""
    if spec.account is not None:
        return spec.account.id
    return name(spec)


@dataclass(frozen=True)
class Variant:
    """One ECS service behind the listener: the spec's variants, or the model itself."""

    key: str  # Terraform label and AWS name suffix
    model_version: str
    weight: int


def variants(spec: ResolvedSpec) -> tuple[Variant, ...]:
    if not spec.variants:
        return (Variant("runtime", spec.model.version, 100),)
    return tuple(Variant(v.name, v.model_version, v.weight) for v in spec.variants)


def creates_vpc(spec: ResolvedSpec) -> bool:
    return spec.security.network.vpc_id is None


def log_group_prefix(spec: ResolvedSpec) -> str:
    return f"/servespec/{name(spec)}"


def log_group_names(spec: ResolvedSpec) -> dict[str, str]:
    """Every log group of the primary region, by Terraform label: the one place that names
    them (views, the runbook and the DR region read them here)."""
    base = log_group_prefix(spec)
    groups = {"runtime": f"{base}/runtime", "ecs_exec": f"{base}/ecs-exec"}
    if creates_vpc(spec):
        groups["flow_logs"] = f"{base}/vpc-flow-logs"
    if spec.security.waf.enabled:
        # WAF delivers only to log groups whose name starts with aws-waf-logs-.
        groups["waf"] = f"aws-waf-logs-{name(spec)}"
    if spec.security.audit.cloudtrail:
        groups["cloudtrail"] = f"{base}/cloudtrail"
    return groups


def secondary_log_group_names(spec: ResolvedSpec) -> dict[str, str]:
    """The DR region's log groups, by label: the primary's names (another region), the
    WAF's marked `-dr`; the secondary always has its own VPC, and no trail of its own."""
    base = {**log_group_names(spec), "flow_logs": f"{log_group_prefix(spec)}/vpc-flow-logs"}
    base.pop("cloudtrail", None)
    if "waf" in base:
        base["waf"] += "-dr"
    return {f"{label}_secondary": group for label, group in base.items()}


# -- deployment -------------------------------------------------------------------------


def blue_green(spec: ResolvedSpec) -> bool:
    """ECS owns the production listener rule (native blue/green or canary). The spec rules
    allow variants only with rolling: ECS would erase an A/B split between variants."""
    return spec.deployment.strategy != "rolling"


def api_keys(spec: ResolvedSpec) -> bool:
    """The runtime reads client API keys from a Secrets Manager secret."""
    return spec.serving.auth == "api_key"


def runtime_threads(spec: ResolvedSpec) -> int:
    """ONNX Runtime's threads: the task's vCPUs. ECS enforces `cpu` as a CFS quota on the
    task's cgroup, which the runtime's core count (sched_getaffinity) does not see: on an EC2
    host it counts every core of the instance (https://repost.aws/knowledge-center/ecs-cpu-
    allocation, https://github.com/aws/amazon-ecs-agent/issues/1589)."""
    return max(1, spec.compute.cpu // 1024)


def idle_timeout_s(spec: ResolvedSpec) -> int:
    """The ALB's idle timeout: a stream stays open for the whole request, not cut first."""
    return max(60, spec.serving.request_timeout_s + 5)


def keep_alive_s(spec: ResolvedSpec) -> int:
    """The runtime's keep-alive, longer than the ALB's idle timeout, or the ALB reuses a
    connection the target just closed and answers 502 (https://docs.aws.amazon.com/
    elasticloadbalancing/latest/application/edit-load-balancer-attributes.html)."""
    return idle_timeout_s(spec) + 5


def model_prefix(spec: ResolvedSpec) -> str:
    return f"models/{spec.model.name}/"


def elb_name(full: str) -> str:
    if len(full) <= ELB_NAME_LIMIT:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:6]
    return f"{full[: ELB_NAME_LIMIT - 7].rstrip('-')}-{digest}"


def load_balancer_name(spec: ResolvedSpec, secondary: bool = False) -> str:
    """The ALB's name in one region; the secondary's one target group has the same name."""
    return elb_name(f"{name(spec)}-dr" if secondary else name(spec))


def target_groups(spec: ResolvedSpec) -> tuple[str, ...]:
    """Labels of the primary's target groups: one per variant, a pair under blue/green."""
    labels = [v.key for v in variants(spec)]
    if blue_green(spec):
        labels = [label for key in labels for label in (key, f"{key}_alt")]
    return tuple(labels)


# -- the secondary region ---------------------------------------------------------------


def has_secondary(spec: ResolvedSpec) -> bool:
    """True when anything lives in the secondary region (DR, or backup copies)."""
    return spec.dr.secondary_region is not None and (
        spec.dr.strategy != "none" or spec.backups.copy_to_secondary
    )


def replicates(spec: ResolvedSpec) -> bool:
    """Model artifacts and images are replicated for every DR strategy."""
    return spec.dr.strategy != "none" and spec.dr.secondary_region is not None


def failover_capacity(spec: ResolvedSpec) -> Capacity:
    """The primary's whole capacity: one secondary service carries every variant's share."""
    count = len(variants(spec))
    low, high = spec.scaling.min * count, spec.scaling.max * count
    return Capacity(low, low, high)


def secondary_capacity(spec: ResolvedSpec) -> Capacity | None:
    """None: no secondary compute (no DR, or backup-restore)."""
    low = spec.scaling.min
    return {
        "pilot-light": Capacity(0, 0, 0),
        "warm-standby": Capacity(low, low, low),
        "active-active": failover_capacity(spec),
    }.get(spec.dr.strategy)


def serving_variant(spec: ResolvedSpec) -> Variant:
    """The variant the secondary serves: the one with most traffic (first on a tie)."""
    return max(variants(spec), key=lambda variant: variant.weight)


@dataclass(frozen=True)
class Fleet:
    """What one region's ECS cluster runs; the same builders render it in either region.

    The primary runs every variant on the spec's platform with its deployment strategy,
    min..max tasks each. The secondary runs Fargate (a GPU fleet per region is the core
    stack's job; onnxruntime serves the same artifact on CPU), one service with the serving
    variant (A/B splits and canaries are the primary's business), rolling deployments, and
    the DR strategy's capacity."""

    platform: str  # "fargate" or "ec2"
    variants: tuple[Variant, ...]
    blue_green: bool
    capacity: Capacity  # per service
    memory_mib: int
    names_variants: bool  # each service tells the runtime its A/B variant


def fargate_memory(cpu: int, memory_mib: int) -> int:
    """The smallest size Fargate accepts for the CPU size that holds the spec's memory (the
    largest when none does): the steps are 4 and 8 GiB at 8 and 16 vCPU (spec/model.py)."""
    sizes = FARGATE_MEMORY_MIB[cpu]
    return next((size for size in sizes if size >= memory_mib), sizes[-1])


def primary_fleet(spec: ResolvedSpec) -> Fleet:
    scaling = spec.scaling
    return Fleet(
        platform=spec.compute.platform,
        variants=variants(spec),
        blue_green=blue_green(spec),
        capacity=Capacity(scaling.min, scaling.min, scaling.max),
        memory_mib=spec.compute.memory_mib,
        names_variants=True,
    )


def secondary_fleet(spec: ResolvedSpec) -> Fleet | None:
    """None: no secondary compute. Memory is the spec's when the primary runs Fargate too
    (the spec rules checked it), else moved into Fargate's range."""
    capacity = secondary_capacity(spec)
    if capacity is None or spec.dr.secondary_region is None:
        return None
    compute = spec.compute
    memory = compute.memory_mib
    if compute.platform != "fargate":
        memory = fargate_memory(compute.cpu, memory)
    return Fleet(
        platform="fargate",
        variants=(serving_variant(spec),),
        blue_green=False,
        capacity=capacity,
        memory_mib=memory,
        names_variants=False,
    )


def uses_rtc(spec: ResolvedSpec) -> bool:
    """S3 Replication Time Control when the spec's RPO is an hour or less."""
    return spec.dr.rpo_minutes <= 60


# -- audit and backups ------------------------------------------------------------------

MIN_AUDIT_RETENTION_DAYS = 365
HIPAA_RETENTION_DAYS = 2192  # six years


def audit_retention_days(spec: ResolvedSpec) -> int:
    """How long audit records are kept (a CloudWatch-allowed value)."""
    days = max(spec.observability.log_retention_days, MIN_AUDIT_RETENTION_DAYS)
    if "hipaa" in spec.security.compliance:
        days = max(days, HIPAA_RETENTION_DAYS)
    return days


def allowed_regions(spec: ResolvedSpec) -> list[str]:
    regions = [spec.region]
    if spec.dr.secondary_region is not None:
        regions.append(spec.dr.secondary_region)
    return regions


def locks_vaults(spec: ResolvedSpec) -> bool:
    """Compliance profiles that demand immutable backups (hipaa) lock the vaults."""
    return "hipaa" in spec.security.compliance


def copies_backups(spec: ResolvedSpec) -> bool:
    return spec.backups.copy_to_secondary and spec.dr.secondary_region is not None


# -- DNS and health ---------------------------------------------------------------------


def has_health_checks(spec: ResolvedSpec) -> bool:
    return secondary_capacity(spec) is not None


def routes_api(spec: ResolvedSpec) -> bool:
    """True when DR routing (dns.tf) owns the API's records; the core stack then has none."""
    return has_health_checks(spec) and spec.security.tls.hosted_zone_id is not None


def routing(spec: ResolvedSpec) -> str:
    return "latency" if spec.dr.strategy == "active-active" else "failover"


def primary_checked_by_alarm(spec: ResolvedSpec) -> bool:
    """Route 53's checkers cannot reach a load balancer that admits only some networks."""
    return "0.0.0.0/0" not in spec.security.network.allowed_cidrs


def request_interval(spec: ResolvedSpec) -> int:
    return FAST_INTERVAL_S if spec.dr.rto_minutes <= 15 else STANDARD_INTERVAL_S


def detection_seconds(spec: ResolvedSpec) -> int:
    """About how long Route 53 takes to call a region unhealthy."""
    return request_interval(spec) * FAILURE_THRESHOLD


# -- the plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One environment, decided: what every view and the runbook render. It keeps the
    spec it was made from, for the fields views copy verbatim (no decision in them)."""

    spec: ResolvedSpec = field(compare=False, repr=False)
    name: str
    environment: str
    production: bool
    account: str
    region: str
    secondary_region: str | None
    hostname: str
    hosted_zone_id: str | None
    variants: tuple[Variant, ...]
    serving_variant: Variant
    blue_green: bool
    api_keys: bool
    model_prefix: str
    load_balancer: str
    secondary_load_balancer: str
    target_groups: tuple[str, ...]
    log_groups: dict[str, str]
    secondary_log_groups: dict[str, str]
    has_secondary: bool
    replicates: bool
    uses_rtc: bool
    secondary_capacity: Capacity | None
    failover_capacity: Capacity
    fleet: Fleet
    secondary_fleet: Fleet | None
    routes_api: bool
    routing: str
    primary_checked_by_alarm: bool
    detection_s: int


def plan(spec: ResolvedSpec) -> Plan:
    return Plan(
        spec=spec,
        name=name(spec),
        environment=spec.environment,
        production=spec.production,
        account=account_key(spec),
        region=spec.region,
        secondary_region=spec.dr.secondary_region,
        hostname=spec.security.tls.domain,
        hosted_zone_id=spec.security.tls.hosted_zone_id,
        variants=variants(spec),
        serving_variant=serving_variant(spec),
        blue_green=blue_green(spec),
        api_keys=api_keys(spec),
        model_prefix=model_prefix(spec),
        load_balancer=load_balancer_name(spec),
        secondary_load_balancer=load_balancer_name(spec, secondary=True),
        target_groups=target_groups(spec),
        log_groups=log_group_names(spec),
        secondary_log_groups=secondary_log_group_names(spec),
        has_secondary=has_secondary(spec),
        replicates=replicates(spec),
        uses_rtc=uses_rtc(spec),
        secondary_capacity=secondary_capacity(spec),
        failover_capacity=failover_capacity(spec),
        fleet=primary_fleet(spec),
        secondary_fleet=secondary_fleet(spec),
        routes_api=routes_api(spec),
        routing=routing(spec),
        primary_checked_by_alarm=primary_checked_by_alarm(spec),
        detection_s=detection_seconds(spec),
    )
