"""SSP_ALB_002: a plain-HTTP listener does nothing but redirect to HTTPS."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import first, guideline, severity


class AlbHttpListenerRedirects(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="HTTP listeners only redirect to HTTPS",
            id="SSP_ALB_002",
            categories=(CheckCategories.NETWORKING,),
            supported_resources=("aws_lb_listener", "aws_alb_listener"),
            guideline=guideline(
                "security.tls",
                'default_action { type = "redirect" redirect { protocol = "HTTPS", '
                'port = "443", status_code = "HTTP_301" } }',
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["protocol", "default_action"]
        if str(first(conf, "protocol") or "HTTP").upper() != "HTTP":
            return CheckResult.UNKNOWN  # TLS listeners are SSP_ALB_001's business
        actions = conf.get("default_action") or []
        for action in actions:
            redirect = (action.get("redirect") or [{}])[0]
            if first(action, "type") != "redirect" or first(redirect, "protocol") != "HTTPS":
                return CheckResult.FAILED
        return CheckResult.PASSED if actions else CheckResult.FAILED


check = AlbHttpListenerRedirects()
