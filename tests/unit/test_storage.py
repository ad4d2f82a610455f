"""Storage tier as declared: every bucket's controls, the archive's key and lock, the log writers."""

import json
from typing import Any

import pytest

from components.between.edge import EDGE_REGION
from offline.harness import ResourceRecord, StackRun, run_stack
from tests.helpers import doc, record_by_output

BUCKET = "aws:s3/bucket:Bucket"


def bucket_named(run: StackRun, output: str) -> ResourceRecord:
    (bucket,) = [b for b in run.of_type(BUCKET) if b.state["bucket"] == run.outputs[output]]
    return bucket


def side(run: StackRun, type_: str, bucket: ResourceRecord) -> ResourceRecord:
    (found,) = [r for r in run.of_type(f"aws:s3/{type_}") if r.inputs["bucket"] == bucket.id]
    return found


def statements(run: StackRun, bucket: ResourceRecord) -> dict[str, Any]:
    return {s["Sid"]: s for s in doc(side(run, "bucketPolicy:BucketPolicy", bucket))["Statement"]}


@pytest.mark.parametrize("output", ["data_bucket_name", "audit_bucket_name", "logs_bucket_name"])
def test_every_bucket_is_private_owner_enforced_versioned_and_tls_only(stack_run: StackRun, output: str) -> None:
    bucket = bucket_named(stack_run, output)
    block = side(stack_run, "bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block.inputs[flag] is True, flag
    ownership = side(stack_run, "bucketOwnershipControls:BucketOwnershipControls", bucket)
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    versioning = side(stack_run, "bucketVersioning:BucketVersioning", bucket)
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    tls = statements(stack_run, bucket)["DenyInsecureTransport"]
    assert (tls["Effect"], tls["Principal"], tls["Action"]) == ("Deny", "*", "s3:*")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    policy = side(stack_run, "bucketPolicy:BucketPolicy", bucket)
    assert block.urn in policy.dependencies, "S3 rejects a policy while the block is being applied"
    assert side(stack_run, "bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket)


def test_archive_is_encrypted_with_the_storage_key_and_refuses_other_keys(stack_run: StackRun) -> None:
    data = bucket_named(stack_run, "data_bucket_name")
    key = stack_run.outputs["kms_key_arns"]["storage"]
    (rule,) = side(
        stack_run, "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", data
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key}
    assert rule["bucketKeyEnabled"] is True
    denies = statements(stack_run, data)
    assert denies["DenyOtherKeys"]["Condition"]["StringNotEqualsIfExists"] == {
        "s3:x-amz-server-side-encryption-aws-kms-key-id": key
    }
    assert denies["DenyOtherEncryption"]["Condition"]["StringNotEqualsIfExists"] == {
        "s3:x-amz-server-side-encryption": "aws:kms"
    }


def test_archive_tiers_to_infrequent_access_then_glacier_instant_retrieval(stack_run: StackRun) -> None:
    """Glacier Instant Retrieval, not Flexible Retrieval: AWS Backup skips objects in the latter."""
    data = bucket_named(stack_run, "data_bucket_name")
    (rule,) = side(stack_run, "bucketLifecycleConfiguration:BucketLifecycleConfiguration", data).inputs["rules"]
    assert rule["status"] == "Enabled"
    assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == [(30, "STANDARD_IA"), (90, "GLACIER_IR")]
    # An overwritten or deleted transaction record stays recoverable for a year.
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 365}
    assert "expiration" not in rule, "current transaction records never expire"
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7


def test_archive_access_is_logged_into_the_logs_bucket(stack_run: StackRun) -> None:
    logs = bucket_named(stack_run, "logs_bucket_name")
    archives = [bucket_named(stack_run, o) for o in ("data_bucket_name", "audit_bucket_name")]
    writer = statements(stack_run, logs)["S3ServerAccessLogs"]
    assert writer["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert writer["Condition"]["ArnLike"]["aws:SourceArn"] == [a.state["arn"] for a in archives]
    for archive in archives:
        logging = side(stack_run, "bucketLogging:BucketLogging", archive)
        assert logging.inputs["targetBucket"] == logs.id
        assert writer["Resource"] == f"{logs.state['arn']}/{logging.inputs['targetPrefix'].split('/')[0]}/*"


def test_audit_logs_have_a_bucket_of_their_own_encrypted_with_the_audit_key(stack_run: StackRun) -> None:
    """PCI DSS 10.3/10.5: the audit trail is SSE-KMS with its own CMK, never the SSE-S3 log bucket."""
    audit = bucket_named(stack_run, "audit_bucket_name")
    assert audit.inputs["tags"] == {"Purpose": "audit-log-archive"}
    key = stack_run.outputs["kms_key_arns"]["audit"]
    assert key not in (stack_run.outputs["kms_key_arns"]["storage"], stack_run.outputs["kms_key_arns"]["logs"])
    (rule,) = side(
        stack_run, "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", audit
    ).inputs["rules"]
    assert rule == {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key},
                    "bucketKeyEnabled": True}  # fmt: skip
    denies = statements(stack_run, audit)
    # Except the stack's trail: its digest files are SSE-S3 (test_audit_trail.py).
    where, suffix = stack_run.config["aws:region"], stack_run.config["payments-platform:envSuffix"]
    trail = f"arn:aws:cloudtrail:{where}:123456789012:trail/fintech-{suffix}-audit-trail"
    assert denies["DenyOtherKeys"]["Condition"]["StringNotEqualsIfExists"] == {
        "s3:x-amz-server-side-encryption-aws-kms-key-id": key,
        "aws:SourceArn": trail,
    }
    (lifecycle,) = side(stack_run, "bucketLifecycleConfiguration:BucketLifecycleConfiguration", audit).inputs["rules"]
    assert lifecycle["expiration"] == {"days": int(stack_run.config["payments-platform:logBucketRetentionDays"])}


def test_prod_audit_archive_is_locked_for_a_year_and_protected(prod: StackRun) -> None:
    audit = bucket_named(prod, "audit_bucket_name")
    assert audit.protect is True
    assert audit.inputs["forceDestroy"] is False
    assert audit.inputs["objectLockEnabled"] is True
    lock = side(prod, "bucketObjectLockConfiguration:BucketObjectLockConfiguration", audit)
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 365}


def test_the_alb_log_bucket_holds_only_alb_cloudfront_and_access_logs(stack_run: StackRun) -> None:
    logs = bucket_named(stack_run, "logs_bucket_name")
    writers = {s["Sid"] for s in statements(stack_run, logs).values() if s["Effect"] == "Allow"}
    assert writers == {"S3ServerAccessLogs", "AlbAccessLogs", "AWSLogDeliveryAclCheck", "AWSLogDeliveryWrite"}
    stream = stack_run.one("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    assert stream.inputs["extendedS3Configuration"]["bucketArn"] != logs.state["arn"]


def test_logs_bucket_is_sse_s3_because_alb_logs_require_it(stack_run: StackRun) -> None:
    logs = bucket_named(stack_run, "logs_bucket_name")
    (rule,) = side(
        stack_run, "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", logs
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_logs_expire_after_the_configured_retention(stack_run: StackRun) -> None:
    logs = bucket_named(stack_run, "logs_bucket_name")
    (rule,) = side(stack_run, "bucketLifecycleConfiguration:BucketLifecycleConfiguration", logs).inputs["rules"]
    days = int(stack_run.config["payments-platform:logBucketRetentionDays"])
    assert rule["expiration"]["days"] == days


def test_prod_keeps_logs_at_least_a_year(prod: StackRun) -> None:
    logs = bucket_named(prod, "logs_bucket_name")
    (rule,) = side(prod, "bucketLifecycleConfiguration:BucketLifecycleConfiguration", logs).inputs["rules"]
    assert rule["expiration"]["days"] >= 365


@pytest.mark.parametrize(
    ("region", "principal"),
    [
        ("eu-west-1", {"AWS": "arn:aws:iam::156460612806:root"}),
        ("eu-central-2", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    ],
)
def test_alb_log_writer_is_the_stack_regions_principal(region: str, principal: dict[str, str]) -> None:
    run = run_stack("dev", {"aws:region": region})
    logs = bucket_named(run, "logs_bucket_name")
    writer = statements(run, logs)["AlbAccessLogs"]
    assert writer["Principal"] == principal
    assert writer["Resource"] == f"{logs.state['arn']}/alb/AWSLogs/123456789012/*"


def test_prod_transaction_archive_is_protected_and_object_locked(prod: StackRun) -> None:
    data = bucket_named(prod, "data_bucket_name")
    assert data.protect is True
    assert data.inputs["forceDestroy"] is False
    assert data.inputs["objectLockEnabled"] is True
    lock = side(prod, "bucketObjectLockConfiguration:BucketObjectLockConfiguration", data)
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 365}


def test_dev_buckets_empty_themselves_on_destroy(dev: StackRun) -> None:
    for bucket in dev.of_type(BUCKET):
        assert bucket.inputs["forceDestroy"] is True
        assert bucket.protect is False
        assert not bucket.inputs.get("objectLockEnabled")
    assert dev.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration") == []


def test_bucket_names_come_from_pulumi_naming_not_the_clock(stack_run: StackRun) -> None:
    for bucket in stack_run.of_type(BUCKET):
        assert "bucket" not in bucket.inputs
        assert "bucketPrefix" not in bucket.inputs


def test_alb_access_logs_wait_for_the_bucket_policy(stack_run: StackRun) -> None:
    alb = stack_run.one("aws:lb/loadBalancer:LoadBalancer")
    logs = bucket_named(stack_run, "logs_bucket_name")
    policy = side(stack_run, "bucketPolicy:BucketPolicy", logs)
    assert alb.inputs["accessLogs"] == {"bucket": logs.state["bucket"], "prefix": "alb", "enabled": True}
    assert policy.urn in alb.dependencies, "ELB checks it may write before it creates the load balancer"
    assert json.loads(policy.inputs["policy"])
    assert record_by_output(stack_run, alb.state["arn"]) is alb


def test_cloudfront_logs_are_admitted_with_the_statements_cloudwatch_logs_documents(stack_run: StackRun) -> None:
    """CloudWatch Logs User Guide, "Logs sent to Amazon S3": AWS creates (or appends, when the
    bucket's policy "doesn't contain the statement shown") AWSLogDeliveryAclCheck (s3:GetBucketAcl
    on the bucket) and AWSLogDeliveryWrite (s3:PutObject on AWSLogs/account-ID/* with
    s3:x-amz-acl bucket-owner-full-control), both for aws:SourceAccount and for aws:SourceArn
    "arn:aws:logs:source-region:source-account-id:*": the delivery source's region, us-east-1
    for CloudFront. Anything else drifts on the first delivery (issue 22 item 7)."""
    logs = bucket_named(stack_run, "logs_bucket_name")
    arn, account = logs.state["arn"], "123456789012"
    source = {
        "StringEquals": {"aws:SourceAccount": [account]},
        "ArnLike": {"aws:SourceArn": [f"arn:aws:logs:{EDGE_REGION}:{account}:*"]},
    }
    found = statements(stack_run, logs)
    assert found["AWSLogDeliveryAclCheck"] == {
        "Sid": "AWSLogDeliveryAclCheck",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": "s3:GetBucketAcl",
        "Resource": arn,
        "Condition": source,
    }
    assert found["AWSLogDeliveryWrite"] == {
        "Sid": "AWSLogDeliveryWrite",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{arn}/AWSLogs/{account}/*",
        "Condition": {
            "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": [account]},
            "ArnLike": source["ArnLike"],
        },
    }


def test_prod_archive_is_governance_locked_and_compliance_locked_in_the_vault() -> None:
    """Decision (docs/backups.md, "What survives which attacker"): the transaction archive's Object Lock
    stays in governance mode (an erasure the law requires stays possible, for a principal holding
    s3:BypassGovernanceRetention, which the organization SCP denies to all but a break-glass role); what an
    admin cannot destroy is its copy in AWS Backup: each site's archive is in its region's selection,
    whose plan's rules all store into a compliance-locked vault (ChangeableForDays set)."""
    from offline.harness import run_stack

    prod = run_stack("prod")
    assert prod.config["payments-platform:objectLockMode"] == "governance"
    archives = [b for b in prod.of_type("aws:s3/bucket:Bucket") if b.inputs["tags"]["Purpose"] == "transaction-archive"]
    assert len(archives) == 2, "one per site"
    locks = {
        (lock.region, lock.inputs["backupVaultName"]): lock
        for lock in prod.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    }
    plans = {plan.state["id"]: plan for plan in prod.of_type("aws:backup/plan:Plan")}
    for archive in archives:
        (rule,) = [
            r
            for r in prod.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
            if r.inputs["bucket"] == archive.id
        ]
        assert rule.inputs["rule"]["defaultRetention"]["mode"] == "GOVERNANCE"
        selections = [
            s
            for s in prod.of_type("aws:backup/selection:Selection")
            if archive.state["arn"] in s.inputs["resources"] and s.region == archive.region
        ]
        assert selections, f"{archive.name} is in no backup selection of its region"
        for selection in selections:
            plan = plans[selection.inputs["planId"]]
            for plan_rule in plan.inputs["rules"]:
                lock = locks.get((plan.region, plan_rule["targetVaultName"]))
                assert lock is not None, f"{plan_rule['ruleName']}: its vault is not locked"
                assert lock.inputs.get("changeableForDays"), (
                    f"{plan_rule['ruleName']}: vault lock not in compliance mode"
                )
