"""policy.tf: the spec's thresholds as data, for the policy gate.

The contract is defined in policies/README.md ("The contract the terraform emitter
writes"): eight keys, literals only, one per root module.

checkov's custom policies compare the stack with what the spec asked for (log and backup
retention, regions, DR replication); they read the values from this one resource.
`terraform_data` creates nothing in AWS.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Value, resource, skip
from compiler.terraform.plan import Plan

# Noncurrent versions of the Terraform state the bootstrap bucket keeps (its undo history).
STATE_VERSIONS_DAYS = 365


def regions(spec: ResolvedSpec) -> list[str]:
    found = [spec.region]
    if spec.dr.secondary_region and spec.dr.secondary_region != spec.region:
        found.append(spec.dr.secondary_region)
    return found


def dr_replication(spec: ResolvedSpec) -> bool:
    return spec.dr.strategy != "none" and spec.dr.secondary_region is not None


def contract(spec: ResolvedSpec) -> dict[str, Value]:
    """The eight keys of the contract, in the README's order."""
    return {
        "log_retention_days": spec.observability.log_retention_days,
        "backup_retention_days": spec.backups.retention_days,
        "allowed_regions": ",".join(regions(spec)),
        "dr_replication": dr_replication(spec),
        "environment": spec.environment,
        "production": spec.production,
        "tls_min_version": spec.security.tls.min_version,
        "compliance": ",".join(spec.security.compliance),
    }


def blocks(p: Plan) -> list[Block]:
    spec = p.spec
    return [resource("terraform_data", "servespec_policy", {"input": contract(spec)})]


def bootstrap_blocks(envs: tuple[ResolvedSpec, ...]) -> list[Block]:
    """The bootstrap root's contract: one region, no replication (state is versioned, and
    rebuilt from the repository), production when any environment is."""
    first = envs[0]
    values = contract(first) | {
        "environment": "bootstrap",
        "production": any(spec.production for spec in envs),
        "allowed_regions": first.region,
        "dr_replication": False,
    }
    why = skip(
        "SSP_BAK_002",
        f"the bootstrap root holds only Terraform state, in a versioned S3 bucket that keeps "
        f"every noncurrent version for {STATE_VERSIONS_DAYS} days; each environment's "
        "stateful resources are backed up by its own root",
    )
    return [resource("terraform_data", "servespec_policy", [why, {"input": values}])]
