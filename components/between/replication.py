"""Two-way S3 replication between the two sites' archives, on S3's own replication engine.

Each site's bucket of a purpose ("data", "audit") replicates to the other site's bucket of the same
purpose, one replication configuration per source bucket and one IAM role per direction. Facts this
relies on (Amazon S3 User Guide unless noted):

- No loop. S3 does not replicate "objects in the source bucket that are replicas that were created
  by another replication rule" ("What isn't replicated"), so a replica in B never travels back to A.
  Replica modification sync (enabled on both sides, as "Replicating metadata changes with replica
  modification sync" requires for two-way) sends back only metadata changes made to replicas:
  tags, ACLs, Object Lock settings.
- SSE-KMS objects are replicated only when the rule opts in (``SseKmsEncryptedObjects``) and names
  a replica key in the destination's region; S3 does not check that key when the configuration is
  put, replication just fails ("Replicating encrypted objects"). The role's rights: see
  ``policies.s3_replication_policy``.
- Replication Time Control replicates 99.99 % of objects within 15 minutes; it needs replication
  metrics, and 15 is the only value either accepts (API "ReplicationTimeValue": "Valid value: 15").
- Objects that exist before a rule are not replicated by it, nor are objects whose replication
  failed (no retry: "you must upload the object again"): S3 Batch Replication copies those.
  ``existing_object_replication`` is not used: S3 rejects it unless AWS enabled it for the account
  (hashicorp/terraform-provider-aws#23803).
- Object Lock: a locked source needs a locked destination (failure reason
  DstBucketObjectLockConfigMissing); replicas keep the source's retention. The ARNs this tier gets
  do not tell, so the caller gives both sites' storage tiers the same Object Lock settings; a bucket
  created with Object Lock needs no support "token". Versioning must be on at both ends.
- Replication metrics (namespace AWS/S3) carry the dimensions SourceBucket, DestinationBucket (bucket
  names: ``bucket_name``) and RuleId (public alarm templates; "Using S3 Replication metrics" lists
  the region each metric is published in: BytesPendingReplication in the destination's).
- The role's trust requires ``aws:SourceAccount``; AWS's own example trust policy has no condition:
  confirm on the first apply that objects replicate (failure reason AssumeRoleNotPermitted if not).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import partial

import pulumi
import pulumi_aws as aws

from components import policies
from components.site.monitoring import WatchedReplicationRule

# Replication Time Control threshold and the metrics' event threshold, in minutes: the only value
# S3 accepts for either.
RTC_MINUTES = 15
# Each configuration holds one rule (one destination); priority only ranks rules that share one.
RULE_PRIORITY = 1
ENABLED = "Enabled"
# Purposes name rules, resources and policy statement ids: lowercase letters and digits.
_PURPOSE = re.compile(r"[a-z][a-z0-9]*")


@dataclass(frozen=True)
class ReplicatedBucket:
    arn: pulumi.Input[str]
    """The bucket: versioned, SSE-KMS with S3 Bucket Keys."""
    key_arn: pulumi.Input[str]
    """The CMK that encrypts the bucket, in the bucket's region; replicas written here use it too."""


@dataclass(frozen=True)
class SiteArchives:
    region: str
    """The region of the site's buckets and keys."""
    buckets: Mapping[str, ReplicatedBucket]
    """The site's buckets by purpose ("data", "audit"); both sites name the same purposes."""
    reports_bucket_arn: pulumi.Input[str]
    """Where this site's S3 Batch Replication jobs write their manifest and completion report (the
    site's logs bucket, under ``batch-replication/``): never an archive, whose objects are locked."""


@dataclass(frozen=True)
class ReplicationArgs:
    sites: tuple[SiteArchives, SiteArchives]
    """The two sites, in different regions; each replicates into the other."""
    minutes: int = RTC_MINUTES
    """Replication Time Control and missed-threshold event time; S3 accepts only 15."""

    def __post_init__(self) -> None:
        if len(self.sites) != 2:
            raise ValueError(f"replication joins exactly two sites, got {len(self.sites)}")
        first, second = self.sites
        if first.region == second.region:
            raise ValueError(f"both sites are in {first.region}: the sites must be in two different regions")
        if set(first.buckets) != set(second.buckets):
            raise ValueError(
                f"the sites have different purposes ({first.region}: {sorted(first.buckets)}, "
                f"{second.region}: {sorted(second.buckets)}): each bucket needs a counterpart of its purpose"
            )
        if not first.buckets:
            raise ValueError("the sites have no buckets to replicate")
        if bad := sorted(p for p in first.buckets if not _PURPOSE.fullmatch(p)):
            raise ValueError(f"purposes must be lowercase letters and digits, got {bad}")
        if self.minutes != RTC_MINUTES:
            raise ValueError(
                f"minutes is {self.minutes}: S3 Replication Time Control and its metrics accept only {RTC_MINUTES}"
            )


@dataclass(frozen=True)
class ReplicationRule:
    """One purpose replicated in one direction: what the monitoring tier alarms on."""

    source_region: str
    source_bucket_arn: pulumi.Input[str]
    destination_bucket_arn: pulumi.Input[str]
    rule_id: str
    """The RuleId dimension of the rule's replication metrics."""
    purpose: str
    destination_region: str
    """Where AWS says some replication metrics are published (see the module docstring)."""
    ready: pulumi.Output[str]
    """Resolves (to the configuration's id) once the rule's replication configuration is on its source
    bucket: S3 replicates only objects written after that, so the first writer waits for it."""


class Replication(pulumi.ComponentResource):
    """Each site's buckets replicated to the other site's, SSE-KMS and Object Lock kept, within
    15 minutes (Replication Time Control) and measured (replication metrics)."""

    rules: list[ReplicationRule]
    role_arns: dict[str, pulumi.Output[str]]
    """The replication role of each direction, by its source region."""
    batch_role_arn: pulumi.Output[str]
    """The role an S3 Batch Replication job runs as (docs/standby-region.md gives the command):
    objects written before the rules existed, and failed ones, are copied only by such a job."""

    def __init__(self, name: str, args: ReplicationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:data:Replication", name, None, opts)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        self.rules = []
        self.role_arns = {}
        for source, destination in _directions(args.sites):
            role, policy = self._role(name, source, destination, account_id)
            self.rules += self._configurations(name, source, destination, role, policy, args.minutes)
            self.role_arns[source.region] = role.arn
        self.batch_role_arn = self._batch_role(name, args.sites)
        self.register_outputs(
            {
                "rules": [{f.name: getattr(rule, f.name) for f in fields(rule)} for rule in self.rules],
                "role_arns": self.role_arns,
                "batch_role_arn": self.batch_role_arn,
            }
        )

    def _role(
        self, name: str, source: SiteArchives, destination: SiteArchives, account_id: pulumi.Output[str]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role S3 replicates ``source`` into ``destination`` with, and its policy."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-{source.region}-role",
            description=f"S3 replication of the {source.region} archives into {destination.region}",
            assume_role_policy=account_id.apply(
                lambda acct: json.dumps(policies.s3_replication_assume_role_policy(acct))
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-{source.region}-policy",
            role=role.name,
            policy=_replication_policy(source, destination),
            opts=child,
        )
        return role, policy

    def _batch_role(self, name: str, sites: tuple[SiteArchives, SiteArchives]) -> pulumi.Output[str]:
        """One role for the Batch Replication jobs of both sites (a job runs in its source's region).
        Its trust is the S3 guide's, without conditions: a job can be given the role only by a
        principal of this account allowed to pass it (CreateJob with iam:PassRole)."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-batch-role",
            # A fixed name the runbook's command can give (docs/first-deploy.md); one AWS object per
            # name, so a replacement deletes the old role first.
            name=f"{name}-batch",
            description="S3 Batch Replication of the archives' objects that live replication never copied",
            assume_role_policy=json.dumps(policies.service_assume_role_policy(policies.BATCH_OPERATIONS_SERVICE)),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        jobs = [(bucket.arn, site.reports_bucket_arn) for site in sites for bucket in site.buckets.values()]
        policy = aws.iam.RolePolicy(
            f"{name}-batch-policy",
            role=role.name,
            policy=pulumi.Output.all(*(arn for job in jobs for arn in job)).apply(
                lambda arns: json.dumps(
                    policies.s3_batch_replication_policy(list(zip(arns[::2], arns[1::2], strict=True)))
                )
            ),
            opts=child,
        )
        # Usable once it may do what a job asks.
        return pulumi.Output.all(role.arn, policy.id).apply(lambda values: str(values[0]))

    def _configurations(
        self,
        name: str,
        source: SiteArchives,
        destination: SiteArchives,
        role: aws.iam.Role,
        policy: aws.iam.RolePolicy,
        minutes: int,
    ) -> list[ReplicationRule]:
        """One configuration per source bucket, in the source's region (it belongs to the bucket,
        whichever provider this component has), put once the role holds its rights: an object
        written before would fail to replicate for good."""
        rules = []
        for purpose, bucket in sorted(source.buckets.items()):
            target = destination.buckets[purpose]
            rule_id = f"{purpose}-to-{destination.region}"
            configuration = aws.s3.BucketReplicationConfig(
                f"{name}-{purpose}-{source.region}",
                region=source.region,
                bucket=bucket_name(bucket.arn),
                role=role.arn,
                rules=[_rule(rule_id, target, minutes)],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
            rules.append(
                ReplicationRule(
                    source_region=source.region,
                    source_bucket_arn=bucket.arn,
                    destination_bucket_arn=target.arn,
                    rule_id=rule_id,
                    purpose=purpose,
                    destination_region=destination.region,
                    ready=configuration.id,
                )
            )
        return rules

    def watched(self, region: str, *, leaving: bool) -> list[WatchedReplicationRule]:
        """The rules a site's monitoring watches: failures where they leave, latency where they land.
        A rule leaving the site also says when it is in place (``ready``): the site's own writes into
        the source bucket (the audit archive's delivery stream) wait for it."""
        return [
            WatchedReplicationRule(
                key=rule.purpose,
                source_bucket_name=bucket_name(rule.source_bucket_arn),
                destination_bucket_name=bucket_name(rule.destination_bucket_arn),
                rule_id=rule.rule_id,
                ready=rule.ready if leaving else None,
            )
            for rule in self.rules
            if (rule.source_region if leaving else rule.destination_region) == region
        ]


def bucket_name(bucket_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The name in an S3 bucket ARN (``arn:<partition>:s3:::<name>``): what a replication
    configuration and the replication metrics' bucket dimensions take."""
    return pulumi.Output.from_input(bucket_arn).apply(_bucket_name)


def _bucket_name(arn: str) -> str:
    service, separator, name = arn.rpartition(":::")
    if not separator or not (service.startswith("arn:") and service.endswith(":s3")) or not name or "/" in name:
        raise ValueError(f"not an S3 bucket ARN: {arn!r}")
    return name


def _directions(sites: tuple[SiteArchives, SiteArchives]) -> Iterator[tuple[SiteArchives, SiteArchives]]:
    first, second = sites
    yield first, second
    yield second, first


def _rule(rule_id: str, destination: ReplicatedBucket, minutes: int) -> aws.s3.BucketReplicationConfigRuleArgs:
    """Every object, delete markers included, SSE-KMS objects re-encrypted with the destination's
    key, within ``minutes`` (Replication Time Control) and measured."""
    threshold = aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(minutes=minutes)
    return aws.s3.BucketReplicationConfigRuleArgs(
        id=rule_id,
        status=ENABLED,
        # A rule with a filter (S3's V2 schema) must also give priority and delete-marker replication
        # ("Replication configuration"). An empty prefix is every object; the provider sends it as is.
        filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
        priority=RULE_PRIORITY,
        delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status=ENABLED),
        source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
            # Without it S3 skips SSE-KMS objects, that is every archived object, without a word.
            sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                status=ENABLED
            ),
            replica_modifications=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaReplicaModificationsArgs(
                status=ENABLED
            ),
        ),
        destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=destination.arn,
            encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=destination.key_arn
            ),
            replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                status=ENABLED, time=threshold
            ),
            metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                status=ENABLED,
                event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(minutes=minutes),
            ),
        ),
    )


def _replication_policy(source: SiteArchives, destination: SiteArchives) -> pulumi.Output[str]:
    """The role policy of one direction, once every ARN is known."""
    purposes = sorted(source.buckets)
    arns = [
        arn
        for site in (source, destination)
        for purpose in purposes
        for arn in (site.buckets[purpose].arn, site.buckets[purpose].key_arn)
    ]
    return pulumi.Output.all(*arns).apply(
        partial(_replication_policy_json, purposes, source.region, destination.region)
    )


def _replication_policy_json(
    purposes: Sequence[str], source_region: str, destination_region: str, arns: list[str]
) -> str:
    """``arns``: (bucket, key) of each purpose, the source's then the destination's."""
    pairs = iter(zip(arns[::2], arns[1::2], strict=True))
    sources = {purpose: next(pairs) for purpose in purposes}
    destinations = {purpose: next(pairs) for purpose in purposes}
    # Every key is the destination key of one direction: checked there, a bad key fails one policy.
    for purpose, (_, key) in destinations.items():
        _check_key_region(purpose, key, destination_region)
    return json.dumps(
        policies.s3_replication_policy(
            source_region=source_region,
            sources=sources,
            destination_region=destination_region,
            destinations=destinations,
        )
    )


def _check_key_region(purpose: str, key_arn: str, region: str) -> None:
    """S3 encrypts a replica only with a key in the destination bucket's region, and the role may
    use each key only through S3 in the key's site: a key from elsewhere fails every object."""
    parts = key_arn.split(":")
    if len(parts) < 6 or parts[2] != "kms":
        raise ValueError(f"the {purpose} key of the {region} site is not a KMS key ARN: {key_arn!r}")
    if parts[3] != region:
        raise ValueError(
            f"the {purpose} key of the {region} site is in {parts[3]}: {key_arn} "
            "(S3 encrypts replicas only with a key in the destination bucket's region)"
        )
