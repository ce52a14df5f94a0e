"""The lifecycle of a runtime image repository, the same in both regions: tagged images
kept for rollback, untagged layers of failed pushes expired quickly."""

from __future__ import annotations

from compiler.terraform.hcl import Block, Ref, Value, jsonencode, resource

from .region import Region

KEEP_TAGGED = 30
UNTAGGED_DAYS = 7


def policy(where: Region) -> Block:
    """The lifecycle policy of the region's repository (`runtime` / `runtime_secondary`)."""
    repository = where.label("runtime")
    rules: list[Value] = [
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
    return resource(
        "aws_ecr_lifecycle_policy",
        repository,
        where.on(
            {
                "repository": Ref(f"aws_ecr_repository.{repository}.name"),
                "policy": jsonencode({"rules": rules}),
            }
        ),
    )
