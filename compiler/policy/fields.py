"""Which spec field governs each check, and how to fix a failure.

Checks that a spec weakening trips (rotation off, WAF off, ...) are not listed here: their
field and fix (the spec change) come from the one governance table, compiler/governance.py.

A security reviewer reads a failed check as "what, where, which spec field, how to fix".
Our SSP_ checks carry the same text in their checkov guideline (tests keep the two equal);
built-in CKV checks get it only from here. Anything not listed falls back to checkov's
own guideline.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.governance import switch_for


@dataclass(frozen=True)
class Governance:
    spec_field: str
    fix: str


FALLBACK = Governance("-", "see checkov guideline")

_KMS = "security.kms"
_WAF = "security.waf"
_TLS = "security.tls"
_AUDIT = "security.audit.cloudtrail"
_NET = "security.network"
_LEAST = "security (least privilege)"
_PUBLIC = "security (no public data)"
_RUNTIME = "compute (runtime image)"
_WAIVE = "security.waivers"

FIELDS: dict[str, Governance] = {
    # --- servespec policies (policies/*.py, policies/graph/*.yaml) ---
    "SSP_ENC_001": Governance(
        _KMS,
        'sse_algorithm = "aws:kms" and kms_master_key_id = the spec\'s CMK ARN '
        "(AES256 only on access-log buckets)",
    ),
    "SSP_ENC_002": Governance(_KMS, "set kms_key_id to the spec's CMK ARN"),
    "SSP_ENC_003": Governance(_KMS, "set kms_master_key_id to the spec's CMK, not alias/aws/sns"),
    "SSP_ENC_004": Governance(
        _KMS, 'encryption_configuration { encryption_type = "KMS", kms_key = CMK ARN }'
    ),
    "SSP_ENC_005": Governance(_KMS, "set kms_key_id to the spec's CMK ARN"),
    "SSP_ENC_006": Governance(_KMS, "set kms_key_arn to the spec's CMK ARN"),
    "SSP_ENC_007": Governance(_KMS, "set encrypted = true and kms_key_id = CMK ARN"),
    "SSP_S3_001": Governance(_PUBLIC, "set all four settings to true"),
    "SSP_S3_002": Governance(
        _PUBLIC,
        "add aws_s3_bucket_public_access_block with bucket = aws_s3_bucket.<name>.id",
    ),
    "SSP_S3_003": Governance(
        _TLS,
        "attach aws_s3_bucket_policy (jsonencode of literals) with a Deny statement "
        "on Bool aws:SecureTransport = false",
    ),
    "SSP_ALB_001": Governance(
        "security.tls.min_version",
        'ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06" (1.2) '
        'or "ELBSecurityPolicy-TLS13-1-3-2021-06" (1.3)',
    ),
    "SSP_ALB_002": Governance(
        _TLS,
        'default_action { type = "redirect" redirect { protocol = "HTTPS", '
        'port = "443", status_code = "HTTP_301" } }',
    ),
    "SSP_ALB_003": Governance("production", "set enable_deletion_protection = true"),
    "SSP_ECS_001": Governance(
        "compute.platform",
        "network_configuration { assign_public_ip = false, subnets = private subnets }",
    ),
    "SSP_ECS_002": Governance(
        _RUNTIME, 'set "user" in every container definition to a non-root uid, e.g. "10001:10001"'
    ),
    "SSP_ECS_003": Governance(_RUNTIME, 'remove "privileged": true from the container definition'),
    "SSP_ECS_004": Governance(
        _RUNTIME, 'set "readonlyRootFilesystem": true; mount a volume where the server writes'
    ),
    "SSP_EC2_001": Governance(
        "compute.platform (ec2)",
        'metadata_options { http_tokens = "required", http_put_response_hop_limit = 1 }',
    ),
    "SSP_IAM_001": Governance(_LEAST, "list the exact actions needed"),
    "SSP_IAM_002": Governance(_LEAST, "name the ARNs (bucket, key, log group) in Resource"),
    "SSP_CT_001": Governance(
        _AUDIT, "set is_multi_region_trail = true and enable_log_file_validation = true"
    ),
    "SSP_LOG_001": Governance(
        "observability.log_retention_days",
        "set retention_in_days >= the spec's value (0 keeps logs forever)",
    ),
    "SSP_BAK_001": Governance(
        "backups.retention_days", "set rule.lifecycle.delete_after >= the spec's value"
    ),
    "SSP_DR_001": Governance(
        "dr.secondary_region",
        "emit aws_s3_bucket_replication_configuration to the secondary region",
    ),
    "SSP_REG_001": Governance(
        "region / dr.secondary_region / security.compliance",
        "set the provider region to one of the allowed regions",
    ),
    "SSP_REG_002": Governance(
        "security.compliance", "with gdpr, region and dr.secondary_region are EU regions"
    ),
    "SSP_CTX_001": Governance(
        "(compiler)", "regenerate with servespec compile; see policies/README.md"
    ),
    # --- checkov built-ins that guard the same spec fields ---
    "CKV_AWS_33": Governance(_KMS, "name account/role principals in the key policy, never *"),
    "CKV_AWS_227": Governance(_KMS, "keep is_enabled = true"),
    "CKV2_AWS_64": Governance(_KMS, "give every aws_kms_key an explicit policy"),
    "CKV_AWS_3": Governance(_KMS, "set encrypted = true on the EBS volume"),
    "CKV_AWS_8": Governance(_KMS, "encrypt root and EBS block devices"),
    "CKV_AWS_189": Governance(_KMS, "set kms_key_id on the EBS volume"),
    "CKV_AWS_26": Governance(_KMS, "set kms_master_key_id on the SNS topic"),
    "CKV_AWS_136": Governance(_KMS, 'encryption_configuration { encryption_type = "KMS" }'),
    "CKV_AWS_149": Governance(_KMS, "set kms_key_id on the secret"),
    "CKV_AWS_158": Governance(_KMS, "set kms_key_id on the log group"),
    "CKV_AWS_166": Governance(_KMS, "set kms_key_arn on the backup vault"),
    "CKV_AWS_145": Governance(_KMS, "encrypt the bucket with SSE-KMS (access-log buckets: waive)"),
    "CKV_AWS_35": Governance(_AUDIT, "set kms_key_id on the trail"),
    "CKV_AWS_224": Governance(_KMS, "execute_command_configuration with kms_key_id and logging"),
    "CKV_AWS_53": Governance(_PUBLIC, "block_public_acls = true"),
    "CKV_AWS_54": Governance(_PUBLIC, "block_public_policy = true"),
    "CKV_AWS_55": Governance(_PUBLIC, "ignore_public_acls = true"),
    "CKV_AWS_56": Governance(_PUBLIC, "restrict_public_buckets = true"),
    "CKV2_AWS_6": Governance(_PUBLIC, "attach an aws_s3_bucket_public_access_block"),
    "CKV_AWS_70": Governance(_PUBLIC, "no Allow statement with Principal * in bucket policies"),
    "CKV_AWS_18": Governance(_AUDIT, "add aws_s3_bucket_logging to the access-log bucket"),
    "CKV_AWS_21": Governance("backups", "enable aws_s3_bucket_versioning"),
    "CKV_AWS_144": Governance("dr.secondary_region", "add S3 cross-region replication"),
    "CKV2_AWS_61": Governance("backups", "add aws_s3_bucket_lifecycle_configuration"),
    "CKV2_AWS_62": Governance("observability", "add aws_s3_bucket_notification (EventBridge)"),
    "CKV_AWS_300": Governance("backups", "abort_incomplete_multipart_upload in the lifecycle"),
    "CKV_AWS_2": Governance(_TLS, "use protocol HTTPS (port 80 only redirects)"),
    "CKV_AWS_103": Governance("security.tls.min_version", "use a TLS 1.2+ ssl_policy"),
    "CKV2_AWS_20": Governance(_TLS, "make the port-80 listener redirect to HTTPS"),
    "CKV2_AWS_74": Governance("security.tls.min_version", "use ELBSecurityPolicy-TLS13-1-2-*"),
    "CKV_AWS_91": Governance("observability", "enable ALB access_logs to the log bucket"),
    "CKV_AWS_131": Governance(_TLS, "set drop_invalid_header_fields = true"),
    "CKV_AWS_150": Governance("production", "enable_deletion_protection = true"),
    "CKV_AWS_328": Governance(_TLS, 'desync_mitigation_mode = "defensive" or "strictest"'),
    "CKV2_AWS_31": Governance(_WAF, "add aws_wafv2_web_acl_logging_configuration"),
    "CKV_AWS_192": Governance(_WAF, "add AWSManagedRulesKnownBadInputsRuleSet"),
    "CKV2_AWS_76": Governance(_WAF, "add AWSManagedRulesKnownBadInputsRuleSet"),
    "CKV_AWS_342": Governance(_WAF, "give every WAF rule an action"),
    "CKV_AWS_175": Governance(_WAF, "give the web ACL rules"),
    "CKV_AWS_24": Governance(_NET, "never open port 22 to 0.0.0.0/0; use SSM or ECS exec"),
    "CKV_AWS_25": Governance(_NET, "never open port 3389 to 0.0.0.0/0"),
    "CKV_AWS_260": Governance(_NET, "port 80 only for the HTTPS redirect (waive with reason)"),
    "CKV_AWS_277": Governance(_NET, "never open all ports to 0.0.0.0/0"),
    "CKV_AWS_382": Governance(_NET, "restrict egress to the ports and CIDRs needed"),
    "CKV_AWS_23": Governance(_NET, "describe the security group and every rule"),
    "CKV2_AWS_5": Governance(_NET, "attach the security group or remove it"),
    "CKV2_AWS_12": Governance(_NET, "restrict the VPC's default security group"),
    "CKV2_AWS_11": Governance(_AUDIT, "add VPC flow logs"),
    "CKV_AWS_65": Governance("observability", "enable container insights on the cluster"),
    "CKV_AWS_223": Governance(_AUDIT, "log ECS exec sessions"),
    "CKV_AWS_249": Governance(_LEAST, "use separate task and execution roles"),
    "CKV_AWS_333": Governance("compute.platform", "assign_public_ip = false"),
    "CKV_AWS_334": Governance(_RUNTIME, "do not run containers privileged"),
    "CKV_AWS_336": Governance(_RUNTIME, "readonlyRootFilesystem = true"),
    "CKV_AWS_79": Governance("compute.platform (ec2)", 'http_tokens = "required"'),
    "CKV_AWS_341": Governance("compute.platform (ec2)", "http_put_response_hop_limit = 1"),
    "CKV_AWS_88": Governance("compute.platform (ec2)", "no public IP on instances"),
    "CKV_AWS_62": Governance(_LEAST, 'no "*:*" administrator statements'),
    "CKV_AWS_63": Governance(_LEAST, 'no "*" actions'),
    "CKV_AWS_286": Governance(_LEAST, "remove privilege-escalation actions or add conditions"),
    "CKV_AWS_287": Governance(_LEAST, "remove credential-exposing actions"),
    "CKV_AWS_288": Governance(_LEAST, "scope data-reading actions to named resources"),
    "CKV_AWS_289": Governance(_LEAST, "scope permission-management actions"),
    "CKV_AWS_290": Governance(_LEAST, "scope write actions to named resources"),
    "CKV_AWS_355": Governance(_LEAST, "name resources instead of * for restrictable actions"),
    "CKV_AWS_60": Governance(_LEAST, "trust only the named service or OIDC subject"),
    "CKV_AWS_61": Governance(_LEAST, "trust only the named service or OIDC subject"),
    "CKV_AWS_36": Governance(_AUDIT, "enable_log_file_validation = true"),
    "CKV_AWS_67": Governance(_AUDIT, "is_multi_region_trail = true"),
    "CKV_AWS_251": Governance(_AUDIT, "enable_logging = true"),
    "CKV_AWS_252": Governance(_AUDIT, "set sns_topic_name on the trail"),
    "CKV2_AWS_10": Governance(_AUDIT, "send the trail to a CloudWatch log group"),
    "CKV_AWS_66": Governance("observability.log_retention_days", "set retention_in_days"),
    "CKV_AWS_51": Governance("model.version", "image_tag_mutability = IMMUTABLE"),
    "CKV_AWS_163": Governance(_RUNTIME, "scan_on_push = true"),
    "CKV2_AWS_57": Governance(_KMS, "add aws_secretsmanager_secret_rotation"),
    "CKV_AWS_304": Governance(_KMS, "rotate the secret within 90 days"),
    "CKV2_AWS_9": Governance("backups", "select the EBS volumes in the backup plan"),
}


def governance(check_id: str) -> Governance:
    """The spec field and fix for a check, or the fallback when we have none."""
    switch = switch_for(check_id)
    if switch is not None:
        return Governance(switch.field, switch.fix(check_id))
    return FIELDS.get(check_id, FALLBACK)
