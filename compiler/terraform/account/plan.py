"""What each account must hold, decided once from every environment that deploys into it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from compiler.spec import ResolvedSpec
from compiler.terraform.plan import account_key

__all__ = ["AccountPlan", "RegionPlan", "Replication", "account_key", "plan_accounts"]


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
    regions: tuple[RegionPlan, ...]  # sorted by name; regions[0] is the home region
    autoscaling_role: bool  # an EC2 fleet launches CMK-encrypted volumes
    production: bool  # any environment in the account is
    compliance: tuple[str, ...]  # every profile any environment asks for
    log_retention_days: int  # the longest any environment asks for
    backup_retention_days: int

    @property
    def home(self) -> RegionPlan:
        """The region of the account's global resources (IAM) and global Config records."""
        return self.regions[0]


def _region(name: str, envs: list[ResolvedSpec]) -> RegionPlan:
    here = [s for s in envs if s.region == name]
    watched = [s for s in here if s.security.audit.guardduty]
    replications = sorted(
        {
            Replication(f"{s.metadata.name}-{s.environment}", s.dr.secondary_region)
            for s in here
            if s.dr.strategy != "none" and s.dr.secondary_region is not None
        },
        key=lambda r: (r.repository, r.destination),
    )
    return RegionPlan(
        name=name,
        config=any(s.security.audit.config_rules for s in here),
        guardduty=bool(watched),
        fargate=any(s.compute.platform == "fargate" for s in watched),
        ec2=any(s.compute.platform == "ec2" for s in watched),
        replications=tuple(replications),
    )


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
                regions=tuple(_region(r, envs) for r in sorted({s.region for s in envs})),
                autoscaling_role=any(s.compute.platform == "ec2" for s in envs),
                production=any(s.production for s in envs),
                compliance=tuple(sorted({c for s in envs for c in s.security.compliance})),
                log_retention_days=max(s.observability.log_retention_days for s in envs),
                backup_retention_days=max(s.backups.retention_days for s in envs),
            )
        )
    return plans
