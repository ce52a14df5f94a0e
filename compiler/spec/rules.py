"""Rules that relate several fields of a resolved environment.

Each rule is a small function returning (field path, message) pairs, so the loader can
report every violation of a file at once, each at the line that set the offending value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from compiler.governance import missing_waivers

from .model import FARGATE_MEMORY_MIB, ResolvedSpec
from .regions import EU_REGIONS

Violation = tuple[tuple[str | int, ...], str]
Rule = Callable[[ResolvedSpec, dt.date], Iterator[Violation]]

HIPAA_MIN_LOG_RETENTION_DAYS = 2192  # six years, the HIPAA documentation retention period
GPU_FAMILIES = ("g4dn.", "g5.", "g5g.", "g6.", "g6e.", "gr6.", "p3.", "p4d.", "p4de.", "p5.")


def scaling_bounds(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    if spec.scaling.min > spec.scaling.max:
        yield ("scaling", "min"), f"min ({spec.scaling.min}) exceeds max ({spec.scaling.max})"


def variant_weights(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    if not spec.variants:
        return
    if len(spec.variants) < 2:
        yield ("variants",), "give at least two variants, or none (the model alone)"
    names = [variant.name for variant in spec.variants]
    for i, name in enumerate(names):
        if name in names[:i]:
            yield ("variants", i, "name"), f"variant name '{name}' is used twice"
    total = sum(variant.weight for variant in spec.variants)
    if total != 100:
        yield ("variants",), f"variant weights sum to {total}, not 100"


def dr_regions(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    dr = spec.dr
    if dr.strategy != "none" and dr.secondary_region is None:
        yield ("dr", "secondary_region"), f"strategy '{dr.strategy}' needs a secondary_region"
    if dr.secondary_region == spec.region:
        yield ("dr", "secondary_region"), f"must differ from the primary region {spec.region}"
    if spec.backups.copy_to_secondary and dr.secondary_region is None:
        yield ("backups", "copy_to_secondary"), "needs dr.secondary_region to copy backups to"
    if dr.strategy == "active-active" and spec.security.tls.hosted_zone_id is None:
        yield ("dr", "strategy"), "active-active needs security.tls.hosted_zone_id for routing"
    if dr.strategy in ("warm-standby", "active-active") and not spec.security.kms.multi_region:
        yield (
            ("security", "kms", "multi_region"),
            (f"dr strategy '{dr.strategy}' needs multi-Region keys (set multi_region: true)"),
        )


def canary(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    deployment = spec.deployment
    if deployment.strategy != "canary":
        return
    if deployment.bake_minutes < 1:
        yield ("deployment", "bake_minutes"), "a canary needs bake time to compare it against"
    if not deployment.rollback_on_alarm:
        yield (
            ("deployment", "rollback_on_alarm"),
            ("a canary is judged by its alarms: rollback_on_alarm must be true"),
        )


def variants_rollout(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    if spec.variants and spec.deployment.strategy != "rolling":
        yield (
            ("deployment", "strategy"),
            (
                f"'{spec.deployment.strategy}' cannot be combined with variants: ECS takes over "
                "the listener rule and would erase the weights. Use rolling, and roll a model "
                "out by moving weight to its variant"
            ),
        )


def gpu_platform(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    compute = spec.compute
    if compute.platform == "ec2" and compute.instance_type is None:
        yield ("compute", "instance_type"), "platform ec2 needs an instance_type"
    if compute.platform == "fargate" and compute.instance_type is not None:
        yield ("compute", "instance_type"), "instance_type applies only to platform ec2"
    if compute.gpu is None:
        return
    if compute.platform != "ec2":
        yield ("compute", "gpu"), "GPUs need platform ec2 (Fargate has no GPUs)"
    elif not (compute.instance_type or "").startswith(GPU_FAMILIES):
        yield (
            ("compute", "instance_type"),
            (f"'{compute.instance_type}' has no GPU; use one of {', '.join(GPU_FAMILIES)}"),
        )


def fargate_size(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    compute = spec.compute
    if compute.platform != "fargate":
        return
    sizes = FARGATE_MEMORY_MIB[compute.cpu]
    if compute.memory_mib not in sizes:
        yield (
            ("compute", "memory_mib"),
            f"Fargate with cpu {compute.cpu} takes {_sizes(sizes)}, not {compute.memory_mib}",
        )


def _sizes(sizes: tuple[int, ...]) -> str:
    """`512, 1024 or 2048 MiB`, or `8192..30720 MiB in steps of 1024` for a long even run."""
    if len(sizes) <= 4:
        return f"{', '.join(map(str, sizes[:-1]))} or {sizes[-1]} MiB"
    return f"{sizes[0]}..{sizes[-1]} MiB in steps of {sizes[1] - sizes[0]}"


def token_limits(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    model = spec.model
    if model.max_output_tokens >= model.context_tokens:
        yield (
            ("model", "max_output_tokens"),
            (f"must be below context_tokens ({model.context_tokens}) to leave room for a prompt"),
        )


def network(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    net = spec.security.network
    if net.vpc_id is None:
        if net.private_subnet_ids or net.public_subnet_ids:
            yield ("security", "network", "vpc_id"), "subnet ids need the vpc_id they belong to"
        return
    for key in ("private_subnet_ids", "public_subnet_ids"):
        if len(getattr(net, key)) < 2:
            yield ("security", "network", key), "an existing VPC needs at least 2 subnets here"


def gdpr(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    if "gdpr" not in spec.security.compliance:
        return
    if spec.region not in EU_REGIONS:
        yield ("region",), f"gdpr keeps data in the EU; {spec.region} is not an EU region"
    secondary = spec.dr.secondary_region
    if secondary is not None and secondary not in EU_REGIONS:
        yield ("dr", "secondary_region"), f"gdpr keeps data in the EU; {secondary} is not"


def hipaa(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    if "hipaa" not in spec.security.compliance:
        return
    checks = {
        ("security", "kms", "rotation"): spec.security.kms.rotation,
        ("security", "audit", "cloudtrail"): spec.security.audit.cloudtrail,
        ("security", "audit", "config_rules"): spec.security.audit.config_rules,
        ("backups", "enabled"): spec.backups.enabled,
    }
    for path, enabled in checks.items():
        if not enabled:
            yield path, "hipaa requires this to be on (it cannot be waived)"
    if spec.observability.log_retention_days < HIPAA_MIN_LOG_RETENTION_DAYS:
        yield (
            ("observability", "log_retention_days"),
            (f"hipaa requires at least {HIPAA_MIN_LOG_RETENTION_DAYS} days (6 years)"),
        )
    if spec.serving.log_prompts:
        yield ("serving", "log_prompts"), "hipaa forbids logging prompts (they may hold PHI)"


def weakenings_waived(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    # The governance table says which checks each weakening trips; every one needs a waiver.
    for switch, missing in missing_waivers(spec):
        yield (
            switch.path,
            (
                f"{switch.what}: weakening a secure default needs a waiver for "
                f"{' and '.join(missing)} in security.waivers"
            ),
        )


def waivers_current(spec: ResolvedSpec, today: dt.date) -> Iterator[Violation]:
    for i, waiver in enumerate(spec.security.waivers):
        if waiver.expires < today:
            yield (
                ("security", "waivers", i, "expires"),
                (f"waiver for {waiver.check} expired on {waiver.expires.isoformat()}"),
            )


RULES: tuple[Rule, ...] = (
    scaling_bounds,
    variant_weights,
    dr_regions,
    canary,
    variants_rollout,
    gpu_platform,
    fargate_size,
    token_limits,
    network,
    gdpr,
    hipaa,
    weakenings_waived,
    waivers_current,
)


def check_rules(spec: ResolvedSpec, today: dt.date) -> list[Violation]:
    """Every cross-field violation of one resolved environment."""
    return [violation for rule in RULES for violation in rule(spec, today)]
