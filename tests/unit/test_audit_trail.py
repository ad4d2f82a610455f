"""The stack's CloudTrail trail (components/between/audit_trail.py) and the CIS alarms on it.

What is checked, against the documents cited in the component: the selectors name exactly the
archives' objects of every site and leave out the trail's own log files; validation, the audit key
and the cloudtrail/ prefix; the log group and the role CloudTrail writes into it with; the audit
archive's and the audit key's statements for this one trail (their conditions, the trail's exact
ARN), evaluated against the requests CloudTrail makes; the filter patterns, letter for letter as
Security Hub publishes them, matching a sample CloudTrail event and not a benign one; each filter
feeding an alarm with alarm and OK actions on the home site's topic.

moto (5.2) does not evaluate CloudWatch Logs JSON filter patterns: it treats every pattern that
does not start with a letter or a quote as matching everything (``moto/logs/utils.py``,
``UnsupportedFilterPattern``), and has no TestMetricFilter. A test below pins that, so the day it
does the patterns are checked there too; until then ``matches`` below is a minimal evaluator of the
JSON pattern syntax the CIS patterns use (CloudWatch Logs User Guide, "Using filter patterns to
match terms in JSON log events"): selectors ``$.a.b``, ``=``/``!=`` on quoted or bare values with
``*`` wildcards, ``NOT EXISTS``, ``&&``, ``||`` and parentheses.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from components import policies
from offline.harness import ResourceRecord, StackRun, run_stack
from tests.helpers import as_list, doc, record_by_output

TRAIL = "aws:cloudtrail/trail:Trail"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUCKET = "aws:s3/bucket:Bucket"
ACCOUNT = "123456789012"

# Copied from Security Hub's "Security Hub CSPM controls for Amazon CloudWatch"
# (https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html), control by control.
EXPECTED_PATTERNS = {
    "RootAccountUsage": (
        '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}'
    ),
    "UnauthorizedAPICalls": '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    "ConsoleSigninWithoutMFA": (
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
        '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }'
    ),
    "IAMPolicyChanges": (
        "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || "
        "($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
        "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || "
        "($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
        "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || "
        "($.eventName=DetachGroupPolicy)}"
    ),
    "CloudTrailChanges": (
        "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || "
        "($.eventName=StartLogging) || ($.eventName=StopLogging)}"
    ),
    "ConsoleAuthenticationFailure": '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
    "DisableOrDeleteCMK": (
        "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}"
    ),
    "S3BucketPolicyChanges": (
        "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || "
        "($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || "
        "($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || "
        "($.eventName=DeleteBucketReplication))}"
    ),
    "AWSConfigChanges": (
        "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || "
        "($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || "
        "($.eventName=PutConfigurationRecorder))}"
    ),
    "SecurityGroupChanges": (
        "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || "
        "($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || "
        "($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}"
    ),
    "NetworkACLChanges": (
        "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || "
        "($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || "
        "($.eventName=ReplaceNetworkAclAssociation)}"
    ),
    "NetworkGatewayChanges": (
        "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || "
        "($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || "
        "($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}"
    ),
    "RouteTableChanges": (
        "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || "
        "($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || "
        "($.eventName=DisassociateRouteTable)}"
    ),
    "VPCChanges": (
        "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || "
        "($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || "
        "($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || "
        "($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || "
        "($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}"
    ),
}


# --------------------------------------------------------------------------- sample events

# The IAM user sign-in records of the CloudTrail User Guide ("AWS console sign-in events").
CONSOLE_LOGIN_WITHOUT_MFA = {
    "eventVersion": "1.05",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDACKCEVSQ6C2EXAMPLE",
        "arn": "arn:aws:iam::111122223333:user/anaya",
        "accountId": "111122223333",
        "userName": "anaya",
    },
    "eventTime": "2018-08-29T16:24:34Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-2",
    "sourceIPAddress": "192.0.2.0",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"MobileVersion": "No", "LoginTo": "https://console.aws.amazon.com/sns", "MFAUsed": "No"},
    "eventID": "3fcfb182-98f8-4744-bd45-10a395ab61cb",
    "eventType": "AwsConsoleSignin",
}
CONSOLE_LOGIN_WITH_MFA = {
    **CONSOLE_LOGIN_WITHOUT_MFA,
    "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home", "MFAUsed": "Yes"},
}
CONSOLE_LOGIN_FAILED = {
    **CONSOLE_LOGIN_WITH_MFA,
    "errorMessage": "Failed authentication",
    "responseElements": {"ConsoleLogin": "Failure"},
}


def api_call(source: str, name: str, **extra: Any) -> dict[str, Any]:
    """A CloudTrail record of an IAM role's API call (the fields the patterns read)."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/session",
            "accountId": ACCOUNT,
        },
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
        **extra,
    }


ROOT_CALL = {**api_call("iam.amazonaws.com", "CreateAccessKey"), "userIdentity": {"type": "Root", "accountId": ACCOUNT}}
# What matches each filter, and a neighbour that must not.
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "RootAccountUsage": (
        ROOT_CALL,
        # AWS acting as the root user for a service is not the root user signing in.
        {**ROOT_CALL, "userIdentity": {"type": "Root", "invokedBy": "support.amazonaws.com"}},
    ),
    "UnauthorizedAPICalls": (
        # A refused read of the transaction archive (a data event the trail records).
        api_call("s3.amazonaws.com", "GetObject", errorCode="AccessDenied", errorMessage="Access Denied"),
        api_call("s3.amazonaws.com", "GetObject"),
    ),
    "ConsoleSigninWithoutMFA": (CONSOLE_LOGIN_WITHOUT_MFA, CONSOLE_LOGIN_WITH_MFA),
    "IAMPolicyChanges": (
        api_call("iam.amazonaws.com", "PutRolePolicy"),
        api_call("iam.amazonaws.com", "GetRolePolicy"),
    ),
    "CloudTrailChanges": (
        api_call("cloudtrail.amazonaws.com", "StopLogging"),
        api_call("cloudtrail.amazonaws.com", "DescribeTrails"),
    ),
    "ConsoleAuthenticationFailure": (CONSOLE_LOGIN_FAILED, CONSOLE_LOGIN_WITH_MFA),
    "DisableOrDeleteCMK": (
        api_call("kms.amazonaws.com", "ScheduleKeyDeletion"),
        api_call("kms.amazonaws.com", "Decrypt"),
    ),
    "S3BucketPolicyChanges": (
        api_call("s3.amazonaws.com", "PutBucketPolicy"),
        api_call("s3.amazonaws.com", "GetBucketPolicy"),
    ),
    "AWSConfigChanges": (
        api_call("config.amazonaws.com", "StopConfigurationRecorder"),
        api_call("config.amazonaws.com", "DescribeConfigurationRecorders"),
    ),
    "SecurityGroupChanges": (
        api_call("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
        api_call("ec2.amazonaws.com", "DescribeSecurityGroups"),
    ),
    "NetworkACLChanges": (
        api_call("ec2.amazonaws.com", "CreateNetworkAclEntry"),
        api_call("ec2.amazonaws.com", "DescribeNetworkAcls"),
    ),
    "NetworkGatewayChanges": (
        api_call("ec2.amazonaws.com", "AttachInternetGateway"),
        api_call("ec2.amazonaws.com", "DescribeInternetGateways"),
    ),
    "RouteTableChanges": (
        api_call("ec2.amazonaws.com", "CreateRoute"),
        api_call("ec2.amazonaws.com", "DescribeRouteTables"),
    ),
    "VPCChanges": (
        api_call("ec2.amazonaws.com", "CreateVpcPeeringConnection"),
        api_call("ec2.amazonaws.com", "DescribeVpcs"),
    ),
}


# --------------------------------------------------------------------------- a minimal pattern evaluator

_TOKEN = re.compile(r'\s*(\{|\}|\(|\)|&&|\|\||!=|=|NOT EXISTS|IS NULL|\$\.[\w.]+|"[^"]*"|[^\s(){}=!&|"]+)')


def _tokens(pattern: str) -> list[str]:
    found, at = [], 0
    while at < len(pattern.rstrip()):
        m = _TOKEN.match(pattern, at)
        assert m, f"cannot read {pattern[at:]!r}"
        found.append(m.group(1))
        at = m.end()
    return found


def _lookup(event: dict[str, Any], selector: str) -> tuple[bool, Any]:
    value: Any = event
    for part in selector.removeprefix("$.").split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _equal(actual: Any, expected: str) -> bool:
    text = expected[1:-1] if expected.startswith('"') else expected
    return isinstance(actual, str) and fnmatch.fnmatchcase(actual, text.replace("[", "[[]"))


def matches(pattern: str, event: dict[str, Any]) -> bool:
    """Does a CloudWatch Logs JSON filter pattern select ``event``? (``&&`` binds tighter than ``||``;
    a comparison on a missing property is false.)"""
    tokens = _tokens(pattern)
    assert tokens[0] == "{", pattern
    assert tokens[-1] == "}", pattern
    stream: Iterator[str] = iter(tokens[1:-1])
    pending: list[str] = []

    def take() -> str:
        return pending.pop() if pending else next(stream, "")

    def comparison() -> bool:
        token = take()
        if token == "(":
            result = disjunction()
            assert take() == ")", pattern
            return result
        assert token.startswith("$."), f"{pattern}: selector expected, got {token!r}"
        operator = take()
        present, actual = _lookup(event, token)
        if operator == "NOT EXISTS":
            return not present
        if operator == "IS NULL":
            return present and actual is None
        value = take()
        if operator == "=":
            return present and _equal(actual, value)
        assert operator == "!=", f"{pattern}: operator {operator!r}"
        return present and not _equal(actual, value)

    def conjunction() -> bool:
        result = comparison()
        while (token := take()) == "&&":
            result = comparison() and result
        pending.append(token)
        return result

    def disjunction() -> bool:
        result = conjunction()
        while (token := take()) == "||":
            result = conjunction() or result
        pending.append(token)
        return result

    result = disjunction()
    assert take() == "", f"{pattern}: unread tokens"
    return result


def test_the_evaluator_reads_the_syntax_the_patterns_use() -> None:
    event = {"a": {"b": "AccessDeniedException"}, "c": "x"}
    assert matches('{$.a.b = "AccessDenied*"}', event)
    assert not matches('{$.a.b = "*Operation"}', event)
    assert matches("{($.c = y) || ($.c = x)}", event)
    assert not matches("{($.c = x) && ($.d = x)}", event)
    assert matches("{$.d NOT EXISTS && $.c != y}", event)
    assert not matches("{$.d != y}", event), "a comparison on a missing property is false"


# --------------------------------------------------------------------------- the recorded graph


def trail_of(run: StackRun) -> ResourceRecord:
    (trail,) = run.of_type(TRAIL)
    return trail


def archives(run: StackRun, purpose: str) -> list[ResourceRecord]:
    return [b for b in run.of_type(BUCKET) if (b.inputs.get("tags") or {}).get("Purpose") == purpose]


def home_audit_bucket(run: StackRun) -> ResourceRecord:
    (bucket,) = [b for b in run.of_type(BUCKET) if b.state["bucket"] == run.outputs["audit_bucket_name"]]
    return bucket


def bucket_policy(run: StackRun, bucket: ResourceRecord) -> dict[str, Any]:
    (policy,) = [p for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == bucket.id]
    return doc(policy)


def trail_arn(run: StackRun) -> str:
    suffix = run.config["payments-platform:envSuffix"]
    return f"arn:aws:cloudtrail:{run.config['aws:region']}:{ACCOUNT}:trail/fintech-{suffix}-audit-trail"


@pytest.fixture(params=["dev", "prod"])
def whole(request: pytest.FixtureRequest) -> StackRun:
    """Each stack with all its sites (the tier tests' fixtures narrow to the home site)."""
    return run_stack(request.param)


def selectors(trail: ResourceRecord) -> dict[str, dict[str, dict[str, list[str]]]]:
    """The trail's advanced event selectors by name: field -> operator -> values (sorted: the values of
    one operator are alternatives, their order means nothing)."""
    return {
        s["name"]: {f["field"]: {k: sorted(v) for k, v in f.items() if k != "field"} for f in s["fieldSelectors"]}
        for s in trail.inputs["advancedEventSelectors"]
    }


def test_every_stack_has_one_trail_in_its_home_region(whole: StackRun) -> None:
    trail = trail_of(whole)
    assert trail.region == whole.config["aws:region"]
    assert trail.inputs["name"] == f"fintech-{whole.config['payments-platform:envSuffix']}-audit-trail"
    assert trail.state["arn"] == trail_arn(whole), "the ARN the policies name before the trail exists"
    assert not whole.standby().of_type(TRAIL), "one trail records every region"


def test_the_selectors_name_exactly_the_archives_objects_of_every_site(whole: StackRun) -> None:
    data = sorted(f"{b.state['arn']}/" for b in archives(whole, "transaction-archive"))
    audit = sorted(f"{b.state['arn']}/" for b in archives(whole, "audit-log-archive"))
    assert len(data) == len(audit) == (2 if whole.setting("standbyRegion") else 1)
    objects = {"eventCategory": {"equals": ["Data"]}, "resources.type": {"equals": ["AWS::S3::Object"]}}
    assert selectors(trail_of(whole)) == {
        "Management events, read and write": {"eventCategory": {"equals": ["Management"]}},
        "Transaction archive objects, read and write": {**objects, "resources.ARN": {"startsWiths": data}},
        "Audit archive objects, read and write, not the trail's own log files": {
            **objects,
            # Every site's: replication copies the log files to the other site's archive.
            "resources.ARN": {"startsWiths": audit, "notStartsWiths": [f"{arn}cloudtrail/" for arn in audit]},
        },
    }


def test_without_management_events_the_archives_are_still_recorded() -> None:
    run = run_stack("dev", {"managementEvents": "false"})
    found = selectors(trail_of(run))
    assert "Management events, read and write" not in found
    assert found == {k: v for k, v in selectors(trail_of(run_stack("dev"))).items() if k in found}
    assert len(found) == 2


def test_the_trail_validates_encrypts_and_delivers_under_its_prefix(whole: StackRun) -> None:
    trail = trail_of(whole)
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True
    assert trail.inputs["enableLogging"] is True
    assert trail.inputs["kmsKeyId"] == whole.outputs["kms_key_arns"]["audit"]
    assert trail.inputs["s3BucketName"] == whole.outputs["audit_bucket_name"]
    assert trail.inputs["s3KeyPrefix"] == "cloudtrail"
    # Created once the archive admits it (CloudTrail checks the bucket policy at CreateTrail).
    policy = [
        p
        for p in whole.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if p.inputs["bucket"] == home_audit_bucket(whole).id
    ]
    assert policy[0].urn in trail.dependencies


def test_the_trail_writes_into_its_own_encrypted_log_group_through_a_role_for_it_alone(whole: StackRun) -> None:
    trail = trail_of(whole)
    suffix = whole.config["payments-platform:envSuffix"]
    group = record_by_output(whole, trail.inputs["cloudWatchLogsGroupArn"].removesuffix(":*"))
    assert trail.inputs["cloudWatchLogsGroupArn"].endswith(":*"), "CloudTrail requires the log stream wildcard"
    assert group.inputs["name"] == f"/fintech/{suffix}/cloudtrail"
    assert group.inputs["kmsKeyId"] == whole.outputs["kms_key_arns"]["logs"]
    assert group.inputs["retentionInDays"] == int(whole.setting("logRetentionDays"))
    assert group.retain_on_delete == (whole.setting("protectData") == "true")

    role = record_by_output(whole, trail.inputs["cloudWatchLogsRoleArn"])
    (trust,) = doc(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": trail_arn(whole)},
    }
    (policy,) = [p for p in whole.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.state["name"]]
    streams = f"{group.state['arn']}:log-stream:{ACCOUNT}_CloudTrail_*"
    assert {(s["Action"], s["Resource"]) for s in doc(policy)["Statement"]} == {
        ("logs:CreateLogStream", streams),
        ("logs:PutLogEvents", streams),
    }
    assert policy.urn in trail.dependencies, "the trail is created once the role may write"


# --------------------------------------------------------------------------- bucket and key policies


def _condition_holds(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    """IAM condition operators the archive's policy uses; keys compare case-insensitively."""
    ctx = {k.lower(): v for k, v in context.items()}
    for operator, entries in condition.items():
        for key, expected in entries.items():
            values, present, actual = as_list(expected), key.lower() in ctx, ctx.get(key.lower())
            if operator == "StringEquals":
                ok = present and actual in values
            elif operator == "StringNotEqualsIfExists":
                ok = not present or actual not in values
            elif operator in ("StringLike", "ArnLike"):
                ok = present and any(fnmatch.fnmatchcase(str(actual), v) for v in values)
            elif operator == "Bool":
                ok = present and str(actual).lower() == str(values[0]).lower()
            else:
                raise AssertionError(f"operator {operator} not evaluated here")
            if not ok:
                return False
    return True


def decide(policy: dict[str, Any], *, service: str | None, action: str, resource: str, context: dict[str, str]) -> str:
    """ "Deny", "Allow" or "implicit deny" of a resource policy for one request (IAM policy logic:
    an explicit deny wins, then an allow)."""
    verdicts = set()
    for s in policy["Statement"]:
        principal = s["Principal"]
        if principal != "*" and (service is None or service not in as_list(principal.get("Service", []))):
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in as_list(s["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in as_list(s["Resource"])):
            continue
        if _condition_holds(s.get("Condition", {}), context):
            verdicts.add(s["Effect"])
    return "Deny" if "Deny" in verdicts else "Allow" if "Allow" in verdicts else "implicit deny"


def test_the_home_audit_archive_admits_this_trail_and_no_other(whole: StackRun) -> None:
    bucket = home_audit_bucket(whole)
    policy = bucket_policy(whole, bucket)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    arn, trail = bucket.state["arn"], trail_arn(whole)
    assert by_sid["AWSCloudTrailAclCheck"] == {
        "Sid": "AWSCloudTrailAclCheck",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:GetBucketAcl",
        "Resource": arn,
        "Condition": {"StringEquals": {"aws:SourceArn": trail}},
    }
    assert by_sid["AWSCloudTrailWrite"] == {
        "Sid": "AWSCloudTrailWrite",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{arn}/cloudtrail/AWSLogs/{ACCOUNT}/*",
        "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail}},
    }

    key = whole.outputs["kms_key_arns"]["audit"]
    delivery = {"aws:SecureTransport": "true", "aws:SourceArn": trail, "s3:x-amz-acl": "bucket-owner-full-control"}
    logs = f"{arn}/cloudtrail/AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2026/01/02/{ACCOUNT}_CloudTrail_x.json.gz"
    digest = f"{arn}/cloudtrail/AWSLogs/{ACCOUNT}/CloudTrail-Digest/eu-west-1/2026/01/02/{ACCOUNT}_digest.json.gz"
    sse_kms = {"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": key}

    def put(service: str | None, resource: str, *contexts: dict[str, str]) -> str:
        context = {k: v for c in contexts for k, v in c.items()}
        return decide(policy, service=service, action="s3:PutObject", resource=resource, context=context)

    cloudtrail = "cloudtrail.amazonaws.com"
    assert put(cloudtrail, logs, delivery, sse_kms) == "Allow"
    # Whatever form of the key CloudTrail names, and its digest files' SSE-S3: no deny stops it.
    key_id = {"s3:x-amz-server-side-encryption-aws-kms-key-id": key.rsplit("/", 1)[1]}
    assert put(cloudtrail, logs, delivery, sse_kms, key_id) == "Allow"
    assert put(cloudtrail, digest, delivery, {"s3:x-amz-server-side-encryption": "AES256"}) == "Allow"
    acl = decide(policy, service=cloudtrail, action="s3:GetBucketAcl", resource=arn, context=delivery)
    assert acl == "Allow"
    # Another trail, elsewhere in the bucket, or anyone else with the wrong encryption: no.
    other = {**delivery, "aws:SourceArn": trail.replace("audit-trail", "other")}
    assert put(cloudtrail, logs, other, sse_kms) == "implicit deny"
    assert put(cloudtrail, f"{arn}/cloudwatch-logs/x", delivery, sse_kms) == "implicit deny"
    anyone = {"aws:SecureTransport": "true", "s3:x-amz-server-side-encryption": "AES256"}
    assert put(None, f"{arn}/x", anyone) == "Deny"


def test_only_the_home_audit_archive_admits_the_trail_and_none_admits_aws_config(whole: StackRun) -> None:
    home = home_audit_bucket(whole)
    for bucket in [*archives(whole, "audit-log-archive"), *archives(whole, "transaction-archive")]:
        sids = {s["Sid"] for s in bucket_policy(whole, bucket)["Statement"]}
        assert ({"AWSCloudTrailAclCheck", "AWSCloudTrailWrite"} <= sids) == (bucket.urn == home.urn), bucket.name
        # Off until the account baseline turns it on (StorageArgs.config_delivery).
        assert not {s for s in sids if s.startswith("AWSConfig")}, bucket.name


def test_aws_config_delivery_adds_its_documented_statements() -> None:
    bucket, key = "arn:aws:s3:::audit", "arn:aws:kms:eu-west-1:123456789012:key/k"
    deliveries = policies.ArchiveDeliveries(account_id=ACCOUNT, config=True)
    by_sid = {s["Sid"]: s for s in policies.data_bucket_policy(bucket, key, deliveries)["Statement"]}
    this_account = {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}
    config = {"Service": "config.amazonaws.com"}
    assert by_sid["AWSConfigBucketPermissionsCheck"] == {
        "Sid": "AWSConfigBucketPermissionsCheck",
        "Effect": "Allow",
        "Principal": config,
        "Action": "s3:GetBucketAcl",
        "Resource": bucket,
        "Condition": this_account,
    }
    assert by_sid["AWSConfigBucketExistenceCheck"]["Action"] == "s3:ListBucket"
    assert by_sid["AWSConfigBucketExistenceCheck"]["Condition"] == this_account
    assert by_sid["AWSConfigBucketDelivery"] == {
        "Sid": "AWSConfigBucketDelivery",
        "Effect": "Allow",
        "Principal": config,
        "Action": "s3:PutObject",
        "Resource": f"{bucket}/config/AWSLogs/{ACCOUNT}/Config/*",
        "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "AWS:SourceAccount": ACCOUNT}},
    }
    assert "AWSCloudTrailWrite" not in by_sid
    key_policy = policies.kms_key_policy(
        "audit", partition="aws", account_id=ACCOUNT, region="eu-west-1", config_delivery=True
    )
    (statement,) = [s for s in key_policy["Statement"] if s["Principal"] == config]
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Condition"] == this_account
    with pytest.raises(ValueError, match="only the audit key"):
        policies.kms_key_policy(
            "storage", partition="aws", account_id=ACCOUNT, region="eu-west-1", config_delivery=True
        )


def audit_key(run: StackRun, site: str) -> ResourceRecord:
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.name == f"{site}-sec-audit-key"]
    return key


def test_the_audit_key_lets_cloudtrail_use_it_for_this_trail_alone(whole: StackRun) -> None:
    prefix, trail = f"fintech-{whole.config['payments-platform:envSuffix']}", trail_arn(whole)
    statements = [s for s in doc(audit_key(whole, prefix))["Statement"] if "Service" in s["Principal"]]
    assert all(s["Principal"] == {"Service": "cloudtrail.amazonaws.com"} for s in statements)
    assert {(s["Action"], json.dumps(s["Condition"], sort_keys=True)) for s in statements} == {
        (
            "kms:GenerateDataKey*",
            json.dumps(
                {"StringEquals": {"kms:EncryptionContext:aws:cloudtrail:arn": trail, "aws:SourceArn": trail}},
                sort_keys=True,
            ),
        ),
        ("kms:DescribeKey", json.dumps({"StringEquals": {"aws:SourceArn": trail}}, sort_keys=True)),
        # Required with an S3 Bucket Key to create or update the trail (CloudTrail guide).
        ("kms:Decrypt", json.dumps({"StringEquals": {"aws:SourceArn": trail}}, sort_keys=True)),
    }
    # Readers read the log files through S3 in this account: the archive's own statement.
    (via_s3,) = [s for s in doc(audit_key(whole, prefix))["Statement"] if s["Sid"] == "UseThroughS3AndFirehose"]
    assert "kms:Decrypt" in via_s3["Action"]
    if whole.setting("standbyRegion"):
        standby = doc(audit_key(whole, f"{prefix}-standby"))["Statement"]
        assert not [s for s in standby if "Service" in s["Principal"]], "the standby's key admits no trail"


# --------------------------------------------------------------------------- the CIS alarms


def filters_by_metric(run: StackRun) -> dict[str, ResourceRecord]:
    """The trail's metric filters (the rotation functions' logs have one of their own: test_rotation_sites.py)."""
    return {
        f.inputs["metricTransformation"]["name"]: f
        for f in run.of_type(FILTER)
        if f.inputs["metricTransformation"]["namespace"] != "Fintech/Rotation"
    }


def test_every_filter_pattern_is_security_hubs_on_the_trails_log_group(whole: StackRun) -> None:
    found = filters_by_metric(whole)
    assert {m: f.inputs["pattern"] for m, f in found.items()} == EXPECTED_PATTERNS
    group = record_by_output(whole, trail_of(whole).inputs["cloudWatchLogsGroupArn"].removesuffix(":*"))
    for f in found.values():
        assert f.inputs["logGroupName"] == group.inputs["name"]
        assert f.inputs["metricTransformation"]["namespace"] == "Fintech/AuditTrail"
        assert f.inputs["metricTransformation"]["value"] == "1"
        assert "defaultValue" not in f.inputs["metricTransformation"], "no event, no datapoint"
    assert not filters_by_metric(whole.standby()), "the trail's log group is the home site's"


@pytest.mark.parametrize("metric", sorted(EXPECTED_PATTERNS))
def test_each_pattern_matches_its_event_and_not_its_neighbour(metric: str) -> None:
    matching, benign = SAMPLES[metric]
    assert matches(EXPECTED_PATTERNS[metric], matching)
    assert not matches(EXPECTED_PATTERNS[metric], benign)


def test_every_filter_feeds_an_alarm_on_the_home_alert_topic(whole: StackRun) -> None:
    home = whole.home()
    topic = whole.outputs["alert_topic_arn"]
    alarms = {(a.inputs.get("namespace"), a.inputs.get("metricName")): a for a in home.of_type(ALARM)}
    for metric in filters_by_metric(whole):
        alarm = alarms[("Fintech/AuditTrail", metric)]
        assert alarm.inputs["alarmActions"] == [topic], metric
        assert alarm.inputs["okActions"] == [topic], metric
        assert alarm.inputs["actionsEnabled"] is True
        assert alarm.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm.inputs["threshold"] == 1
        assert alarm.inputs["statistic"] == "Sum"
        assert alarm.inputs["treatMissingData"] == "notBreaching", "no event is nothing to report"
        assert "dimensions" not in alarm.inputs or not alarm.inputs["dimensions"], metric
    assert not [a for a in whole.standby().of_type(ALARM) if a.inputs.get("namespace") == "Fintech/AuditTrail"]


def test_the_dashboard_shows_the_cis_alarms(whole: StackRun) -> None:
    (dashboard,) = [d for d in whole.home().of_type("aws:cloudwatch/dashboard:Dashboard")]
    body = json.loads(dashboard.inputs["dashboardBody"])
    titles = {w["properties"]["title"] for w in body["widgets"] if w["type"] == "metric"}
    assert {f"cis-{k}" for k in ("root-user", "vpc-changes", "unauthorized-api-calls")} <= titles


@pytest.mark.xdist_group("aws-fakes")
def test_moto_does_not_evaluate_json_filter_patterns() -> None:
    """Why ``matches`` exists: moto returns the benign event for a JSON pattern that excludes it (and
    has no TestMetricFilter). When this fails, moto evaluates JSON patterns: check the patterns there."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        logs = boto3.client("logs", region_name="eu-west-1")
        logs.create_log_group(logGroupName="trail")
        logs.create_log_stream(logGroupName="trail", logStreamName="s")
        now = int(time.time() * 1000)
        events = [json.dumps(CONSOLE_LOGIN_WITHOUT_MFA), json.dumps(CONSOLE_LOGIN_WITH_MFA)]
        logs.put_log_events(
            logGroupName="trail",
            logStreamName="s",
            logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(events)],
        )
        found = logs.filter_log_events(logGroupName="trail", filterPattern=EXPECTED_PATTERNS["ConsoleSigninWithoutMFA"])
    assert [e["message"] for e in found["events"]] == events, "moto now filters JSON patterns: use it"
