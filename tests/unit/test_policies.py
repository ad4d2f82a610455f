"""Policy documents: least privilege, checked on the pure builders."""

from typing import Any

import pytest

from components import policies
from components.site.security import KEY_PURPOSES
from tests.helpers import as_list

ACCOUNT = "111122223333"
REGION = "eu-central-1"


def key_policy(purpose: policies.KeyPurpose, partition: str = "aws") -> dict[str, Any]:
    return policies.kms_key_policy(purpose, partition=partition, account_id=ACCOUNT, region=REGION)


def principals(document: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in document["Statement"]:
        for kind, values in statement["Principal"].items():
            found.update(f"{kind}:{v}" for v in as_list(values))
    return found


def actions(document: dict[str, Any]) -> list[str]:
    return [a for s in document["Statement"] for a in as_list(s["Action"])]


ROOT = f"AWS:arn:aws:iam::{ACCOUNT}:root"


@pytest.mark.parametrize(
    ("purpose", "expected"),
    [
        ("logs", {ROOT, f"Service:logs.{REGION}.amazonaws.com"}),
        ("alerts", {ROOT, "Service:cloudwatch.amazonaws.com"}),
        ("database", {ROOT}),
        ("secrets", {ROOT}),
        ("storage", {ROOT}),
        ("ebs", {ROOT, "AWS:*"}),
        ("audit", {ROOT}),
        ("lambda", {ROOT}),
    ],
)
def test_key_policy_names_only_the_intended_principals(purpose: policies.KeyPurpose, expected: set[str]) -> None:
    assert principals(key_policy(purpose)) == expected


def test_audit_key_is_used_only_through_s3_and_firehose() -> None:
    """The archive bucket (S3 SSE-KMS) and the stream feeding it (Firehose SSE, which creates a grant)."""
    (use,) = [s for s in key_policy("audit")["Statement"] if s.get("Sid") == "UseThroughS3AndFirehose"]
    assert use["Condition"]["StringEquals"] == {
        "kms:ViaService": [f"s3.{REGION}.amazonaws.com", f"firehose.{REGION}.amazonaws.com"],
        "kms:CallerAccount": ACCOUNT,
    }
    assert "kms:CreateGrant" in use["Action"]
    assert len([s for s in key_policy("audit")["Statement"] if "kms:Decrypt" in as_list(s["Action"])]) == 1


def test_lambda_key_is_used_only_through_lambda_and_s3_by_this_account() -> None:
    """Lambda encrypts environment variables with the caller's kms:Encrypt and a grant it creates
    (kms:CreateGrant), and reading them back needs kms:Decrypt ("Securing Lambda environment
    variables"); S3 uses the key for the code-signing artifacts bucket."""
    uses = [s for s in key_policy("lambda")["Statement"] if s["Sid"] != "AccountAdministersKey"]
    by_service = {s["Condition"]["StringEquals"]["kms:ViaService"]: s for s in uses}
    assert set(by_service) == {f"lambda.{REGION}.amazonaws.com", f"s3.{REGION}.amazonaws.com"}
    for statement in uses:
        assert statement["Condition"]["StringEquals"]["kms:CallerAccount"] == ACCOUNT
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    lambda_actions = set(by_service[f"lambda.{REGION}.amazonaws.com"]["Action"])
    assert {"kms:CreateGrant", "kms:Encrypt", "kms:Decrypt"} <= lambda_actions
    assert "kms:CreateGrant" not in by_service[f"s3.{REGION}.amazonaws.com"]["Action"]


def test_lambda_artifacts_bucket_refuses_plain_http_on_the_bucket_and_its_objects() -> None:
    arn = "arn:aws:s3:::artifacts"
    assert policies.lambda_artifacts_bucket_policy(arn)["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_rotation_function_rotates_one_secret_and_only_reads_the_master() -> None:
    document = policies.rotation_lambda_policy(
        app_secret_arn="arn:aws:secretsmanager:eu-central-1:111122223333:secret:app-AbCdEf",
        master_secret_arn="arn:aws:secretsmanager:eu-central-1:111122223333:secret:rds!cluster-AbCdEf",
        secrets_key_arn="arn:aws:kms:eu-central-1:111122223333:key/k",
        log_group="arn:aws:logs:eu-central-1:111122223333:log-group:/g",
        region=REGION,
    )
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["RotateAppSecret"]["Resource"] == "arn:aws:secretsmanager:eu-central-1:111122223333:secret:app-AbCdEf"
    assert set(by_sid["ReadMasterSecret"]["Action"]) == {
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    }
    # GetRandomPassword (bootstrap and createSecret) takes no resource ARN: "*" is its only Resource.
    assert by_sid["GeneratePasswords"] == {
        "Sid": "GeneratePasswords",
        "Effect": "Allow",
        "Action": "secretsmanager:GetRandomPassword",
        "Resource": "*",
    }
    wildcard = [s for s in document["Statement"] if "*" in as_list(s["Resource"])]
    assert [s["Sid"] for s in wildcard] == ["GeneratePasswords"]


@pytest.mark.parametrize(
    ("purpose", "service"),
    [("database", "rds"), ("secrets", "secretsmanager"), ("storage", "s3"), ("alerts", "sns")],
)
def test_data_plane_use_by_the_account_goes_only_through_the_keys_service(
    purpose: policies.KeyPurpose, service: str
) -> None:
    document = key_policy(purpose)
    use = [s for s in document["Statement"] if "kms:Decrypt" in as_list(s["Action"]) and "AWS" in s["Principal"]]
    assert len(use) == 1
    assert use[0]["Condition"]["StringEquals"] == {
        "kms:ViaService": f"{service}.{REGION}.amazonaws.com",
        "kms:CallerAccount": ACCOUNT,
    }


@pytest.mark.parametrize("purpose", KEY_PURPOSES)
def test_account_administers_but_cannot_decrypt_directly(purpose: policies.KeyPurpose) -> None:
    admin = key_policy(purpose)["Statement"][0]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert "Condition" not in admin
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:*", "*"} & set(admin["Action"])
    assert "kms:ScheduleKeyDeletion" in admin["Action"]


@pytest.mark.parametrize("purpose", KEY_PURPOSES)
def test_no_key_policy_grants_every_action(purpose: policies.KeyPurpose) -> None:
    assert not {"*", "kms:*"} & set(actions(key_policy(purpose)))


def test_cloudwatch_logs_may_use_the_logs_key_only_for_this_accounts_log_groups() -> None:
    (logs,) = [s for s in key_policy("logs")["Statement"] if "Service" in s["Principal"]]
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"}
    }


def test_cloudwatch_alarms_may_use_the_alerts_key_only_for_this_accounts_alarms() -> None:
    (cw,) = [s for s in key_policy("alerts")["Statement"] if "Service" in s["Principal"]]
    assert sorted(cw["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cw["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert cw["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"}


def test_key_policy_is_partition_aware() -> None:
    assert f"AWS:arn:aws-cn:iam::{ACCOUNT}:root" in principals(key_policy("database", partition="aws-cn"))


def test_flow_log_trust_is_limited_to_this_accounts_flow_logs() -> None:
    source = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/*"
    document = policies.service_assume_role_policy("vpc-flow-logs.amazonaws.com", account_id=ACCOUNT, source_arn=source)
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": source},
    }


def test_flow_log_delivery_is_scoped_to_one_log_group() -> None:
    group = policies.log_group_arn("aws", REGION, ACCOUNT, "/fintech/dev/vpc-flow-logs")
    (statement,) = policies.flow_log_delivery_policy(group)["Statement"]
    assert statement["Resource"] == [group, f"{group}:*"]
    assert "logs:PutLogEvents" in statement["Action"]
    assert "logs:CreateLogGroup" not in statement["Action"], "the program creates the group, encrypted"


def test_app_reads_only_its_own_secrets_and_decrypts_only_through_secrets_manager() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc"
    document = policies.app_secrets_read_policy(
        partition="aws", region=REGION, account_id=ACCOUNT, secret_name_prefix="fintech-dev/app/", secrets_key_arn=key
    )
    read, decrypt = document["Statement"]
    assert read["Resource"] == f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:fintech-dev/app/*"
    assert set(read["Action"]) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert decrypt["Resource"] == key
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}}


def test_ebs_key_is_usable_by_anyone_only_through_ec2_for_this_account() -> None:
    (open_statement,) = [s for s in key_policy("ebs")["Statement"] if s["Principal"] == {"AWS": "*"}]
    assert open_statement["Condition"] == {
        "StringEquals": {"kms:ViaService": f"ec2.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    }
    assert "kms:CreateGrant" in open_statement["Action"]


@pytest.mark.parametrize(
    ("region", "principal"),
    [
        ("eu-west-1", {"AWS": "arn:aws:iam::156460612806:root"}),
        ("us-east-1", {"AWS": "arn:aws:iam::127311923021:root"}),
        ("eu-central-2", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
        ("ap-southeast-4", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    ],
)
def test_alb_log_writer_is_the_regions_elb_principal(region: str, principal: dict[str, str]) -> None:
    assert policies.elb_log_delivery_principal("aws", region) == principal


def test_data_bucket_refuses_other_encryption_and_plain_http() -> None:
    bucket, key = "arn:aws:s3:::data", "arn:aws:kms:eu-west-1:1:key/k"
    statements = {s["Sid"]: s for s in policies.data_bucket_policy(bucket, key)["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyOtherKeys"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}
    }
    assert all(s["Effect"] == "Deny" for s in statements.values())


# CloudWatch Logs User Guide, "Enabling logging from AWS services" > "Logs sent to Amazon S3"
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-V2-S3.html and
# .../AWS-logs-infrastructure-S3.html; the policy's JSON as the guide's source gives it,
# awsdocs/amazon-cloudwatch-logs-user-guide doc_source/AWS-logs-and-resource-policy.md):
# "If the bucket currently does not have a resource policy [...] AWS automatically creates the
# following policy for it" -- the two statements below, copied from the guide with its example
# values (account 0123456789, source region us-east-1, bucket my-bucket). "If the bucket does
# have a resource policy but that policy doesn't contain the statement shown in the previous
# policy, [...] that statement is appended to the bucket's resource policy." For
# aws:SourceArn: "in the form arn:aws:logs:source-region:source-account-id:*".
DOC_ACCOUNT = "0123456789"
DOC_BUCKET_ARN = "arn:aws:s3:::my-bucket"
DOCUMENTED_LOG_DELIVERY_STATEMENTS = [
    {
        "Sid": "AWSLogDeliveryAclCheck",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": "s3:GetBucketAcl",
        "Resource": "arn:aws:s3:::my-bucket",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ["0123456789"]},
            "ArnLike": {"aws:SourceArn": ["arn:aws:logs:us-east-1:0123456789:*"]},
        },
    },
    {
        "Sid": "AWSLogDeliveryWrite",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::my-bucket/AWSLogs/0123456789/*",
        "Condition": {
            "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": ["0123456789"]},
            "ArnLike": {"aws:SourceArn": ["arn:aws:logs:us-east-1:0123456789:*"]},
        },
    },
]


def documented_logs_bucket_policy(region: str = REGION) -> dict[str, Any]:
    return policies.logs_bucket_policy(
        bucket_arn=DOC_BUCKET_ARN,
        account_id=DOC_ACCOUNT,
        partition="aws",
        region=region,
        access_log_sources=["arn:aws:s3:::archive"],
        access_log_prefix="s3-access/",
        alb_log_prefix="alb/",
    )


def test_logs_bucket_admits_vended_log_delivery_exactly_as_cloudwatch_logs_documents_it() -> None:
    """Issue 22 item 7: with any other statements AWS appends its own on the first delivery (drift)."""
    statements = documented_logs_bucket_policy()["Statement"]
    vended = [s for s in statements if s.get("Principal") == {"Service": "delivery.logs.amazonaws.com"}]
    assert vended == DOCUMENTED_LOG_DELIVERY_STATEMENTS


def test_logs_bucket_keeps_its_other_writers_and_tls_only() -> None:
    sids = [s["Sid"] for s in documented_logs_bucket_policy()["Statement"]]
    assert sids == [
        "DenyInsecureTransport",
        "S3ServerAccessLogs",
        "AlbAccessLogs",
        "AWSLogDeliveryAclCheck",
        "AWSLogDeliveryWrite",
    ]


def test_vended_log_source_is_cloudfronts_region_whatever_the_buckets() -> None:
    """CloudFront's delivery sources are in us-east-1: a bucket in eu-central-1 still names it."""
    for statement in documented_logs_bucket_policy("eu-central-1")["Statement"][-2:]:
        assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": ["arn:aws:logs:us-east-1:0123456789:*"]}


def test_enhanced_monitoring_trust_carries_the_confused_deputy_conditions_the_rds_guide_recommends() -> None:
    """RDS User Guide, "Setting up and enabling Enhanced Monitoring" > "Protecting against the
    confused deputy problem" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html):
    "we recommend using the aws:SourceArn and aws:SourceAccount global condition context keys in a
    trust policy for your Enhanced Monitoring role. If you use both global condition context keys,
    they must use the same account ID." "For Amazon RDS, set aws:SourceArn to
    arn:aws:rds:Region:my-account-id:db:dbname" -- here with the DB name wildcarded (the instances
    are auto-named and reference the role). The role's trusted entity is "the AWS service
    monitoring.rds.amazonaws.com" (same page, "To create an IAM role for Amazon RDS enhanced monitoring")."""
    (statement,) = policies.rds_monitoring_assume_role_policy(partition="aws", region=REGION, account_id=ACCOUNT)[
        "Statement"
    ]
    assert statement["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:*"},
    }


def test_enhanced_monitoring_trust_is_partition_aware() -> None:
    (statement,) = policies.rds_monitoring_assume_role_policy(
        partition="aws-cn", region="cn-north-1", account_id=ACCOUNT
    )["Statement"]
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws-cn:rds:cn-north-1:{ACCOUNT}:db:*"}
