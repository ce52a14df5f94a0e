"""Parity: what the primary region has, the secondary has, or this file says why not.

Every resource type the primary region of an environment with secondary compute builds
must also exist in the secondary (provider `aws.secondary`), unless it is listed below
with its reason. A new resource in one region only fails here until it is built in both
(through the region builders: region_network.blocks, waf.region_blocks,
container.definition) or explained.
"""

from __future__ import annotations

import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref
from compiler.terraform.plan import plan, secondary_capacity
from compiler.terraform.stack import FILES

from .support import EXAMPLES, environments

# Primary-only by design.
BY_DESIGN = {
    "aws_iam_role": "IAM is global: one role serves both regions or is named per region",
    "aws_iam_role_policy": "IAM is global",
    "aws_iam_role_policy_attachment": "IAM is global",
    "aws_iam_instance_profile": "IAM is global; and the secondary runs Fargate",
    "aws_route53_health_check": "Route 53 is global",
    "aws_route53_record": "Route 53 is global",
    "aws_cloudtrail": "one multi-region trail records every region",
    "aws_cloudwatch_log_metric_filter": "filters on the one trail's log group",
    "aws_backup_plan": "backups run in the primary and copy into the secondary's vault",
    "aws_backup_selection": "backups run in the primary",
    "aws_s3_bucket_replication_configuration": "configured on the source buckets",
    "aws_secretsmanager_secret": "replicated into the secondary by its replica block",
    "aws_lb_listener_rule": "the secondary serves one variant: its listener forwards directly",
    "aws_kms_key": "multi-Region keys: the secondary holds an aws_kms_replica_key",
    "aws_cloudwatch_dashboard": "one dashboard per environment",
    "terraform_data": "one policy contract per root module",
    "aws_sns_topic_policy": "the audit topic (CloudTrail's) exists once, with the one trail",
    "aws_autoscaling_group": "the secondary runs Fargate (plan.Fleet)",
    "aws_ecs_capacity_provider": "the secondary runs Fargate",
    "aws_launch_template": "the secondary runs Fargate",
}
# Primary-only today, and not by design: each one is a follow-up, listed so that the list
# can only shrink. (Types are compared here; test_service_parity compares the service's
# alarms one by one.)
KNOWN_GAPS: dict[str, str] = {}
# Secondary-only by design.
SECONDARY_ONLY = {
    "aws_kms_replica_key": "the replica of the multi-Region key",
}


def _provider(block: Block) -> object:
    try:
        return block.attribute("provider")
    except KeyError:
        return None


def _types(spec: ResolvedSpec) -> tuple[set[str], set[str]]:
    primary: set[str] = set()
    secondary: set[str] = set()
    for _, view in FILES:
        for block in view(plan(spec)):
            if block.type == "resource":
                side = secondary if _provider(block) == Ref("aws.secondary") else primary
                side.add(block.labels[0])
    return primary, secondary


CASES = [
    spec
    for example in EXAMPLES
    for spec in environments(example)
    if secondary_capacity(spec) is not None
]


def test_some_environment_runs_a_secondary() -> None:
    assert len(CASES) >= 2


@pytest.mark.parametrize("spec", CASES, ids=lambda s: f"{s.metadata.name}-{s.environment}")
def test_the_secondary_has_what_the_primary_has(spec: ResolvedSpec) -> None:
    primary, secondary = _types(spec)
    missing = primary - secondary
    unexplained = missing - set(BY_DESIGN) - set(KNOWN_GAPS)
    assert sorted(unexplained) == []
    assert sorted(secondary - primary) == sorted(set(SECONDARY_ONLY) & (secondary - primary))


def test_the_lists_name_only_real_differences() -> None:
    """A gap that was closed must leave the list (it can only shrink)."""
    seen: set[str] = set()
    for spec in CASES:
        primary, secondary = _types(spec)
        seen |= primary - secondary
    assert sorted(set(KNOWN_GAPS) - seen) == []
