"""registry.tf: the runtime image repository (immutable tags, scanned, KMS-encrypted)."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, jsonencode, resource

# Tagged images kept for rollback; untagged layers of failed pushes expire quickly.
KEEP_TAGGED = 30
UNTAGGED_DAYS = 7


def blocks(spec: ResolvedSpec) -> list[Block]:
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
        resource(
            "aws_ecr_lifecycle_policy",
            "runtime",
            {
                "repository": Ref("aws_ecr_repository.runtime.name"),
                "policy": jsonencode(
                    {
                        "rules": [
                            {
                                "rulePriority": 1,
                                "description": f"expire untagged images after {UNTAGGED_DAYS} days",
                                "selection": {
                                    "tagStatus": "untagged",
                                    "countType": "sinceImagePushed",
                                    "countUnit": "days",
                                    "countNumber": UNTAGGED_DAYS,
                                },
                                "action": {"type": "expire"},
                            },
                            {
                                "rulePriority": 2,
                                "description": f"keep the last {KEEP_TAGGED} images for rollback",
                                "selection": {
                                    "tagStatus": "any",
                                    "countType": "imageCountMoreThan",
                                    "countNumber": KEEP_TAGGED,
                                },
                                "action": {"type": "expire"},
                            },
                        ]
                    }
                ),
            },
        ),
    ]
