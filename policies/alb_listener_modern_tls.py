"""SSP_ALB_001: TLS listeners negotiate at least the spec's minimum TLS version."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import contract, first, guideline, severity

# ELB security policies by the oldest protocol they accept.
POLICY_PREFIXES = {
    "1.2": (
        "ELBSecurityPolicy-TLS13-1-2-",
        "ELBSecurityPolicy-TLS13-1-3-",
        "ELBSecurityPolicy-TLS-1-2-",
        "ELBSecurityPolicy-FS-1-2-",
    ),
    "1.3": ("ELBSecurityPolicy-TLS13-1-3-",),
}


class AlbListenerModernTls(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="HTTPS/TLS listeners use a security policy with the spec's minimum TLS version",
            id="SSP_ALB_001",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_lb_listener", "aws_alb_listener"),
            guideline=guideline(
                "security.tls.min_version",
                'ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06" (1.2) '
                'or "ELBSecurityPolicy-TLS13-1-3-2021-06" (1.3)',
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["protocol", "ssl_policy"]
        if str(first(conf, "protocol") or "HTTP").upper() not in ("HTTPS", "TLS"):
            return CheckResult.UNKNOWN  # plain listeners are SSP_ALB_002's business
        policy = contract(self.graph, self.entity_path, conf["__address__"]) or {}
        minimum = str(policy.get("tls_min_version", "1.2"))
        ssl_policy = str(first(conf, "ssl_policy") or "")
        if ssl_policy.startswith(POLICY_PREFIXES.get(minimum, POLICY_PREFIXES["1.3"])):
            return CheckResult.PASSED
        self.details.append(f"ssl_policy {ssl_policy or '(default)'} allows < TLS {minimum}")
        return CheckResult.FAILED


check = AlbListenerModernTls()
