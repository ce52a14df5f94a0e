"""registry.tf: the runtime image repository (immutable tags, scanned, KMS-encrypted)."""

from __future__ import annotations

from compiler.terraform.hcl import Block, Ref, resource
from compiler.terraform.plan import Plan

from . import ecr_lifecycle as lifecycle
from . import region


def blocks(p: Plan) -> list[Block]:
    return [
        resource(
            "aws_ecr_repository",
            "runtime",
            [
                {
                    "name": Ref("local.name"),
                    "image_tag_mutability": "IMMUTABLE",
                    "force_delete": False,
                },
                Block("image_scanning_configuration", (), {"scan_on_push": True}),
                Block(
                    "encryption_configuration",
                    (),
                    {"encryption_type": "KMS", "kms_key": Ref("aws_kms_key.main.arn")},
                ),
            ],
        ),
        lifecycle.policy(region.primary(p.region)),
    ]
