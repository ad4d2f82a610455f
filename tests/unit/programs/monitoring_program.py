"""The Monitoring tier of a second site, alone: eu-central-1 under its own provider, no edge and no
rotation function there, its Aurora cluster a global-database member, S3 replication both ways.

Run by tests/unit/test_monitoring.py through ``run_stack("prod", program=...)``; the names stand for
what the standby site's other tiers would hand over.
"""

import pulumi
import pulumi_aws as aws

from components.site.monitoring import (
    ArchiveErrors,
    Monitoring,
    MonitoringArgs,
    Thresholds,
    Watched,
    WatchedReplicationRule,
)

SITE = "fintech-prod-standby"

provider = aws.Provider(f"{SITE}-aws", region="eu-central-1")
monitoring = Monitoring(
    f"{SITE}-monitoring",
    MonitoringArgs(
        alerts_key_arn="arn:aws:kms:eu-central-1:123456789012:key/standby-alerts",
        edge_alerts_key_arn=None,
        alarm_emails=("oncall@example.com", "payments-ops@example.com"),
        watched=Watched(
            alb_arn_suffix="app/fintech-prod-standby-alb/0123456789abcdef",
            target_group_arn_suffix="targetgroup/fintech-prod-standby-app/0123456789abcdef",
            asg_name="fintech-prod-standby-app",
            db_cluster_identifier="fintech-prod-standby-aurora",
            db_instance_identifiers=["fintech-prod-standby-aurora-0"],
            rotation_function_name=None,
            web_acl_metric_name=None,
            distribution_id=None,
            global_db=True,
            outgoing_replication=[
                WatchedReplicationRule("data", "fintech-prod-standby-data", "fintech-prod-data", "data-to-home"),
                WatchedReplicationRule("audit", "fintech-prod-standby-audit", "fintech-prod-audit", "audit-to-home"),
            ],
            incoming_replication=[
                WatchedReplicationRule("data", "fintech-prod-data", "fintech-prod-standby-data", "data-to-standby"),
                WatchedReplicationRule("audit", "fintech-prod-audit", "fintech-prod-standby-audit", "audit-to-standby"),
            ],
        ),
        thresholds=Thresholds(global_db_replication_lag_ms=5000),
        archive_bucket_arn="arn:aws:s3:::fintech-prod-standby-audit",
        archive_key_arn="arn:aws:kms:eu-central-1:123456789012:key/standby-audit",
        archived_log_groups=["/fintech/prod-standby/vpc-flow", "/fintech/prod-standby/app"],
        archive_errors=ArchiveErrors(
            "/fintech/prod/audit-archive-delivery", "arn:aws:kms:eu-central-1:123456789012:key/standby-logs", 365
        ),
    ),
    pulumi.ResourceOptions(providers=[provider]),
)

pulumi.export("alert_topic_arn", monitoring.topic_arn)
pulumi.export("dashboard_name", monitoring.dashboard_name)
pulumi.export("alarm_names", monitoring.alarm_names)
