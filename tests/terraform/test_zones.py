"""Subnet zones are read from the account, not pinned, and stay put during an outage.

In the oldest regions AWS maps zone letters per account: one account's us-west-1 has a and
c, another's b and c, so a pinned `us-west-1a` fails the first apply in some accounts. Both
regions therefore read their zones with one data source each (vpc.py), and this pins what
makes that safe: no `state` filter (an impaired zone leaving the list would move every later
subnet during the outage), a closed set of zone names (checkov's CKV_AWS_394: a zone AWS
opens later never joins), sorted names, and a postcondition that turns "too few zones" into
a spec change instead of an index error. The filter itself is sent to EC2's
DescribeAvailabilityZones on moto_server.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import boto3
import pygohcl
import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.plan import secondary_capacity

from .support import artifacts, environments

ENVS = [(name, spec) for name in ("assistant", "clinical-notes") for spec in environments(name)]
IDS = [f"{name}-{spec.environment}" for name, spec in ENVS]
USE = re.compile(r"^sort\(data\.aws_availability_zones\.(\w+)\.names\)\[count\.index\]$")


@cache
def _tree(example: str, env: str) -> dict[str, Any]:
    """data and resource blocks of one environment root, merged over its files."""
    prefix = f"generated/{example}/{env}/terraform/"
    merged: dict[str, Any] = {"data": {}, "resource": {}}
    for artifact in artifacts(example):
        if artifact.path.startswith(prefix) and artifact.path.endswith(".tf"):
            tree = pygohcl.loads(artifact.content)
            for kind in merged:
                for type_, labelled in tree.get(kind, {}).items():
                    merged[kind].setdefault(type_, {}).update(labelled)
    return merged


def _zone_reads(spec: ResolvedSpec) -> list[tuple[str, dict[str, Any], int]]:
    """(region, data source body, subnets per tier that index it) for each region."""
    tree = _tree(spec.metadata.name, spec.environment)
    sources = tree["data"].get("aws_availability_zones", {})
    found = []
    for label, body in sources.items():
        region = (
            spec.dr.secondary_region if body.get("provider") == "aws.secondary" else spec.region
        )
        counts = {
            subnet["count"]
            for subnet in tree["resource"]["aws_subnet"].values()
            if (m := USE.match(subnet["availability_zone"])) and m[1] == label
        }
        assert len(counts) == 1, f"{label}: the public and private tiers span the same zones"
        found.append((str(region), body, counts.pop()))
    return found


@pytest.mark.parametrize(("name", "spec"), ENVS, ids=IDS)
def test_every_subnet_reads_its_zone_from_its_own_regions_data_source(
    name: str, spec: ResolvedSpec
) -> None:
    tree = _tree(name, spec.environment)
    for label, subnet in tree["resource"].get("aws_subnet", {}).items():
        match = USE.match(subnet["availability_zone"])
        assert match, f"aws_subnet.{label} pins its zone: {subnet['availability_zone']}"
        source = tree["data"]["aws_availability_zones"][match[1]]
        assert source.get("provider") == subnet.get("provider"), label


@pytest.mark.parametrize(("name", "spec"), ENVS, ids=IDS)
def test_zone_reads_survive_an_outage_and_check_the_count(name: str, spec: ResolvedSpec) -> None:
    reads = _zone_reads(spec)
    assert len(reads) == (1 if secondary_capacity(spec) is None else 2)
    for region, body, count in reads:
        assert "state" not in body, "an impaired zone would leave the list and move subnets"
        letters = [name.removeprefix(region) for name in body["filter"]["values"]]
        assert body["filter"]["name"] == "zone-name" and letters == list("abcdef")
        check = body["lifecycle"]["postcondition"]
        assert check["condition"] == f"length(self.names) >= {count}"
        assert region in check["error_message"]


def test_the_filter_is_one_ec2_understands(moto_endpoint: str) -> None:
    """The generated filter, sent to DescribeAvailabilityZones (moto_server and its own
    zone lists): EC2 accepts it, and in every region the examples deploy
    to it leaves as many Availability Zones as the subnets index."""
    checked = 0
    for _, spec in ENVS:
        for region, body, count in _zone_reads(spec):
            ec2 = boto3.client("ec2", region_name=region, endpoint_url=moto_endpoint)
            filters = [{"Name": body["filter"]["name"], "Values": body["filter"]["values"]}]
            zones = ec2.describe_availability_zones(Filters=filters)["AvailabilityZones"]
            assert len(zones) >= count, (region, [z["ZoneName"] for z in zones])
            checked += 1
    assert checked >= 4
