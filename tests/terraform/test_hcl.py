"""The HCL serializer: terraform fmt layout, escaping, and parse round trips."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pygohcl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.terraform.hcl import (
    Attribute,
    Block,
    Call,
    Comment,
    Expr,
    Ref,
    Template,
    jsonencode,
    render,
    resource,
    skip,
)

from .support import formatter_missing, terraform_fmt

SAMPLE = [
    Block("terraform", (), [{"required_version": ">= 1.10.0"}]),
    resource(
        "aws_kms_key",
        "main",
        [
            skip("CKV_AWS_7", "a reason"),
            {
                "description": "key",
                "enable_key_rotation": True,
                "deletion_window_in_days": 30,
                "policy": jsonencode(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {
                                    "AWS": Template("arn:${local.partition}:iam::1:root")
                                },
                                "Condition": {"StringEquals": {"aws:SourceAccount": "1"}},
                            }
                        ],
                    }
                ),
                "tags": {"Name": Ref("local.name"), "cost-center": "4711"},
                "short": [1, 2.5, None, False],
                "long": ["a-rather-long-string-value"] * 4,
            },
            Block("timeouts", (), {"create": "10m"}),
            Block("empty"),
            Comment("a comment between blocks"),
            Block("nested", (), [Block("deeper", (), {"x": 1, "longer_name": [{"k": 1}]})]),
        ],
    ),
]


def test_layout_is_what_terraform_fmt_writes() -> None:
    text = render(SAMPLE, header=["generated"])
    assert text.startswith("# generated\n\nterraform {\n")
    assert '  description             = "key"\n' in text  # aligned within the run
    assert "  policy = jsonencode({\n" in text  # a multi-line value ends the run
    assert "\n\n  timeouts {\n" in text  # one blank line before a nested block
    assert "  #checkov:skip=CKV_AWS_7:a reason\n" in text
    assert "  empty {}\n" in text
    assert '\n            "aws:SourceAccount" = "1"\n' in text


@pytest.mark.skipif(formatter_missing() is not None, reason=str(formatter_missing()))
def test_terraform_fmt_leaves_rendered_text_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "sample.tf"
    path.write_text(render(SAMPLE, header=["generated"]))
    assert terraform_fmt([path])[str(path)] == path.read_text()


@pytest.mark.skipif(formatter_missing() is not None, reason=str(formatter_missing()))
def test_the_formatter_check_can_fail(tmp_path: Path) -> None:
    path = tmp_path / "bad.tf"
    path.write_text('resource "a" "b" {\n  x = 1\n  longer = 2\n}\n')
    assert terraform_fmt([path])[str(path)] != path.read_text()


def test_rendered_text_parses_to_the_same_data() -> None:
    parsed = pygohcl.loads(render(SAMPLE))
    key = parsed["resource"]["aws_kms_key"]["main"]
    assert key["deletion_window_in_days"] == 30
    assert key["tags"] == {"Name": "local.name", "cost-center": "4711"}
    assert key["short"] == [1, 2.5, None, False]
    assert key["nested"]["deeper"]["longer_name"] == [{"k": 1}]


def test_literal_interpolation_and_directives_are_escaped() -> None:
    text = render([Block("locals", (), {"a": "${not.a.ref} %{if x}", "b": Template("${local.x}")})])
    assert '"$${not.a.ref} %%{if x}"' in text
    assert '"${local.x}"' in text


def test_keys_that_are_not_identifiers_are_quoted() -> None:
    text = render([Block("locals", (), {"o": {"aws:SourceArn": 1, "null": 2, "ok_key": 3}})])
    assert '"aws:SourceArn" = 1' in text
    assert '"null"          = 2' in text


def test_calls_and_expressions() -> None:
    text = render(
        [Block("locals", (), {"c": Call("cidrsubnet", "10.0.0.0/16", 4, Expr("count.index"))})]
    )
    assert 'c = cidrsubnet("10.0.0.0/16", 4, count.index)' in text


def test_invalid_values_are_refused() -> None:
    with pytest.raises(TypeError):
        render([Block("locals", (), {"x": object()})])  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        render([Block("locals", (), {"x": float("nan")})])
    with pytest.raises(ValueError):
        Ref("not a reference")
    with pytest.raises(ValueError):
        render([Block("locals", (), [Comment("two\nlines")])])


def test_block_address_and_items() -> None:
    block = resource("aws_s3_bucket", "models", {"bucket": "b"})
    assert block.address == "aws_s3_bucket.models"
    assert block.attribute("bucket") == "b"
    first = block.with_items(skip("CKV_AWS_1", "why"), first=True)
    assert isinstance(first.body[0], Comment) and isinstance(first.body[1], Attribute)


printable = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)


@settings(max_examples=200, deadline=None)
@given(value=printable)
def test_any_string_round_trips_through_hashicorps_parser(value: str) -> None:
    parsed = pygohcl.loads(render([Block("locals", (), {"s": value})]))
    # HCL normalizes string literals to Unicode NFC (U+F900 reads back as U+8C48).
    assert parsed["locals"]["s"] == unicodedata.normalize("NFC", value)


def test_templates_keep_interpolation_and_escape_the_rest() -> None:
    text = render([Block("locals", (), {"t": Template('${local.a}\n"q"\\')})])
    assert 't = "${local.a}\\n\\"q\\"\\\\"' in text
    assert pygohcl.loads(text, keep_interpolations=True)["locals"]["t"] == '${local.a}\n"q"\\'
