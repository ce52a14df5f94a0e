"""secrets.tf: the API keys clients present, injected into tasks as SERVESPEC_API_KEYS.

Only the container is created here; its value is put out of band (`aws secretsmanager
put-secret-value`), so no key ever lands in Terraform state or in the repository.
"""

from __future__ import annotations

from compiler.terraform.hcl import Block, Ref, Template, resource, skip
from compiler.terraform.plan import Plan

from . import common, dr_plan

NAME = common.API_KEYS_SECRET  # the runtime reads it by name (container.py)
RELOAD_S = common.API_KEYS_RELOAD_S


def blocks(p: Plan) -> list[Block]:
    spec = p.spec
    if not p.api_keys:
        return []
    return [
        resource(
            "aws_secretsmanager_secret",
            "api_keys",
            [
                skip(
                    "CKV2_AWS_57",
                    "serving.auth api_key: client API keys are issued to callers and rotated "
                    "by the owner; Secrets Manager managed rotation exists only for database "
                    "and AWS service credentials, which this secret is not",
                ),
                {
                    "name": Template(NAME),
                    "description": "Bearer API keys the runtime accepts, comma-separated",
                    "kms_key_id": Ref("aws_kms_key.main.arn"),
                    "recovery_window_in_days": 30 if spec.production else 7,
                },
                *_replicas(p),
            ],
        )
    ]


def _replicas(p: Plan) -> list[Block]:
    """Tasks in the DR region read the same keys from a replica under that region's key."""
    if p.secondary_region is None or p.secondary_capacity is None:
        return []
    return [
        Block(
            "replica",
            (),
            {"region": p.secondary_region, "kms_key_id": dr_plan.secondary_key_arn(p.spec)},
        )
    ]
