"""guardduty.tf and registry.tf of an account root: one detector and one registry
replication configuration per region (each a regional singleton in AWS)."""

from __future__ import annotations

from compiler.terraform.hcl import Block, Expr, Ref, resource, skip

from .plan import AccountPlan, RegionPlan


def on(region: RegionPlan) -> Expr:
    return Ref(f"aws.{region.alias}")


def guardduty(account: AccountPlan) -> list[Block]:
    return [block for region in account.regions if region.guardduty for block in _detector(region)]


def _detector(region: RegionPlan) -> list[Block]:
    label = region.alias
    detector = Ref(f"aws_guardduty_detector.{label}.id")
    # Runtime monitoring: the agent each fleet needs (Fargate sidecar, EC2 agent); the ECS
    # Fargate setting does nothing for tasks on EC2 instances.
    agents = [
        ("ECS_FARGATE_AGENT_MANAGEMENT", region.fargate),
        ("EC2_AGENT_MANAGEMENT", region.ec2),
    ]
    runtime = [
        Block("additional_configuration", (), {"name": name, "status": "ENABLED"})
        for name, wanted in agents
        if wanted
    ]
    return [
        resource(
            "aws_guardduty_detector",
            label,
            [
                skip(
                    "CKV2_AWS_3",
                    "aws_guardduty_organization_configuration can only be applied from the "
                    "organization's delegated GuardDuty administrator account (AWS); this "
                    "root enables the workload account's own detector",
                ),
                {
                    "provider": on(region),
                    "enable": True,
                    "finding_publishing_frequency": "FIFTEEN_MINUTES",
                },
            ],
        ),
        resource(
            "aws_guardduty_detector_feature",
            f"{label}_s3",
            {
                "provider": on(region),
                "detector_id": detector,
                "name": "S3_DATA_EVENTS",
                "status": "ENABLED",
            },
        ),
        resource(
            "aws_guardduty_detector_feature",
            f"{label}_runtime",
            [
                {
                    "provider": on(region),
                    "detector_id": detector,
                    "name": "RUNTIME_MONITORING",
                    "status": "ENABLED",
                },
                *runtime,
            ],
        ),
    ]


def registry(account: AccountPlan) -> list[Block]:
    """The registry's one replication configuration per region, with a rule for every
    environment that replicates its repository (an environment's own configuration would
    replace every other's)."""
    found = []
    for region in account.regions:
        if not region.replications:
            continue
        rules = [
            Block(
                "rule",
                (),
                [
                    Block(
                        "destination",
                        (),
                        {"region": r.destination, "registry_id": Ref("local.account_id")},
                    ),
                    Block(
                        "repository_filter",
                        (),
                        {"filter": r.repository, "filter_type": "PREFIX_MATCH"},
                    ),
                ],
            )
            for r in region.replications
        ]
        found.append(
            resource(
                "aws_ecr_replication_configuration",
                region.alias,
                [{"provider": on(region)}, Block("replication_configuration", (), rules)],
            )
        )
    return found
