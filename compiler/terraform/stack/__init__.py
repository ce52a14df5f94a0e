"""The serving stack of one environment, one view module per concern (file)."""

from __future__ import annotations

from collections.abc import Callable

from compiler.terraform.hcl import Block
from compiler.terraform.plan import Plan

from . import (
    audit,
    backup,
    compute,
    contract,
    dns,
    dr,
    experiment,
    iam,
    kms,
    load_balancer,
    network,
    observability,
    outputs,
    registry,
    root,
    scaling,
    secrets,
    storage,
    waf,
)

View = Callable[[Plan], list[Block]]

# (file name, view), in the order a reader meets them. Each renders the one plan the
# emitter makes for the environment; no view asks another for a fact.
FILES: tuple[tuple[str, View], ...] = (
    ("versions.tf", root.versions),
    ("providers.tf", root.providers),
    ("locals.tf", root.locals_),
    ("policy.tf", contract.blocks),
    ("network.tf", network.blocks),
    ("kms.tf", kms.blocks),
    ("storage.tf", storage.blocks),
    ("registry.tf", registry.blocks),
    ("secrets.tf", secrets.blocks),
    ("compute.tf", compute.blocks),
    ("load_balancer.tf", load_balancer.blocks),
    ("experiment.tf", experiment.blocks),
    ("waf.tf", waf.blocks),
    ("scaling.tf", scaling.blocks),
    ("iam.tf", iam.blocks),
    ("observability.tf", observability.blocks),
    ("audit.tf", audit.blocks),
    ("backup.tf", backup.blocks),
    ("dr.tf", dr.blocks),
    ("dns.tf", dns.blocks),
    ("outputs.tf", outputs.blocks),
)
