"""What each account must hold, decided once from every environment that deploys into it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from compiler.spec import ResolvedSpec
from compiler.terraform.plan import account_key, has_secondary, secondary_capacity

__all__ = [
    "CONFIG_RECORDER",
    "AccountPlan",
    "RegionPlan",
    "Replication",
    "account_key",
    "plan_accounts",
    "regions_of",
]

# The one AWS Config recorder (and delivery channel) of each recorded region: an account-wide
# singleton, so it is named for the tool, not for any deployment. The runbook names it too.
CONFIG_RECORDER = "servespec"


@dataclass(frozen=True)
class Replication:
    """ECR registry replication of one environment's repository to its DR region."""

    repository: str  # the environment's repository name (= its resource name prefix)
    destination: str  # region


@dataclass(frozen=True)
class RegionPlan:
    """Account-wide settings of one region (each a regional singleton in AWS)."""

    name: str
    config: bool
    guardduty: bool
    fargate: bool  # GuardDuty runtime monitoring: Fargate agent management
    ec2: bool  # GuardDuty runtime monitoring: EC2 agent management
    replications: tuple[Replication, ...]

    @property
    def alias(self) -> str:
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class AccountPlan:
    key: str
    account_id: str | None  # None when no environment named it
    deployments: tuple[str, ...]  # "<deployment>/<env>", sorted
    regions: tuple[RegionPlan, ...]  # primaries, then DR regions; regions[0] is home
    autoscaling_role: bool  # an EC2 fleet launches CMK-encrypted volumes
    production: bool  # any environment in the account is
    compliance: tuple[str, ...]  # every profile any environment asks for
    log_retention_days: int  # the longest any environment asks for
    backup_retention_days: int

    @property
    def home(self) -> RegionPlan:
        """The region of the account's global resources (IAM) and global Config records."""
        return self.regions[0]


def _runs_fargate(spec: ResolvedSpec, name: str) -> bool:
    """Tasks on Fargate in this region: the primary's own platform, or the DR service
    (always Fargate) in the secondary."""
    if name == spec.region:
        return spec.compute.platform == "fargate"
    return secondary_capacity(spec) is not None


def _region(name: str, envs: list[ResolvedSpec]) -> RegionPlan:
    """What the account needs in one region, from every environment present there (its
    primary region, or its DR region when anything of it lives there)."""
    here = [s for s in envs if name in regions_of(s)]
    watched = [s for s in here if s.security.audit.guardduty]
    replications = sorted(
        {
            Replication(f"{s.metadata.name}-{s.environment}", s.dr.secondary_region)
            for s in here
            if s.region == name and s.dr.strategy != "none" and s.dr.secondary_region is not None
        },
        key=lambda r: (r.repository, r.destination),
    )
    return RegionPlan(
        name=name,
        config=any(s.security.audit.config_rules for s in here),
        guardduty=bool(watched),
        fargate=any(_runs_fargate(s, name) for s in watched),
        ec2=any(s.region == name and s.compute.platform == "ec2" for s in watched),
        replications=tuple(replications),
    )


def regions_of(spec: ResolvedSpec) -> tuple[str, ...]:
    """The regions where anything of the environment lives: its primary, and its DR region
    when DR or backup copies put something there."""
    if has_secondary(spec) and spec.dr.secondary_region is not None:
        return (spec.region, spec.dr.secondary_region)
    return (spec.region,)


def _ordered_regions(envs: list[ResolvedSpec]) -> list[str]:
    """Primary regions first (the first is home: IAM and global Config records), then the
    DR regions, each group by name."""
    primaries = sorted({s.region for s in envs})
    others = sorted({r for s in envs for r in regions_of(s)} - set(primaries))
    return [*primaries, *others]


def plan_accounts(environments: Iterable[ResolvedSpec]) -> list[AccountPlan]:
    by_key: dict[str, list[ResolvedSpec]] = {}
    for spec in environments:
        by_key.setdefault(account_key(spec), []).append(spec)
    plans = []
    for key in sorted(by_key):
        envs = by_key[key]
        plans.append(
            AccountPlan(
                key=key,
                account_id=next((s.account.id for s in envs if s.account), None),
                deployments=tuple(sorted(f"{s.metadata.name}/{s.environment}" for s in envs)),
                regions=tuple(_region(r, envs) for r in _ordered_regions(envs)),
                autoscaling_role=any(s.compute.platform == "ec2" for s in envs),
                production=any(s.production for s in envs),
                compliance=tuple(sorted({c for s in envs for c in s.security.compliance})),
                log_retention_days=max(s.observability.log_retention_days for s in envs),
                backup_retention_days=max(s.backups.retention_days for s in envs),
            )
        )
    return plans
