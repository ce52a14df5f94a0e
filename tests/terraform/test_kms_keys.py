"""The stack's KMS keys share one builder: the DR key's policy is the primary key's, in its
region, and every customer-managed key follows the spec's rotation setting.

The DR key used to be written by hand and had drifted (narrower CloudWatch Logs actions,
other statement ids, a rotation period even with rotation off).
"""

from __future__ import annotations

import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Call, Value
from compiler.terraform.plan import plan
from compiler.terraform.stack import audit_key, dr, kms
from compiler.terraform.stack.buckets import interpolated

from .support import EXAMPLES, environments

WITH_DR = [env for name in EXAMPLES for env in environments(name) if env.dr.secondary_region]
EC2_ONLY = "AutoScalingLaunchesEncryptedVolumes"  # the secondary runs Fargate


def _key(blocks: list[Block]) -> Block:
    (key,) = [b for b in blocks if b.labels[0] in ("aws_kms_key", "aws_kms_replica_key")]
    return key


def _statements(key: Block) -> dict[str, str]:
    policy = key.attribute("policy")
    assert isinstance(policy, Call)
    document = policy.args[0]
    assert isinstance(document, dict)
    # As rendered: a string with `${...}` is a template whether or not it was built as one.
    statements: list[dict[str, Value]] = interpolated(document["Statement"])  # type: ignore[assignment]
    return {str(s["Sid"]): repr({k: v for k, v in s.items() if k != "Sid"}) for s in statements}


def _without_rotation(spec: ResolvedSpec) -> ResolvedSpec:
    kms_ = spec.security.kms.model_copy(update={"rotation": False, "multi_region": False})
    security = spec.security.model_copy(update={"kms": kms_})
    return spec.model_copy(update={"security": security})


def test_examples_have_a_dr_environment() -> None:
    assert len(WITH_DR) >= 2


@pytest.mark.parametrize("spec", WITH_DR, ids=lambda s: f"{s.metadata.name}-{s.environment}")
def test_the_secondary_key_policy_is_the_primary_one_in_its_region(spec: ResolvedSpec) -> None:
    assert spec.dr.secondary_region is not None
    primary = _statements(_key(kms.blocks(plan(spec))))
    primary.pop(EC2_ONLY, None)
    there = {
        sid: text.replace(spec.region, spec.dr.secondary_region) for sid, text in primary.items()
    }
    secondary = _statements(_key(dr.secondary_key(spec)))
    assert set(secondary) == set(there)
    assert secondary == there
    assert "kms:Describe*" in secondary["CloudWatchLogsEncryptsThisAccountsLogGroups"]


@pytest.mark.parametrize("spec", WITH_DR[:1], ids=["rotation-off"])
def test_every_key_leaves_out_the_rotation_period_when_rotation_is_off(
    spec: ResolvedSpec,
) -> None:
    spec = _without_rotation(spec)
    keys = [
        _key(kms.blocks(plan(spec))),
        _key(audit_key.blocks(spec)),
        _key(dr.secondary_key(spec)),
    ]
    assert [k.labels for k in keys] == [
        ("aws_kms_key", "main"),
        ("aws_kms_key", "audit"),
        ("aws_kms_key", "secondary"),
    ]
    for key in keys:
        assert key.attribute("enable_key_rotation") is False
        with pytest.raises(KeyError):
            key.attribute("rotation_period_in_days")
