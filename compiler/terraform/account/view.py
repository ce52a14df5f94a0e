"""The files of one account root: providers, identity, and the regional singletons."""

from __future__ import annotations

from compiler.terraform.hcl import Block, Ref, Value, data, resource, skip
from compiler.terraform.stack import root

from . import config, services
from .plan import AccountPlan, RegionPlan

GITHUB_OIDC = "token.actions.githubusercontent.com"


def files(account: AccountPlan) -> dict[str, list[Block]]:
    return {
        "versions.tf": [_terraform()],
        "providers.tf": providers(account),
        "policy.tf": [_contract(account)],
        "identity.tf": identity(account),
        "config.tf": config.blocks(account),
        "guardduty.tf": services.guardduty(account),
        "registry.tf": services.registry(account),
    }


def _terraform() -> Block:
    # Local state, like a deployment's bootstrap: applied once per account by an administrator.
    return Block(
        "terraform",
        (),
        [
            {"required_version": root.REQUIRED_VERSION},
            Block(
                "required_providers",
                (),
                {"aws": {"source": "hashicorp/aws", "version": root.AWS_PROVIDER}},
            ),
        ],
    )


def _provider(account: AccountPlan, region: RegionPlan, alias: str | None) -> Block:
    body: dict[str, Value] = {"alias": alias} if alias else {}
    body["region"] = region.name
    if account.account_id is not None:
        body["allowed_account_ids"] = [account.account_id]
    tags = {"managed-by": "servespec", "servespec:scope": "account"}
    return Block("provider", ("aws",), [body, Block("default_tags", (), {"tags": tags})])


def providers(account: AccountPlan) -> list[Block]:
    """The home region's provider (global resources), then one alias per region."""
    found = [_provider(account, account.home, None)]
    found += [_provider(account, region, region.alias) for region in account.regions]
    return [
        *found,
        Block(
            "locals",
            (),
            {
                "account_id": Ref("data.aws_caller_identity.current.account_id"),
                "partition": Ref("data.aws_partition.current.partition"),
            },
        ),
        data("aws_caller_identity", "current"),
        data("aws_partition", "current"),
    ]


def _contract(account: AccountPlan) -> Block:
    values: dict[str, Value] = {
        "log_retention_days": account.log_retention_days,
        "backup_retention_days": account.backup_retention_days,
        "allowed_regions": ",".join(region.name for region in account.regions),
        "dr_replication": False,
        "environment": "account",
        "production": account.production,
        "tls_min_version": "1.2",
        "compliance": ",".join(account.compliance),
    }
    why = skip(
        "SSP_BAK_002",
        "the account root holds no application data, only AWS Config history (versioned "
        "buckets) and account settings rebuilt from this code; each environment's "
        "stateful resources are backed up by its own root",
    )
    return resource("terraform_data", "servespec_policy", [why, {"input": values}])


def identity(account: AccountPlan) -> list[Block]:
    """One GitHub OIDC provider per account (IAM refuses a second with the same URL), and
    the service-linked roles that environments' key policies name."""
    found = [
        resource(
            "aws_iam_openid_connect_provider",
            "github",
            {"url": f"https://{GITHUB_OIDC}", "client_id_list": ["sts.amazonaws.com"]},
        )
    ]
    if account.autoscaling_role:
        # A key policy may only name principals that exist: a fresh account has no Auto
        # Scaling role until something creates it (AWS creates it on first use, too late).
        found.append(
            resource(
                "aws_iam_service_linked_role",
                "autoscaling",
                {
                    "aws_service_name": "autoscaling.amazonaws.com",
                    "description": "Auto Scaling launches EC2 fleets with CMK-encrypted volumes",
                },
            )
        )
    return found
