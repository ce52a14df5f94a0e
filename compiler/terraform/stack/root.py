"""versions.tf, providers.tf and locals.tf: what every environment root module starts with."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Value, data
from compiler.terraform.plan import Plan

from . import common

# terraform >= 1.10 has the S3 backend's native lock file (use_lockfile).
REQUIRED_VERSION = ">= 1.10.0, < 2.0.0"
AWS_PROVIDER = "~> 6.47"


def default_tags(spec: ResolvedSpec) -> dict[str, Value]:
    """Tags on every resource; no spec hash (it would make every edit retag the account)."""
    fixed: dict[str, Value] = {
        "deployment": spec.metadata.name,
        "environment": spec.environment,
        "owner": spec.metadata.owner,
        "managed-by": "servespec",
    }
    extra = {k: v for k, v in sorted(spec.metadata.tags.items()) if k not in fixed}
    return {**fixed, **extra}


def terraform_block(spec: ResolvedSpec, backend_key: str | None) -> Block:
    body: list[Block | dict[str, Value]] = [
        {"required_version": REQUIRED_VERSION},
        Block(
            "required_providers",
            (),
            {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER}},
        ),
    ]
    if backend_key is not None:
        body.append(
            Block(
                "backend",
                ("s3",),
                {
                    "bucket": common.state_bucket(spec),
                    "key": backend_key,
                    "region": spec.region,
                    "encrypt": True,
                    "kms_key_id": common.state_key_alias(spec),
                    "use_lockfile": True,
                },
            )
        )
    return Block("terraform", (), body)


def versions(p: Plan) -> list[Block]:
    spec = p.spec
    key = f"{spec.metadata.name}/{spec.environment}/terraform.tfstate"
    return [terraform_block(spec, key)]


def providers(p: Plan) -> list[Block]:
    found = [_provider(p.spec, p.region)]
    if p.secondary_region:
        found.append(_provider(p.spec, p.secondary_region, "secondary"))
    return found


def _provider(spec: ResolvedSpec, region: str, alias: str | None = None) -> Block:
    head: dict[str, Value] = {"alias": alias} if alias else {}
    body: dict[str, Value] = {**head, "region": region}
    if spec.account is not None:
        # Credentials for another account make plan and apply stop before touching it.
        body["allowed_account_ids"] = [spec.account.id]
    return Block(
        "provider", ("aws",), [body, Block("default_tags", (), {"tags": default_tags(spec)})]
    )


def locals_(p: Plan) -> list[Block]:
    spec = p.spec
    values: dict[str, Value] = {
        "name": p.name,
        "account_id": Ref("data.aws_caller_identity.current.account_id"),
        "partition": Ref("data.aws_partition.current.partition"),
    }
    return [
        Block(
            "variable",
            ("image_tag",),
            {
                "description": "Runtime image tag in the ECR repository (CI passes the "
                "commit SHA it built and pushed; tags are immutable)",
                "type": Ref("string"),
                "default": spec.model.version,
            },
        ),
        Block("locals", (), values),
        data("aws_caller_identity", "current"),
        data("aws_partition", "current"),
        data("aws_region", "current"),
        data("aws_elb_service_account", "main"),
    ]
