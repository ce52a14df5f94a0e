"""Defects that pass the schema, the reference check and checkov, and still fail a real
`terraform apply` (issue 11): each test pins one, on the example specs' output."""

from __future__ import annotations

from functools import cache
from typing import Any

import pygohcl
import pytest

from compiler.runbook import emit as runbook_emit
from compiler.terraform.stack import common

from .support import artifacts, environments

Resources = dict[tuple[str, str], dict[str, Any]]


@cache
def resources(example: str, env: str) -> Resources:
    """Every resource of one environment root, by (type, label)."""
    prefix = f"generated/{example}/{env}/terraform/"
    found: Resources = {}
    for artifact in artifacts(example):
        if artifact.path.startswith(prefix) and artifact.path.endswith(".tf"):
            tree = pygohcl.loads(artifact.content)
            for kind, labelled in tree.get("resource", {}).items():
                for label, body in labelled.items():
                    found[(kind, label)] = body
    return found


def of_type(example: str, env: str, kind: str) -> dict[str, dict[str, Any]]:
    return {label: body for (k, label), body in resources(example, env).items() if k == kind}


ENVS = [(e, env) for e in ("assistant", "clinical-notes") for env in ("staging", "prod")]


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_backup_attaches_managed_policies_by_their_documented_arns(example: str, env: str) -> None:
    # AWS managed policy reference: the S3 ones have no service-role/ path (NoSuchEntity).
    arns = {
        body["policy_arn"].rsplit(":", 1)[1]
        for label, body in of_type(example, env, "aws_iam_role_policy_attachment").items()
        if label.startswith("backup_")
    }
    assert arns == {
        "policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "policy/service-role/AWSBackupServiceRolePolicyForRestores",
        "policy/AWSBackupServiceRolePolicyForS3Backup",
        "policy/AWSBackupServiceRolePolicyForS3Restore",
    }


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_listeners_use_the_validated_certificate(example: str, env: str) -> None:
    # ELB refuses a pending certificate (UnsupportedCertificate): wait for validation.
    listeners = of_type(example, env, "aws_lb_listener")
    https = {label: b for label, b in listeners.items() if b.get("protocol") == "HTTPS"}
    assert https, "no HTTPS listener"
    for label, body in https.items():
        assert body["certificate_arn"].startswith("aws_acm_certificate_validation."), label
    waiters = of_type(example, env, "aws_acm_certificate_validation")
    secondary = ("aws_lb", "secondary") in resources(example, env)
    assert set(waiters) == {"api", *(["secondary"] if secondary else [])}


def test_with_a_hosted_zone_the_stack_writes_the_validation_records() -> None:
    waiter = of_type("clinical-notes", "prod", "aws_acm_certificate_validation")["api"]
    assert "aws_route53_record.certificate_validation" in waiter["validation_record_fqdns"]
    record = of_type("clinical-notes", "prod", "aws_route53_record")["certificate_validation"]
    assert record["zone_id"] == "Z0123456789ABCDEFGHIJ"


def test_without_a_hosted_zone_outputs_and_runbook_name_the_cname() -> None:
    waiter = of_type("assistant", "prod", "aws_acm_certificate_validation")["api"]
    assert "validation_record_fqdns" not in waiter  # waits for the operator's record
    outputs = next(
        a.content for a in artifacts("assistant") if a.path.endswith("prod/terraform/outputs.tf")
    )
    assert 'output "certificate_validation_records"' in outputs
    runbook = runbook_emit(environments("assistant"))[0].content
    assert "terraform output certificate_validation_records" in runbook
    assert (
        "certificate_validation_records"
        not in runbook_emit(environments("clinical-notes"))[0].content
    )


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_replication_event_threshold_only_with_replication_time_control(
    example: str, env: str
) -> None:
    configs = of_type(example, env, "aws_s3_bucket_replication_configuration")
    for label, body in configs.items():
        destination = body["rule"]["destination"]
        assert destination["metrics"]["status"] == "Enabled", label
        has_rtc = "replication_time" in destination
        assert ("event_threshold" in destination["metrics"]) == has_rtc, label


def test_some_example_replicates_without_rtc() -> None:
    """The test above must see both cases, or it proves nothing."""
    seen = {
        "replication_time" in body["rule"]["destination"]
        for example, env in ENVS
        for body in of_type(example, env, "aws_s3_bucket_replication_configuration").values()
    }
    assert seen == {True, False}


def _redacted(body: dict[str, Any]) -> Any:
    return body["redacted_fields"]["single_header"]["name"]


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_every_regions_waf_logs_redact_the_api_key(example: str, env: str) -> None:
    configs = of_type(example, env, "aws_wafv2_web_acl_logging_configuration")
    assert configs
    assert {label: _redacted(body) for label, body in configs.items()} == dict.fromkeys(
        configs, "authorization"
    )


def _overrides(rule: dict[str, Any]) -> list[str]:
    group = rule["statement"]["managed_rule_group_statement"]
    found = group.get("rule_action_override", [])
    overrides = found if isinstance(found, list) else [found]
    return [o["name"] for o in overrides if "count" in o["action_to_use"]]


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_waf_does_not_block_hosting_providers(example: str, env: str) -> None:
    # Servers call this API, mostly from clouds; the anonymous-IP group's hosting-provider
    # rule only counts (VPNs, proxies and Tor stay blocked).
    for label, acl in of_type(example, env, "aws_wafv2_web_acl").items():
        rules = acl["rule"] if isinstance(acl["rule"], list) else [acl["rule"]]
        [anonymous] = [
            r
            for r in rules
            if r["statement"].get("managed_rule_group_statement", {}).get("name")
            == "AWSManagedRulesAnonymousIpList"
        ]
        assert _overrides(anonymous) == ["HostingProviderIPList"], label


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_services_wait_for_their_roles_permissions(example: str, env: str) -> None:
    # IAM is eventually consistent: a service created before its roles' policies are
    # attached fails (blue/green: ECS may not rewrite the listener rule).
    found = resources(example, env)
    tasks = of_type(example, env, "aws_ecs_task_definition")
    for label, service in of_type(example, env, "aws_ecs_service").items():
        waits = set(service["depends_on"])
        task = tasks[service["task_definition"].split(".")[1]]
        # The policies of the roles the service's tasks assume (in either region).
        roles = {task[key].split(".")[1] for key in ("execution_role_arn", "task_role_arn")}
        assert {f"aws_iam_role_policy.{role}" for role in roles} <= waits, label
        config = service.get("load_balancer", {}).get("advanced_configuration")
        if config:  # ECS-native blue/green
            assert "aws_iam_role_policy_attachment.ecs_load_balancers" in waits, label
    assert found


def test_some_example_deploys_blue_green() -> None:
    """The test above must see a blue/green service, or it proves nothing."""
    services = [s for e, env in ENVS for s in of_type(e, env, "aws_ecs_service").values()]
    assert any(s.get("load_balancer", {}).get("advanced_configuration") for s in services)


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_log_groups_are_named_in_one_place(example: str, env: str) -> None:
    spec = next(s for s in environments(example) if s.environment == env)
    names = {**common.log_group_names(spec)}
    if ("aws_lb", "secondary") in resources(example, env):
        names |= common.secondary_log_group_names(spec)
    groups = of_type(example, env, "aws_cloudwatch_log_group")
    assert set(groups) <= set(names)
    assert {label: body["name"] for label, body in groups.items()} == {
        label: names[label] for label in groups
    }


def _rules(acl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rules = acl["rule"] if isinstance(acl["rule"], list) else [acl["rule"]]
    return {rule["name"]: rule for rule in rules}


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_each_api_key_is_rate_limited_across_tasks(example: str, env: str) -> None:
    # Issue 15: serving.rate_limit_per_key_rpm holds for the whole fleet, not per task.
    spec = next(s for s in environments(example) if s.environment == env)
    for label, acl in of_type(example, env, "aws_wafv2_web_acl").items():
        rules = _rules(acl)
        statement = rules["rate-limit-per-key"]["statement"]["rate_based_statement"]
        assert statement["aggregate_key_type"] == "CUSTOM_KEYS", label
        assert statement["custom_key"]["header"]["name"] == "authorization"
        assert statement["evaluation_window_sec"] == 60
        assert statement["limit"] == max(10, spec.serving.rate_limit_per_key_rpm)
        assert "block" in rules["rate-limit-per-key"]["action"]
        priorities = [rule["priority"] for rule in rules.values()]
        assert len(set(priorities)) == len(priorities)


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_services_also_track_the_runtimes_queue_depth(example: str, env: str) -> None:
    # Issue 15: scale on the LLM's own load (runtime/metrics.py EMF), beside requests.
    spec = next(s for s in environments(example) if s.environment == env)
    policies = of_type(example, env, "aws_appautoscaling_policy")
    for variant in common.variants(spec):
        tracking = policies[f"{variant.key}_queue"]["target_tracking_scaling_policy_configuration"]
        metric = tracking["customized_metric_specification"]
        assert (metric["namespace"], metric["metric_name"]) == (
            spec.metrics_namespace,
            "QueueDepth",
        )
        # This variant's tasks only (tests/runtime/test_scaling_signal.py: the runtime's EMF).
        assert metric["dimensions"] == [
            {"name": "Model", "value": spec.model.name},
            {"name": "Variant", "value": variant.key if spec.variants else "default"},
        ]
        assert tracking["target_value"] == spec.scaling.target_queue_depth
        assert f"{variant.key}_requests" in policies


@pytest.mark.parametrize("example", ["assistant", "clinical-notes"])
def test_environments_serve_distinct_host_names(example: str) -> None:
    # staging and prod creating the same Route 53 records: the second apply collides.
    names: dict[str, set[str]] = {}
    for env in ("staging", "prod"):
        found = {
            str(body["domain_name"])
            for body in of_type(example, env, "aws_acm_certificate").values()
        }
        found |= {
            str(body["name"])
            for label, body in of_type(example, env, "aws_route53_record").items()
            if label != "certificate_validation"  # names ACM derives from the domain
        }
        names[env] = found
    assert names["staging"] and names["prod"]
    assert names["staging"].isdisjoint(names["prod"])


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_the_dr_load_balancer_has_the_primarys_api_alarms(example: str, env: str) -> None:
    found = resources(example, env)
    if ("aws_lb", "secondary") not in found:
        return
    alarms = of_type(example, env, "aws_cloudwatch_metric_alarm")
    for label in ("p99_latency", "error_rate"):
        secondary = alarms[f"{label}_secondary"]
        assert secondary["provider"] == "aws.secondary"
        # CloudWatch notifies only topics of its own region
        assert secondary["alarm_actions"] == ["aws_sns_topic.alarms_secondary.arn"]
        assert secondary["threshold"] == alarms[label]["threshold"]
    topic = of_type(example, env, "aws_sns_topic")["alarms_secondary"]
    assert topic["kms_master_key_id"].endswith(".secondary.arn")


@pytest.mark.parametrize(("example", "env"), ENVS)
def test_replication_starts_only_once_its_role_may_replicate(example: str, env: str) -> None:
    # S3 marks an object that fails to replicate for want of the role's (or KMS) permissions
    # FAILED and never retries it: only a new upload or S3 Batch Replication copies it
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html). The
    # first deploy's saved plan targets the models bucket's replication and then pushes the
    # model; `-target` brings along what a target depends on, so the role's policy must be a
    # dependency or the pushed model never reaches the DR region (a re-push skips it: same).
    configs = of_type(example, env, "aws_s3_bucket_replication_configuration")
    policies = of_type(example, env, "aws_iam_role_policy")
    for label, config in configs.items():
        role = config["role"].split(".")[1]
        assert role in policies, label
        assert f"aws_iam_role_policy.{role}" in config["depends_on"], label
    if env == "prod":
        assert configs
