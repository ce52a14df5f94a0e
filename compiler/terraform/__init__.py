"""Terraform emitter: each environment of a spec becomes one root module, plus a bootstrap.

    from compiler.terraform import emit
    artifacts = emit(load_spec(Path("spec/assistant.yaml")).environments)

Files land under `generated/<deployment>/<env>/terraform/` (one per concern, see
`stack.FILES`) and `generated/<deployment>/bootstrap/<account-id>/` (one per account).
Every file starts with a header naming the view module that emitted it and the spec (not its
hash: that is in manifest.json alone, so a comment edit rewrites no Terraform). Blocks are
data (`hcl.py`), serialized once.
"""

from __future__ import annotations

from compiler.artifacts import Artifact
from compiler.provenance import provenance
from compiler.spec import ResolvedSpec
from compiler.workflows import names

from . import bootstrap
from .boundary import bound_roles
from .hcl import Block, render
from .plan import plan
from .stack import FILES
from .stack.common import waiver_skips


def env_dir(spec: ResolvedSpec) -> str:
    return f"generated/{spec.metadata.name}/{spec.environment}/terraform"


def bootstrap_dir(spec: ResolvedSpec) -> str:
    """One bootstrap per AWS account (`names.bootstrap_dir`, which the workflows share)."""
    return names.bootstrap_dir(spec)


def header(spec: ResolvedSpec, module: str) -> list[str]:
    return [
        provenance(module, spec.source_path),
        "Change the spec and run `servespec compile`.",
    ]


def with_waivers(spec: ResolvedSpec, blocks: list[Block]) -> list[Block]:
    """Each waiver of the spec, as an inline skip in the resource it names (or in all)."""
    waived = []
    for block in blocks:
        skips = waiver_skips(spec, block.address) if block.type == "resource" else []
        waived.append(block.with_items(*skips, first=True) if skips else block)
    return waived


def environment(spec: ResolvedSpec) -> list[Artifact]:
    found = []
    decided = plan(spec)  # made once: every view renders the same decisions
    for filename, view in FILES:
        # Every role the apply role creates carries its permissions boundary (boundary.py).
        blocks = with_waivers(spec, bound_roles(spec, view(decided)))
        if blocks:
            text = render(blocks, header=header(spec, view.__module__))
            found.append(Artifact(f"{env_dir(spec)}/{filename}", text))
    return found


def emit(envs: tuple[ResolvedSpec, ...]) -> list[Artifact]:
    """Every Terraform file of one deployment: each environment's root and the bootstrap."""
    if not envs:
        return []
    found = [artifact for spec in envs for artifact in environment(spec)]
    accounts: dict[str, list[ResolvedSpec]] = {}
    for spec in envs:
        accounts.setdefault(bootstrap_dir(spec), []).append(spec)
    for folder, members in accounts.items():
        for filename, blocks in bootstrap.files(tuple(members)).items():
            text = render(blocks, header=header(members[0], bootstrap.__name__))
            found.append(Artifact(f"{folder}/{filename}", text))
    return sorted(found)
