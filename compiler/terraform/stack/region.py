"""Which region a view builds in: the primary or the DR secondary.

Views that exist in both regions take a `Region` and build the same resources in either,
so the secondary cannot drift from the primary. Labels and names keep the addresses the
stack has always had (`aws_lb.main` / `aws_lb.secondary`, `waf` / `waf_secondary`).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.terraform.hcl import Ref, Template, Value

SECONDARY_PROVIDER = Ref("aws.secondary")


@dataclass(frozen=True)
class Region:
    name: str  # the AWS region
    secondary: bool

    @property
    def main(self) -> str:
        """The label of the region's one-of-a-kind resources (load balancer, web ACL)."""
        return "secondary" if self.secondary else "main"

    def label(self, base: str) -> str:
        """The label of a per-region resource named `base` in the primary."""
        return f"{base}_secondary" if self.secondary else base

    def prefixed(self, base: str) -> str:
        """The label of a per-region resource named `base` in the primary, for the views
        whose secondary labels lead with the region (`secondary_public`)."""
        return f"secondary_{base}" if self.secondary else base

    def service(self, variant: str) -> str:
        """The label of the ECS service that serves `variant` (and of its task definition,
        target group and scaling target): the variant's key in the primary; the secondary
        runs one service, `secondary`."""
        return "secondary" if self.secondary else variant

    def service_name(self, variant: str, suffix: str = "") -> Value:
        """The AWS name of that service (`<name>-<variant>`, `<name>-dr`), then the suffix."""
        return self.aws_name(("" if self.secondary else f"-{variant}") + suffix)

    def aws_name(self, suffix: str = "") -> Value:
        """An AWS name: the deployment's, `-dr` in the secondary, then the suffix."""
        if not (self.secondary or suffix):
            return Ref("local.name")
        return Template(f"${{local.name}}{'-dr' if self.secondary else ''}{suffix}")

    def on(self, body: dict[str, Value]) -> dict[str, Value]:
        """The body, with the secondary's provider when the region is the secondary."""
        return {"provider": SECONDARY_PROVIDER, **body} if self.secondary else body


def primary(region: str) -> Region:
    return Region(region, secondary=False)


def secondary(region: str) -> Region:
    return Region(region, secondary=True)
