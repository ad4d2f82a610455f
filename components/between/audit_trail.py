"""The stack's API audit trail: who called the AWS APIs, and who read or wrote the archives' objects.

One CloudTrail trail per stack, in the home site's region and recording every region (multi-Region),
with log file integrity validation. It writes:

- into the home site's audit-log archive, under ``cloudtrail/``, encrypted with the audit key: the
  archive's Object Lock, lifecycle and replication to the other site then hold for the trail's log
  files too. CloudTrail's documented requirements of a destination bucket are a policy that admits
  it and no Requester Pays ("Amazon S3 bucket policy for CloudTrail"); nothing there excludes Object
  Lock. S3 refuses a put into a bucket with default retention that carries neither ``Content-MD5``
  nor ``x-amz-sdk-checksum-algorithm`` (S3 API Reference, PutObject), and the CloudTrail guide does
  not say which CloudTrail sends: the first prod delivery confirms it (``get-trail-status``'s
  ``LatestDeliveryError``, docs/audit-trail.md). A bucket of its own would not change that: S3 asks
  the same of every bucket with default retention, so the trail shares the archive.
- into a CloudWatch Logs log group (the site's logs key, the retention of the other audit logs),
  through a role CloudTrail assumes for this trail only, where the home site's monitoring turns
  the events into the CIS alarms (components/site/monitoring.py, ``TRAIL_FILTERS``).

What it records (advanced event selectors, CloudTrail User Guide "Filtering data events by using
advanced event selectors"): with ``management_events``, every management event, read and write;
always, the data events (read and write) on the objects of every site's transaction archive and
audit archive. A trail logs an event if it matches any of its selectors; within a selector every
field selector must match, and the values of one operator are alternatives ("CloudTrail adds an OR
between values"); ``StartsWith`` includes events and ``NotStartsWith`` excludes them (API
Reference, AdvancedFieldSelector). The trail's own deliveries are excluded: "Using the same Amazon S3
bucket causes your trail to log a data event each time log files are delivered", which the next
log file then carries ("Logging data events", the note on logging a bucket that receives log files).
They are excluded in every site's audit archive, because replication copies them to the other site's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.naming import audit_trail_name, log_group_name
from components.settings import Settings


@dataclass(frozen=True)
class TrailArchives:
    """One site's archives, whose objects the trail watches."""

    data: pulumi.Input[str]
    """The transaction archive's ARN."""
    audit: pulumi.Input[str]
    """The audit-log archive's ARN."""


@dataclass(frozen=True)
class TrailLogs:
    """The log group the trail also sends its events to."""

    log_group_name: str
    key_arn: pulumi.Input[str]
    """The site's CloudWatch Logs CMK."""
    retention_days: int
    retain: bool = False
    """Keep the log group when the stack is deleted (prod)."""


@dataclass(frozen=True)
class AuditTrailArgs:
    trail_name: str
    """Fixed: the home site's audit key and archive policy name the trail's ARN before it exists
    (``naming.audit_trail_name``)."""
    bucket_name: pulumi.Input[str]
    """The home site's audit-log archive, resolving once its policy admits the trail."""
    key_arn: pulumi.Input[str]
    """The home site's audit key, whose policy lets CloudTrail use it for this trail."""
    logs: TrailLogs
    archives: Sequence[TrailArchives]
    """Every site's archives: their objects' data events are recorded."""
    management_events: bool = True
    """Record every management event (read and write); off where a landing zone's organization trail
    already does."""

    def __post_init__(self) -> None:
        if not self.archives:
            raise ValueError("archives: the trail records the archives' objects; give every site's")

    @classmethod
    def of(
        cls,
        settings: Settings,
        bucket_name: pulumi.Input[str],
        keys: Mapping[policies.KeyPurpose, pulumi.Input[str]],
        archives: Sequence[TrailArchives],
    ) -> AuditTrailArgs:
        """The stack's trail into the home site's audit archive (``keys``: the home site's, by purpose)."""
        return cls(
            trail_name=audit_trail_name(settings),
            bucket_name=bucket_name,
            key_arn=keys["audit"],
            logs=TrailLogs(
                log_group_name(settings, "cloudtrail"),
                keys["logs"],
                settings.log_retention_days,
                retain=settings.protect_data,
            ),
            archives=archives,
            management_events=settings.management_events,
        )


def _field(
    field: str,
    *,
    equals: Sequence[str] | None = None,
    starts_withs: Sequence[str] | None = None,
    not_starts_withs: Sequence[str] | None = None,
) -> aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs:
    return aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
        field=field, equals=equals, starts_withs=starts_withs, not_starts_withs=not_starts_withs
    )


def _objects_of(
    name: str, buckets: Sequence[str], excluded: Sequence[str] = ()
) -> aws.cloudtrail.TrailAdvancedEventSelectorArgs:
    return aws.cloudtrail.TrailAdvancedEventSelectorArgs(
        name=name,
        field_selectors=[
            _field("eventCategory", equals=["Data"]),
            _field("resources.type", equals=["AWS::S3::Object"]),
            _field(
                "resources.ARN",
                # "use the StartsWith operator, and include only the bucket ARN as the matching value.
                # The trailing slash is intentional" (Logging data events, resources.ARN).
                starts_withs=[f"{arn}/" for arn in buckets],
                not_starts_withs=list(excluded) or None,
            ),
        ],
    )


def event_selectors(
    *, data_buckets: Sequence[str], audit_buckets: Sequence[str], management_events: bool
) -> list[aws.cloudtrail.TrailAdvancedEventSelectorArgs]:
    """The trail's advanced event selectors: the management events (or not), each site's archives' objects."""
    selectors: list[aws.cloudtrail.TrailAdvancedEventSelectorArgs] = []
    if management_events:
        # No readOnly field: read and write ("To log both read and write events, don't add a readOnly selector").
        selectors.append(
            aws.cloudtrail.TrailAdvancedEventSelectorArgs(
                name="Management events, read and write",
                field_selectors=[_field("eventCategory", equals=["Management"])],
            )
        )
    selectors.append(_objects_of("Transaction archive objects, read and write", data_buckets))
    selectors.append(
        _objects_of(
            "Audit archive objects, read and write, not the trail's own log files",
            audit_buckets,
            excluded=[f"{arn}/{policies.TRAIL_PREFIX}/" for arn in audit_buckets],
        )
    )
    return selectors


class AuditTrail(pulumi.ComponentResource):
    """A multi-Region CloudTrail trail into the audit archive and a log group (see the module)."""

    trail_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    """Resolves once the log group exists: the home site's metric filters read it."""

    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:audit:AuditTrail", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        trail_arn = pulumi.Output.all(partition, region, account_id).apply(
            lambda v: policies.cloudtrail_trail_arn(partition=v[0], region=v[1], account_id=v[2], name=args.trail_name)
        )

        group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.logs.log_group_name,
            retention_in_days=args.logs.retention_days,
            kms_key_id=args.logs.key_arn,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.logs.retain),
        )
        role_arn = self._logs_role(name, group, trail_arn, account_id)
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=args.trail_name,
            s3_bucket_name=args.bucket_name,
            s3_key_prefix=policies.TRAIL_PREFIX,
            kms_key_id=args.key_arn,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            # "CloudTrail requires the Log Stream wildcard" (pulumi-aws Trail, cloud_watch_logs_group_arn).
            cloud_watch_logs_group_arn=group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role_arn,
            advanced_event_selectors=pulumi.Output.all(
                [a.data for a in args.archives], [a.audit for a in args.archives]
            ).apply(
                lambda v: event_selectors(
                    data_buckets=v[0], audit_buckets=v[1], management_events=args.management_events
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.trail_arn = trail.arn
        self.log_group_name = group.name
        self.register_outputs({"trail_arn": self.trail_arn, "log_group_name": self.log_group_name})

    def _logs_role(
        self,
        name: str,
        group: aws.cloudwatch.LogGroup,
        trail_arn: pulumi.Output[str],
        account_id: pulumi.Output[str],
    ) -> pulumi.Output[str]:
        """The role CloudTrail assumes, for this trail only, to write into ``group``; its ARN resolves
        once it may write (CloudTrail checks the role when the trail is created)."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-logs-role",
            description="CloudTrail delivery of the stack's trail into its CloudWatch Logs log group",
            assume_role_policy=pulumi.Output.all(trail_arn, account_id).apply(
                lambda v: json.dumps(
                    policies.service_assume_role_policy(policies.CLOUDTRAIL_SERVICE, account_id=v[1], source_arn=v[0])
                )
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-logs-policy",
            role=role.name,
            policy=pulumi.Output.all(group.arn, account_id).apply(
                lambda v: json.dumps(policies.cloudtrail_logs_delivery_policy(log_group_arn=v[0], account_id=v[1]))
            ),
            opts=child,
        )
        return pulumi.Output.all(role.arn, policy.id).apply(lambda v: str(v[0]))
