"""The provider-schema checker finds every kind of mistake it claims to find."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.terraform.hcl import Block, resource
from compiler.terraform.schema_check import (
    check_blocks,
    check_text,
    dangling_references,
    duplicate_addresses,
    main,
)

from .support import schema

VALID = """
resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  count             = 1
  depends_on        = [aws_lb.main]

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      status_code  = "404"
    }
  }

  lifecycle {
    ignore_changes = [default_action]
  }
}

resource "aws_security_group" "sg" {
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }
}

resource "aws_ecs_service" "svc" {
  name = "x"

  dynamic "load_balancer" {
    for_each = [1]
    content {
      container_name = "a"
      container_port = 80
    }
  }
}

resource "terraform_data" "contract" {
  input = { a = 1 }
}

data "aws_region" "current" {}
"""


def problems(text: str) -> list[str]:
    return [f"{p.address}.{p.path}: {p.message}" for p in check_text(text, schema(), "t.tf")]


def test_valid_configuration_has_no_problems() -> None:
    assert problems(VALID) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('resource "aws_nope" "x" {}', "aws_nope.x.: unknown resource type"),
        ('data "aws_nope" "x" {}', "data.aws_nope.x.: unknown data type"),
        (
            'resource "aws_s3_bucket" "x" {\n  bogus = 1\n}',
            "aws_s3_bucket.x.bogus: unknown attribute or block",
        ),
        (
            'resource "aws_s3_bucket" "x" {\n  bogus {}\n}',
            "aws_s3_bucket.x.bogus: unknown attribute or block",
        ),
        (
            'resource "aws_s3_bucket" "x" {\n  arn = "a"\n}',
            "aws_s3_bucket.x.arn: computed-only attribute cannot be set",
        ),
        (
            'resource "aws_s3_bucket" "x" {\n  acl = "private"\n}',
            "aws_s3_bucket.x.acl: deprecated argument",
        ),
        (
            'resource "aws_kms_alias" "x" {\n  name = "alias/x"\n}',
            "aws_kms_alias.x.target_key_id: required attribute missing",
        ),
        (
            'resource "aws_lb_listener" "x" {\n  load_balancer_arn = "a"\n}',
            "aws_lb_listener.x.default_action: required block missing",
        ),
        (
            'resource "aws_s3_bucket_versioning" "x" {\n  bucket = "b"\n'
            '  versioning_configuration {\n    status = "Enabled"\n  }\n'
            '  versioning_configuration {\n    status = "Enabled"\n  }\n}',
            "aws_s3_bucket_versioning.x.versioning_configuration: "
            "at most 1 block(s) allowed, found 2",
        ),
        (
            'resource "aws_lb_listener" "x" {\n  load_balancer_arn = "a"\n'
            '  default_action {\n    type = "forward"\n    bogus = 1\n  }\n}',
            "aws_lb_listener.x.default_action.bogus: unknown attribute or block",
        ),
        (
            'resource "aws_s3_bucket" "x" {\n  lifecycle {\n    bogus = true\n  }\n}',
            "aws_s3_bucket.x.lifecycle.bogus: unknown lifecycle argument",
        ),
        (
            'resource "aws_ecs_service" "x" {\n  name = "x"\n'
            '  dynamic "nope" {\n    for_each = []\n    content {}\n  }\n}',
            "aws_ecs_service.x.dynamic.nope: dynamic block of an unknown block type",
        ),
        (
            'resource "aws_ecs_service" "x" {\n  name = "x"\n  dynamic "load_balancer" {\n'
            '    for_each = [1]\n    content {\n      container_name = "a"\n    }\n  }\n}',
            "aws_ecs_service.x.dynamic.load_balancer.container_port: required attribute missing",
        ),
        (
            'resource "aws_s3_bucket" "x" {\n  bucket = ["a"]\n}',
            "aws_s3_bucket.x.bucket: expects a string, got a list",
        ),
        (
            'resource "aws_lb" "x" {\n  subnets = { a = 1 }\n}',
            "aws_lb.x.subnets: expects a set, got an object",
        ),
        ('resource "aws_s3_bucket" {', ".: does not parse"),
        ('bogus "x" {}', "bogus.: unknown top-level block"),
    ],
)
def test_each_kind_of_problem_is_found(text: str, expected: str) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_a_second_declaration_is_found() -> None:
    found = duplicate_addresses(
        {
            "a.tf": 'resource "aws_s3_bucket" "x" {}\n',
            "b.tf": 'resource "aws_s3_bucket" "x" {}\noutput "o" {\n  value = 1\n}\n',
        }
    )
    assert [(p.file, p.address) for p in found] == [("b.tf", "aws_s3_bucket.x")]


def test_references_to_nothing_are_found() -> None:
    text = (
        'resource "aws_s3_bucket" "x" {\n'
        "  bucket = aws_s3_bucket.y.id\n"
        '  b      = "${local.nope}-${aws_s3_bucket.x.id}"\n'
        "  c      = data.aws_region.here.region\n"
        "}\n"
        "# aws_s3_bucket.in_a_comment\n"
    )
    found = [p.address for p in dangling_references({"a.tf": text})]
    assert found == ["aws_s3_bucket.y", "data.aws_region.here", "local.nope"]


def test_attribute_and_block_syntax_is_checked_on_emitter_data() -> None:
    found = check_blocks(
        [
            resource("aws_s3_bucket", "x", [Block("tags", (), {"a": "b"})]),
            resource("aws_lb_listener", "y", {"default_action": {"type": "forward"}}),
            # a set of objects may be written as blocks ("attributes as blocks")
            resource("aws_security_group", "z", [Block("ingress", (), {"from_port": 443})]),
        ],
        schema(),
    )
    assert [(p.address, p.path, p.message) for p in found] == [
        ("aws_lb_listener.y", "default_action", "is a block, written as an attribute"),
        ("aws_s3_bucket.x", "tags", "is an attribute, written as a block"),
    ]


def test_the_command_fails_on_a_broken_root_and_on_nothing(tmp_path: Path) -> None:
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "main.tf").write_text('data "aws_region" "current" {}\n')
    assert main([str(tmp_path / "good")]) == 0
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "main.tf").write_text('resource "aws_s3_bucket" "x" {\n  nope = 1\n}\n')
    assert main([str(tmp_path)]) == 1
    assert main([str(tmp_path / "empty")]) == 1
