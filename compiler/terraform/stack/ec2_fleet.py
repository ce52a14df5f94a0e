"""The EC2 fleet behind the ECS cluster (compute.platform ec2): the ECS-optimized AMI, a
launch template with IMDSv2 and CMK-encrypted volumes, the Auto Scaling group and the
capacity provider that scales it."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Call, Expr, Ref, Template, resource
from compiler.terraform.plan import blue_green

from . import common

AMI_PARAMETERS = {
    ("x86_64", False): "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    ("x86_64", True): "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
    ("arm64", False): "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
}
ROOT_VOLUME_GIB = {False: 40, True: 100}  # GPU AMIs and CUDA images are large


def blocks(spec: ResolvedSpec) -> list[Block]:
    parameter = AMI_PARAMETERS[(spec.compute.architecture, spec.compute.gpu is not None)]
    return [
        Block("data", ("aws_ssm_parameter", "ecs_ami"), {"name": parameter}),
        _launch_template(spec),
        _autoscaling_group(spec),
        _capacity_provider(),
    ]


def _user_data() -> Call:
    return Call(
        "base64encode",
        Call(
            "join",
            "\n",
            [
                "#!/bin/bash",
                Template("echo ECS_CLUSTER=${local.name} >> /etc/ecs/ecs.config"),
                # Tasks must not borrow the instance's credentials through IMDS.
                "echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config",
                "echo ECS_ENABLE_TASK_IAM_ROLE=true >> /etc/ecs/ecs.config",
                "",
            ],
        ),
    )


def _launch_template(spec: ResolvedSpec) -> Block:
    gpu = spec.compute.gpu is not None
    user_data = _user_data()
    return resource(
        "aws_launch_template",
        "ecs",
        [
            {
                "name_prefix": Template("${local.name}-ecs-"),
                "image_id": Ref("data.aws_ssm_parameter.ecs_ami.value"),
                "instance_type": spec.compute.instance_type,
                "ebs_optimized": True,
                "vpc_security_group_ids": [Ref("aws_security_group.tasks.id")],
                "user_data": user_data,
                "update_default_version": True,
            },
            Block("iam_instance_profile", (), {"arn": Ref("aws_iam_instance_profile.ecs.arn")}),
            Block(
                "metadata_options",
                (),
                {
                    "http_endpoint": "enabled",
                    "http_tokens": "required",
                    "http_put_response_hop_limit": 1,
                },
            ),
            Block("monitoring", (), {"enabled": True}),
            Block(
                "block_device_mappings",
                (),
                [
                    {"device_name": "/dev/xvda"},
                    Block(
                        "ebs",
                        (),
                        {
                            "volume_size": ROOT_VOLUME_GIB[gpu],
                            "volume_type": "gp3",
                            "encrypted": "true",
                            "kms_key_id": Ref("aws_kms_key.main.arn"),
                            "delete_on_termination": "true",
                        },
                    ),
                ],
            ),
            Block(
                "tag_specifications",
                (),
                {"resource_type": "instance", "tags": {"Name": Template("${local.name}-ecs")}},
            ),
        ],
    )


def _autoscaling_group(spec: ResolvedSpec) -> Block:
    per_variant = spec.scaling.max * (2 if blue_green(spec) else 1)
    return resource(
        "aws_autoscaling_group",
        "ecs",
        [
            {
                "name": Template("${local.name}-ecs"),
                "min_size": 0,
                "max_size": per_variant * len(common.variants(spec)),
                "vpc_zone_identifier": Ref("local.private_subnet_ids"),
                "health_check_type": "EC2",
                # ECS managed termination protection needs instances protected from scale-in.
                "protect_from_scale_in": True,
            },
            Block(
                "launch_template",
                (),
                {"id": Ref("aws_launch_template.ecs.id"), "version": "$Latest"},
            ),
            Block(
                "tag",
                (),
                {"key": "AmazonECSManaged", "value": "true", "propagate_at_launch": True},
            ),
            Block("lifecycle", (), {"ignore_changes": [Expr("desired_capacity")]}),
        ],
    )


def _capacity_provider() -> Block:
    return resource(
        "aws_ecs_capacity_provider",
        "ec2",
        [
            {"name": Template("${local.name}-ec2")},
            Block(
                "auto_scaling_group_provider",
                (),
                [
                    {
                        "auto_scaling_group_arn": Ref("aws_autoscaling_group.ecs.arn"),
                        "managed_termination_protection": "ENABLED",
                    },
                    Block(
                        "managed_scaling",
                        (),
                        {
                            "status": "ENABLED",
                            "target_capacity": 100,
                            "minimum_scaling_step_size": 1,
                            "maximum_scaling_step_size": 4,
                        },
                    ),
                ],
            ),
        ],
    )
