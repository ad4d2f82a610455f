"""Replication tier, run alone (tests/unit/programs/replication_program.py): two-way replication of
each purpose's bucket between eu-west-1 and eu-central-1, SSE-KMS objects re-encrypted with the
destination's key within 15 minutes, one least-privilege role per direction that only S3 assumes,
and arguments S3 would turn into silent failures refused up front."""

import gc
from pathlib import Path
from typing import Any

import pytest

from components.between.replication import ReplicatedBucket, ReplicationArgs, SiteArchives
from offline.harness import ProgramError, ResourceRecord, StackRun, run_stack
from tests.helpers import as_list, doc, record_by_output
from tests.unit.test_compute import upstream

PROGRAM = Path(__file__).parent / "programs" / "replication_program.py"
CONFIG = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
POLICY = "aws:iam/rolePolicy:RolePolicy"
ACCOUNT = "123456789012"
HOME, STANDBY = "eu-west-1", "eu-central-1"
OTHER = {HOME: STANDBY, STANDBY: HOME}
PURPOSES = ("audit", "data")
LOGS = "arn:aws:s3:::fintech-logs"
ENABLED = {"status": "Enabled"}

Grant = tuple[str, str, str | None, tuple[str, ...]]
"""(action, resource, kms:ViaService, kms:EncryptionContext:aws:s3:arn values)"""


def bucket_arn(purpose: str, region: str) -> str:
    return f"arn:aws:s3:::fintech-{purpose}-{region}"


def key_arn(purpose: str, region: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{purpose}-{region}"


@pytest.fixture(scope="module")
def run() -> StackRun:
    return run_stack("prod", program=PROGRAM)


def configs(run: StackRun) -> dict[tuple[str, str], ResourceRecord]:
    """Replication configurations by (purpose, region of the source bucket they are put on)."""
    found = {}
    for config in run.of_type(CONFIG):
        purpose, _, region = config.inputs["bucket"].removeprefix("fintech-").partition("-")
        found[purpose, region] = config
    return found


def rule(config: ResourceRecord) -> dict[str, Any]:
    (only,) = config.inputs["rules"]
    result: dict[str, Any] = only
    return result


def role_policy(run: StackRun, config: ResourceRecord) -> ResourceRecord:
    role = record_by_output(run, config.inputs["role"])
    (policy,) = [p for p in run.of_type(POLICY) if p.inputs["role"] == role.state["name"]]
    return policy


def grants(document: dict[str, Any]) -> set[Grant]:
    """Every (action, resource, conditions) an Allow-only document grants."""
    found: set[Grant] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        condition = statement.get("Condition", {})
        assert set(condition) <= {"StringEquals", "StringLike"}, condition
        assert set(condition.get("StringEquals", {})) <= {"kms:ViaService"}, condition
        assert set(condition.get("StringLike", {})) <= {"kms:EncryptionContext:aws:s3:arn"}, condition
        via = condition.get("StringEquals", {}).get("kms:ViaService")
        context = tuple(sorted(as_list(condition.get("StringLike", {}).get("kms:EncryptionContext:aws:s3:arn", []))))
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                found.add((action, resource, via, context))
    return found


def documented_grants(source: str, destination: str) -> set[Grant]:
    """What AWS documents for replicating SSE-KMS objects (S3 Bucket Keys on) of versioned,
    object-locked buckets, scoped to the buckets and keys of one direction."""
    expected: set[Grant] = set()
    for purpose in PURPOSES:
        src, dst = bucket_arn(purpose, source), bucket_arn(purpose, destination)
        expected |= {(action, src, None, ()) for action in ("s3:GetReplicationConfiguration", "s3:ListBucket")}
        expected |= {
            (action, f"{src}/*", None, ())
            for action in (
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
                "s3:GetObjectRetention",
                "s3:GetObjectLegalHold",
            )
        }
        expected |= {
            (action, f"{dst}/*", None, ())
            for action in ("s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags")
        }
        expected.add(("kms:Decrypt", key_arn(purpose, source), f"s3.{source}.amazonaws.com", (src, f"{src}/*")))
        expected |= {
            (action, key_arn(purpose, destination), f"s3.{destination}.amazonaws.com", (dst, f"{dst}/*"))
            for action in ("kms:Decrypt", "kms:Encrypt")
        }
    return expected


def test_each_bucket_has_a_configuration_in_its_own_region_replicating_to_the_other_sites_bucket(
    run: StackRun,
) -> None:
    found = configs(run)
    assert sorted(found) == sorted((purpose, region) for purpose in PURPOSES for region in OTHER)
    for (purpose, source), config in found.items():
        # The program's provider is in a third region: only an explicit region puts it here.
        assert config.region == source, "a replication configuration lives with its source bucket"
        assert rule(config)["destination"]["bucket"] == bucket_arn(purpose, OTHER[source])
        assert rule(config)["id"] == f"{purpose}-to-{OTHER[source]}"
        assert rule(config)["status"] == "Enabled"


def test_every_rule_has_replication_time_control_and_metrics_at_15_minutes(run: StackRun) -> None:
    for config in run.of_type(CONFIG):
        destination = rule(config)["destination"]
        assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
        assert destination["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}


def test_sse_kms_objects_are_replicated_and_encrypted_with_the_destination_sites_key(run: StackRun) -> None:
    for (purpose, source), config in configs(run).items():
        assert rule(config)["sourceSelectionCriteria"] == {
            "sseKmsEncryptedObjects": ENABLED,
            "replicaModifications": ENABLED,
        }, "without SseKmsEncryptedObjects S3 silently skips every SSE-KMS object"
        replica_key = rule(config)["destination"]["encryptionConfiguration"]["replicaKmsKeyId"]
        assert replica_key == key_arn(purpose, OTHER[source])
        assert replica_key != key_arn(purpose, source), "S3 uses a replica key only in the destination's region"


def test_every_object_and_delete_marker_is_replicated_new_objects_only(run: StackRun) -> None:
    for config in run.of_type(CONFIG):
        found = rule(config)
        assert found["filter"] == {"prefix": ""}, "an empty prefix: every object"
        # S3 requires both with a filter (V2 rules), and rejects the V1 prefix alongside.
        assert found["priority"] == 1
        assert found["deleteMarkerReplication"] == ENABLED
        assert "prefix" not in found
        # Needs AWS to enable it for the account; existing objects go through Batch Replication.
        assert "existingObjectReplication" not in found


def test_only_s3_acting_for_this_account_assumes_the_replication_roles(run: StackRun) -> None:
    roles = {config.inputs["role"] for config in run.of_type(CONFIG)}
    assert len(roles) == 2, "one role per direction"
    for arn in roles:
        assert doc(record_by_output(run, arn), "assumeRolePolicy")["Statement"] == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ]


def test_each_direction_has_one_role_shared_by_its_purposes(run: StackRun) -> None:
    found = configs(run)
    for source in OTHER:
        assert found["data", source].inputs["role"] == found["audit", source].inputs["role"]
    assert found["data", HOME].inputs["role"] != found["data", STANDBY].inputs["role"]


def test_role_policy_grants_exactly_the_documented_actions_on_its_directions_buckets_and_keys(
    run: StackRun,
) -> None:
    for (_, source), config in configs(run).items():
        assert grants(doc(role_policy(run, config))) == documented_grants(source, OTHER[source])


def test_configurations_wait_for_their_roles_policy(run: StackRun) -> None:
    for config in run.of_type(CONFIG):
        assert role_policy(run, config).urn in config.dependencies, (
            "objects written before the role may act fail replication for good"
        )


def test_outputs_name_every_rule_and_each_directions_role(run: StackRun) -> None:
    found = configs(run)
    assert sorted(
        (r["purpose"], r["source_region"], r["destination_region"], r["rule_id"]) for r in run.outputs["rules"]
    ) == sorted((purpose, source, OTHER[source], rule(config)["id"]) for (purpose, source), config in found.items())
    for output in run.outputs["rules"]:
        assert output["source_bucket_arn"] == bucket_arn(output["purpose"], output["source_region"])
        assert output["destination_bucket_arn"] == bucket_arn(output["purpose"], output["destination_region"])
    assert run.outputs["role_arns"] == {source: found["data", source].inputs["role"] for source in OTHER}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("same-region", "both sites are in eu-west-1"),
        ("mismatched-purposes", "the sites have different purposes"),
        ("rtc-60", "accept only 15"),
    ],
)
def test_bad_arguments_are_refused_before_any_resource(case: str, message: str) -> None:
    with pytest.raises(ProgramError) as raised:
        run_stack("prod", {"replicationCase": case}, program=PROGRAM)
    assert isinstance(raised.value.__cause__, ValueError)
    assert message in str(raised.value.__cause__)
    assert raised.value.resources == []


def test_purposes_must_be_usable_in_names_and_statement_ids() -> None:
    def sites(purpose: str) -> tuple[SiteArchives, SiteArchives]:
        bucket = ReplicatedBucket(arn="arn:aws:s3:::b", key_arn="arn:aws:kms:eu-west-1:1:key/k")
        return SiteArchives(HOME, {purpose: bucket}, LOGS), SiteArchives(STANDBY, {purpose: bucket}, LOGS)

    with pytest.raises(ValueError, match="lowercase letters and digits"):
        ReplicationArgs(sites=sites("audit-logs"))
    with pytest.raises(ValueError, match="no buckets"):
        ReplicationArgs(sites=(SiteArchives(HOME, {}, LOGS), SiteArchives(STANDBY, {}, LOGS)))


def test_a_key_outside_its_sites_region_is_refused_before_the_role_can_use_it() -> None:
    with pytest.raises(ProgramError) as raised:
        run_stack("prod", {"replicationCase": "foreign-key"}, program=PROGRAM)
    message, declared = str(raised.value), {r.name for r in raised.value.resources}
    # The configurations waiting on the refused policy fail too, in futures nobody awaits: collect
    # them now, so asyncio's "exception never retrieved" lands in this test's captured log.
    del raised
    gc.collect()
    assert "key of the eu-central-1 site is in eu-west-1" in message
    # The eu-west-1 -> eu-central-1 direction, whose replicas that key would encrypt, never gets going.
    assert not declared & {
        f"fintech-prod-replication-{name}" for name in ("eu-west-1-policy", "data-eu-west-1", "audit-eu-west-1")
    }


def test_batch_replication_has_the_role_the_s3_guide_asks_for(run: StackRun) -> None:
    """Objects written before the rules, and failed ones, are copied only by an S3 Batch Replication
    job, which runs as a role batchoperations.s3.amazonaws.com assumes, with the S3 User Guide's
    policy for a generated manifest ("Configuring an IAM role for S3 Batch Replication"): initiate
    replication of each archive's objects, read its replication configuration and write its
    inventory (the manifest), read and write the manifest and report in the site's logs bucket."""
    role = named_role(run, "-batch-role")
    # The runbook's command names it: fixed, and replaced delete-first (one IAM role per name).
    assert role.inputs["name"] == role.name.removesuffix("-role")
    assert role.delete_before_replace
    (statement,) = doc(role, "assumeRolePolicy")["Statement"]
    assert statement["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    (policy,) = [p for p in run.of_type(POLICY) if p.inputs["role"] == role.state["name"]]
    granted = {
        (action, resource)
        for st in doc(policy)["Statement"]
        for action in as_list(st["Action"])
        for resource in as_list(st["Resource"])
    }
    archives = [bucket_arn(p, r) for p in PURPOSES for r in (HOME, STANDBY)]
    reports = {f"arn:aws:s3:::fintech-logs-{r}/batch-replication/*" for r in (HOME, STANDBY)}
    expected = {
        *(("s3:InitiateReplication", f"{a}/*") for a in archives),
        *(
            (action, a)
            for a in archives
            for action in ("s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration")
        ),
        *((action, r) for r in reports for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject")),
    }
    assert granted == expected
    assert not any(a.endswith("/*") and a.split("/")[0] in archives and "PutObject" in act for act, a in granted)


def named_role(run: StackRun, suffix: str) -> ResourceRecord:
    (role,) = [r for r in run.of_type("aws:iam/role:Role") if r.name.endswith(suffix)]
    return role


# ---------------------------------------------------------------- the first audit object waits for replication

STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
SUBSCRIPTION = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"


def test_each_sites_audit_stream_starts_once_its_archive_replicates() -> None:
    """ "Objects that existed before you set up replication aren't replicated automatically" (S3 User
    Guide, "Setting up live replication overview"): each site's log-archive stream, and the log
    subscriptions that feed it, wait for the replication configuration of the bucket it writes to."""
    run = run_stack("prod")
    configurations = {c.inputs["bucket"]: c for c in run.of_type(CONFIG)}
    streams = run.of_type(STREAM)
    assert sorted(s.region for s in streams) == sorted([HOME, STANDBY])
    for stream in streams:
        bucket = stream.inputs["extendedS3Configuration"]["bucketArn"].rsplit(":", 1)[1]
        own = configurations[bucket]
        assert own.region == stream.region
        assert own.urn in upstream(run, stream), f"{stream.name} writes into {bucket} before it replicates"
        others = {c.urn for c in configurations.values()} - {own.urn}
        assert not others & upstream(run, stream), "only its own archive's replication"
        feeds = [s for s in run.of_type(SUBSCRIPTION) if s.inputs["destinationArn"] == stream.state["arn"]]
        assert feeds
        for feed in feeds:
            assert own.urn in upstream(run, feed), feed.name
