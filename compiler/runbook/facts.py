"""What the runbook says about one environment, computed from the spec and the stack views.

Names come from the same functions the Terraform views use, so the runbook can never name a
bucket, cluster or alarm the stack does not create. `<account-id>` stays a placeholder: the
compiler never knows the account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from compiler.spec import ResolvedSpec
from compiler.terraform.account.plan import CONFIG_RECORDER, regions_of
from compiler.terraform.hcl import Block, Template
from compiler.terraform.plan import (
    Capacity,
    Plan,
    allowed_regions,
    audit_retention_days,
    copies_backups,
    detection_seconds,
    locks_vaults,
    plan,
    replicates,
    routes_api,
    uses_rtc,
)
from compiler.terraform.stack import FILES, common
from compiler.terraform.stack.config_rules_builder import config_rules
from compiler.terraform.stack.dr_plan import RTC_MINUTES

ACCOUNT = "<account-id>"
ALIAS_TTL_S = 60  # Route 53 answers alias records to a load balancer with a 60 s TTL
TASK_START_MIN = 10  # image pull plus model download and load, before /readyz says yes
STACK_APPLY_MIN = 45  # a whole root module applied from scratch (VPC, endpoints, ALB, ...)
PERSON_MIN = 15  # on-call is paged, decides, and runs one step of this runbook


@dataclass(frozen=True)
class Alarm:
    name: str
    region: str
    description: str


@dataclass(frozen=True)
class Facts:
    """One environment, as on-call needs it at 3 am."""

    environment: str
    production: bool
    account: str  # generated/accounts/<account>/: applied before this environment
    name: str
    region: str
    secondary_region: str | None
    strategy: str
    rpo_minutes: int
    rto_minutes: int
    domain: str
    hosted_zone_id: str | None
    routing: str | None  # failover | latency | None (no records)
    detection_s: int
    primary_checked_by_alarm: bool
    capacity: Capacity | None
    scaling_min: int
    scaling_max: int
    failover_min: int  # the secondary's range after failover: all variants' capacity
    failover_max: int
    secondary_model_version: str
    primary_services: tuple[str, ...]
    secondary_cluster: str
    secondary_service: str
    secondary_lb: str
    models_bucket: str
    models_replica: str
    model_prefix: str
    model_version: str
    rtc: bool
    backups: bool
    schedule: str
    backup_interval_min: int | None
    retention_days: int
    copies: bool
    vault: str
    vault_secondary: str
    vault_lock: str | None  # governance | compliance | None
    restore_from: tuple[tuple[str, str], ...]  # (region, vault): the primary's, then the copy's
    backup_role: str
    audit_bucket: str | None
    audit_replica: str | None
    audit_lock: str | None
    audit_retention_days: int
    trail: bool
    trail_log_group: str
    config_rules: tuple[str, ...]
    config_recorder: str  # the account root's recorder, one in each region it records
    recorder_regions: tuple[str, ...]  # this environment's regions, where Config records it
    guardduty: bool
    gdpr_regions: tuple[str, ...]
    rpo_notes: tuple[str, ...]
    rto_notes: tuple[str, ...]
    alarms: tuple[Alarm, ...]


def facts(spec: ResolvedSpec) -> Facts:
    decided = plan(spec)
    name = decided.name
    capacity = decided.secondary_capacity
    secondary = spec.dr.secondary_region
    interval = backup_interval_minutes(spec.backups.schedule)
    vault_lock = None
    if locks_vaults(spec):
        vault_lock = "compliance" if spec.production else "governance"
    return Facts(
        environment=spec.environment,
        production=spec.production,
        account=decided.account,
        name=name,
        region=spec.region,
        secondary_region=secondary,
        strategy=spec.dr.strategy,
        rpo_minutes=spec.dr.rpo_minutes,
        rto_minutes=spec.dr.rto_minutes,
        domain=spec.security.tls.domain,
        hosted_zone_id=spec.security.tls.hosted_zone_id,
        routing=decided.routing if decided.routes_api else None,
        detection_s=decided.detection_s,
        primary_checked_by_alarm=decided.primary_checked_by_alarm,
        capacity=capacity,
        scaling_min=spec.scaling.min,
        scaling_max=spec.scaling.max,
        failover_min=decided.failover_capacity.min,
        failover_max=decided.failover_capacity.max,
        secondary_model_version=decided.serving_variant.model_version,
        primary_services=tuple(f"{name}-{v.key}" for v in decided.variants),
        secondary_cluster=f"{name}-dr",
        secondary_service=f"{name}-dr",
        secondary_lb=decided.secondary_load_balancer,
        models_bucket=f"{name}-models-{ACCOUNT}",
        models_replica=f"{name}-models-dr-{ACCOUNT}",
        model_prefix=f"models/{spec.model.name}/",
        model_version=spec.model.version,
        rtc=decided.replicates and decided.uses_rtc,
        backups=spec.backups.enabled,
        schedule=spec.backups.schedule,
        backup_interval_min=interval,
        retention_days=spec.backups.retention_days,
        copies=copies_backups(spec),
        vault=name,
        vault_secondary=f"{name}-dr",
        vault_lock=vault_lock,
        restore_from=_restore_from(spec, name),
        backup_role=f"{name}-backup",
        **_audit(spec, name, decided),
        rpo_notes=tuple(rpo_notes(spec, interval)),
        rto_notes=tuple(rto_notes(spec)),
        alarms=tuple(alarms(decided)),
    )


def _restore_from(spec: ResolvedSpec, name: str) -> tuple[tuple[str, str], ...]:
    """Where recovery points can be restored from: vault names are unique per region, so a
    copy is read (and restored) only with its own region's vault name and endpoint."""
    found = [(spec.region, name)]
    if copies_backups(spec) and spec.dr.secondary_region is not None:
        found.append((spec.dr.secondary_region, f"{name}-dr"))
    return tuple(found)


def _audit(spec: ResolvedSpec, name: str, decided: Plan) -> dict[str, Any]:
    """The audit trail's part of the facts: where evidence lives and how long it is kept."""
    has_bucket = common.has_audit_bucket(spec)
    lock = common.audit_lock_mode(spec)
    return {
        "audit_bucket": f"{name}-audit-{ACCOUNT}" if has_bucket else None,
        "audit_replica": (
            f"{name}-audit-dr-{ACCOUNT}" if has_bucket and decided.replicates else None
        ),
        "audit_lock": lock.lower() if lock else None,
        "audit_retention_days": audit_retention_days(spec),
        "trail": spec.security.audit.cloudtrail,
        "trail_log_group": decided.log_groups.get("cloudtrail", ""),
        "config_rules": tuple(rule.identifier for rule in config_rules(spec))
        if spec.security.audit.config_rules
        else (),
        "config_recorder": CONFIG_RECORDER,
        "recorder_regions": regions_of(spec) if spec.security.audit.config_rules else (),
        "guardduty": spec.security.audit.guardduty,
        "gdpr_regions": tuple(allowed_regions(spec)) if "gdpr" in spec.security.compliance else (),
    }


def backup_interval_minutes(schedule: str) -> int | None:
    """Minutes between scheduled backups for the common cron shapes, else None."""
    fields = schedule.removeprefix("cron(").removesuffix(")").split()
    minute, hour = fields[0], fields[1]
    if not minute.isdigit():
        return None
    if hour.startswith("*/") and hour[2:].isdigit():
        return int(hour[2:]) * 60
    if re.fullmatch(r"\d+(,\d+)*", hour) and fields[2] == "*":
        return 24 * 60 // len(hour.split(","))
    return None


def rpo_notes(spec: ResolvedSpec, interval: int | None) -> list[str]:
    rpo = spec.dr.rpo_minutes
    notes = []
    if replicates(spec):
        if uses_rtc(spec):
            notes.append(
                "S3 Replication Time Control copies every new model artifact to the secondary "
                f"region; AWS's SLA is 99.99 % of objects within {RTC_MINUTES} minutes, and "
                "the replication alarm fires on any object that fails."
            )
            if rpo < RTC_MINUTES:
                notes.append(
                    f"Your RPO ({rpo} min) is tighter than that SLA. Objects usually arrive in "
                    "seconds, but a model pushed in the last 15 minutes before a failover may be "
                    "missing there: check for it (step 2 of failover) before you switch."
                )
        else:
            notes.append(
                "S3 replication copies every new model artifact to the secondary region, "
                "usually within minutes (no time SLA at this RPO; the replication alarm fires "
                "on any object that fails)."
            )
        notes.append(
            "ECR replication copies every pushed runtime image to the secondary registry "
            "(same repository name and tag)."
        )
    if spec.backups.enabled:
        when = f"every {_duration(interval)}" if interval else f"on `{spec.backups.schedule}`"
        where = ", copied to the secondary region" if copies_backups(spec) else ""
        notes.append(
            f"AWS Backup takes a recovery point {when}{where}, and keeps it "
            f"{spec.backups.retention_days} days: the way back from a bad write or delete, "
            "which replication would faithfully copy."
        )
        if interval is not None and interval > rpo and not replicates(spec):
            notes.append(
                f"Backups alone run every {interval} minutes, longer than the RPO ({rpo} min)."
            )
    return notes


def _duration(minutes: int) -> str:
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "hour" if hours == 1 else f"{hours} hours"


def rto_notes(spec: ResolvedSpec) -> list[str]:
    """When clients are served again, estimated from the strategy and who moves DNS."""
    rto = spec.dr.rto_minutes
    detect = max(1, round(detection_seconds(spec) / 60))
    automatic = routes_api(spec)
    # Route 53 moves clients by itself with a hosted zone; otherwise a person changes DNS.
    switch = detect + 1 if automatic else PERSON_MIN
    dns_how = (
        f"Route 53 moves clients after ~{detect} min of failed checks"
        if automatic
        else f"a person repoints DNS (~{PERSON_MIN} min; no hosted zone in the spec)"
    )
    strategy = spec.dr.strategy
    if strategy == "active-active":
        estimate = detect + 1
        how = (
            "both regions serve all the time; Route 53 stops answering with an unhealthy "
            f"region after ~{detect} min, and clients follow within the {ALIAS_TTL_S} s TTL"
        )
    elif strategy == "warm-standby":
        estimate = switch
        how = (
            f"{spec.scaling.min} task(s) already serve in the secondary region; {dns_how}. "
            f"Full capacity follows when on-call opens the range (~{PERSON_MIN} min) and "
            f"new tasks load the model (~{TASK_START_MIN} min)"
        )
    elif strategy == "pilot-light":
        estimate = PERSON_MIN + TASK_START_MIN + (0 if automatic else PERSON_MIN)
        how = (
            "network, load balancer and service exist with 0 tasks: a person starts them "
            f"(~{PERSON_MIN} min), the image and model load (~{TASK_START_MIN} min), and "
            + ("Route 53 switches as soon as they are healthy" if automatic else dns_how)
        )
    elif strategy == "backup-restore":
        estimate = STACK_APPLY_MIN + 30 + PERSON_MIN
        how = (
            "nothing runs in the secondary region: a recovery environment is applied there "
            f"(~{STACK_APPLY_MIN} min), seeded from the replicas (~30 min), and DNS repointed"
        )
    else:
        return ["No DR strategy: a regional outage lasts as long as the region's."]
    notes = [f"Estimated time to serve again: about {estimate} minutes ({how})."]
    if estimate > rto:
        notes.append(
            f"That is longer than the spec's RTO ({rto} min): practise this runbook, or move "
            "to a stronger dr.strategy."
        )
    else:
        notes.append(f"Within the spec's RTO ({rto} min) if the steps below are followed.")
    return notes


def alarms(decided: Plan) -> list[Alarm]:
    """Every CloudWatch alarm of the environment's root module (its views render the same
    plan the runbook reads), with its description."""
    found = []
    for _, view in FILES:
        for block in view(decided):
            if block.type == "resource" and block.labels[0] == "aws_cloudwatch_metric_alarm":
                found.append(_alarm(decided.spec, block))
    return sorted(found, key=lambda alarm: alarm.name)


def _alarm(spec: ResolvedSpec, block: Block) -> Alarm:
    raw = block.attribute("alarm_name")
    text = raw.text if isinstance(raw, Template) else str(raw)
    try:
        provider = block.attribute("provider")
    except KeyError:
        provider = None
    region = spec.dr.secondary_region if provider is not None else spec.region
    return Alarm(
        name=text.replace("${local.name}", common.name(spec)),
        region=region or spec.region,
        description=str(block.attribute("alarm_description")),
    )
