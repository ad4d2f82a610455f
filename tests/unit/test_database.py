"""Data tier as declared: Aurora MySQL cluster, parameters, encryption, monitoring, protection."""

from fnmatch import fnmatchcase

import pytest

from components.site.database import LOG_EXPORTS
from offline.harness import ResourceRecord, StackRun, run_stack
from tests.helpers import doc, record_by_output, secret_values

CLUSTER = "aws:rds/cluster:Cluster"
INSTANCE = "aws:rds/clusterInstance:ClusterInstance"


def cluster(run: StackRun) -> ResourceRecord:
    return run.one(CLUSTER)


def setting(run: StackRun, key: str) -> str:
    return run.config[f"payments-platform:{key}"]


def test_aurora_mysql_3_lts_without_automatic_minor_upgrades(stack_run: StackRun) -> None:
    c = cluster(stack_run)
    assert c.inputs["engine"] == "aurora-mysql"
    assert c.inputs["engineVersion"] == setting(stack_run, "dbEngineVersion")
    assert c.inputs["engineVersion"].startswith("8.0.mysql_aurora.3.10.")
    for instance in stack_run.of_type(INSTANCE):
        assert instance.inputs["autoMinorVersionUpgrade"] is False
        assert instance.inputs["engineVersion"] == c.inputs["engineVersion"]
        assert instance.inputs["publiclyAccessible"] is False


def test_cluster_lives_in_the_database_subnets_behind_the_database_group(stack_run: StackRun) -> None:
    c = cluster(stack_run)
    group = stack_run.one("aws:rds/subnetGroup:SubnetGroup")
    assert c.inputs["dbSubnetGroupName"] == group.state["name"]
    assert group.inputs["subnetIds"] == stack_run.outputs["database_subnet_ids"]
    assert c.inputs["vpcSecurityGroupIds"] == [stack_run.outputs["security_group_ids"]["database"]]


def test_cluster_parameters_enforce_tls_and_produce_audit_records(stack_run: StackRun) -> None:
    group = stack_run.one("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    assert cluster(stack_run).inputs["dbClusterParameterGroupName"] == group.state["name"]
    assert group.inputs["family"] == "aurora-mysql8.0"
    params = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert params["require_secure_transport"] == "ON"
    assert set(params["tls_version"].split(",")) == {"TLSv1.2", "TLSv1.3"}
    assert params["server_audit_logging"] == "1"
    assert {"CONNECT", "QUERY_DCL", "QUERY_DDL"} <= set(params["server_audit_events"].split(","))
    assert params["slow_query_log"] == "1"
    assert params["log_output"] == "FILE", "CloudWatch export reads the log files"


def test_instances_use_their_own_parameter_group(stack_run: StackRun) -> None:
    group = stack_run.one("aws:rds/parameterGroup:ParameterGroup")
    assert group.inputs["family"] == "aurora-mysql8.0"
    for instance in stack_run.of_type(INSTANCE):
        assert instance.inputs["dbParameterGroupName"] == group.state["name"]


def test_storage_and_performance_insights_use_the_database_key(stack_run: StackRun) -> None:
    key = stack_run.outputs["kms_key_arns"]["database"]
    c = cluster(stack_run)
    assert c.inputs["storageEncrypted"] is True
    assert c.inputs["kmsKeyId"] == key
    for instance in stack_run.of_type(INSTANCE):
        assert instance.inputs["performanceInsightsEnabled"] is True
        assert instance.inputs["performanceInsightsKmsKeyId"] == key
        assert instance.inputs["performanceInsightsRetentionPeriod"] == int(
            setting(stack_run, "dbInsightsRetentionDays")
        )


def test_dev_has_no_enhanced_monitoring_and_so_no_account_level_log_group(dev: StackRun) -> None:
    """RDS writes enhanced monitoring into the account's RDSOSMetrics log group, which RDS creates
    and `destroy` cannot remove (RDS User Guide, "Overview of Enhanced Monitoring"): a disposable
    stack leaves it off (issue 22 item 5)."""
    assert setting(dev, "dbMonitoringIntervalSeconds") == "0"
    for instance in dev.of_type(INSTANCE):
        assert instance.inputs["monitoringInterval"] == 0
        assert "monitoringRoleArn" not in instance.inputs
    assert not [
        a
        for a in dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["policyArn"].endswith("/AmazonRDSEnhancedMonitoringRole")
    ]


def test_enhanced_monitoring_uses_its_own_role(prod: StackRun) -> None:
    stack_run = prod
    for instance in stack_run.of_type(INSTANCE):
        assert instance.inputs["monitoringInterval"] == int(setting(stack_run, "dbMonitoringIntervalSeconds")) > 0
        role = record_by_output(stack_run, instance.inputs["monitoringRoleArn"])
        (trust,) = doc(role, "assumeRolePolicy")["Statement"]
        assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
        attached = [
            a.inputs["policyArn"]
            for a in stack_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if a.inputs["role"] == role.state["name"]
        ]
        assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"]


def test_enhanced_monitoring_role_trusts_rds_only_for_this_accounts_instances(prod: StackRun) -> None:
    """RDS User Guide, "Setting up and enabling Enhanced Monitoring" > "Protecting against the
    confused deputy problem": "we recommend using the aws:SourceArn and aws:SourceAccount global
    condition context keys in a trust policy for your Enhanced Monitoring role. If you use both
    global condition context keys, they must use the same account ID." and "For Amazon RDS, set
    aws:SourceArn to arn:aws:rds:Region:my-account-id:db:dbname". The instances are auto-named and
    take the role's ARN, so the role names them by wildcard: db:* of this account and region
    (issue 22 item 8). Each instance's ARN must still match it, or RDS could not assume the role."""
    account = "123456789012"
    for instance in prod.of_type(INSTANCE):
        role = record_by_output(prod, instance.inputs["monitoringRoleArn"])
        (trust,) = doc(role, "assumeRolePolicy")["Statement"]
        assert (trust["Effect"], trust["Principal"], trust["Action"]) == (
            "Allow",
            {"Service": "monitoring.rds.amazonaws.com"},
            "sts:AssumeRole",
        )
        assert trust["Condition"] == {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"arn:aws:rds:{instance.region}:{account}:db:*"},
        }
        # The real ARN of a DB instance (the mocks' ARN has another shape): db:<identifier>.
        real_arn = f"arn:aws:rds:{instance.region}:{account}:db:{instance.state['identifier']}"
        assert fnmatchcase(real_arn, trust["Condition"]["ArnLike"]["aws:SourceArn"])


def test_log_exports_land_in_encrypted_groups_created_first(stack_run: StackRun) -> None:
    c = cluster(stack_run)
    assert c.inputs["enabledCloudwatchLogsExports"] == list(LOG_EXPORTS)
    groups = {g.inputs["name"]: g for g in stack_run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for kind in ("audit", "error", "slowquery"):
        group = groups[f"/aws/rds/cluster/{c.inputs['clusterIdentifier']}/{kind}"]
        assert group.inputs["kmsKeyId"] == stack_run.outputs["kms_key_arns"]["logs"]
        assert group.inputs["retentionInDays"] == int(setting(stack_run, "logRetentionDays"))
        assert group.urn in c.dependencies, "RDS would otherwise create the group, unencrypted"


def test_iam_auth_snapshot_tags_and_backups(stack_run: StackRun) -> None:
    c = cluster(stack_run)
    assert c.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert c.inputs["copyTagsToSnapshot"] is True
    assert c.inputs["backupRetentionPeriod"] == int(setting(stack_run, "dbBackupRetentionDays"))
    assert c.inputs["preferredBackupWindow"] == setting(stack_run, "dbBackupWindow")
    assert c.inputs["preferredMaintenanceWindow"] == setting(stack_run, "dbMaintenanceWindow")


def test_a_regional_master_password_is_rds_managed_with_the_secrets_key(dev: StackRun) -> None:
    # prod's cluster founds a global database, where RDS cannot manage it (tests/unit/test_standby.py).
    c = cluster(dev)
    assert c.inputs["manageMasterUserPassword"] is True
    assert c.inputs["masterUserSecretKmsKeyId"] == dev.outputs["kms_key_arns"]["secrets"]
    assert not {"masterPassword", "masterPasswordWo"} & c.inputs.keys()
    assert dev.outputs["db_master_secret_arn"].startswith("arn:aws:secretsmanager:")


def test_instance_count_and_class_follow_settings(stack_run: StackRun) -> None:
    instances = stack_run.of_type(INSTANCE)
    assert len(instances) == int(setting(stack_run, "dbInstanceCount"))
    assert {i.inputs["instanceClass"] for i in instances} == {setting(stack_run, "dbInstanceClass")}
    assert {i.inputs["clusterIdentifier"] for i in instances} == {cluster(stack_run).id}


def test_prod_instances_span_availability_zones(prod: StackRun) -> None:
    zones = [i.inputs["availabilityZone"] for i in prod.of_type(INSTANCE)]
    assert len(zones) >= 2
    assert len(set(zones)) == len(zones)


def test_prod_cannot_lose_the_cluster(prod: StackRun) -> None:
    c = cluster(prod)
    assert c.protect is True
    assert c.inputs["deletionProtection"] is True
    assert c.inputs["skipFinalSnapshot"] is False
    assert c.inputs["finalSnapshotIdentifier"] == f"{c.inputs['clusterIdentifier']}-final"


def test_dev_cluster_is_disposable(dev: StackRun) -> None:
    c = cluster(dev)
    assert c.protect is False
    assert c.inputs["deletionProtection"] is False
    assert c.inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in c.inputs


@pytest.mark.parametrize("key", ["db_cluster_endpoint", "db_reader_endpoint", "db_port", "app_db_secret_arn"])
def test_data_outputs_are_exported_and_plain(stack_run: StackRun, key: str) -> None:
    assert stack_run.outputs[key]
    assert key not in stack_run.secret_outputs


def test_no_output_carries_a_password(stack_run: StackRun) -> None:
    assert secret_values(stack_run)
    for value in secret_values(stack_run):
        assert value not in repr(stack_run.outputs)
    assert not any("password" in key.lower() for key in stack_run.outputs)


def test_the_writer_is_created_first_and_readers_after_it(prod: StackRun) -> None:
    """Aurora makes the first instance to come up the writer: readers must wait for instance 0."""
    instances = sorted(prod.of_type(INSTANCE), key=lambda r: r.name)
    writer, *readers = instances
    assert writer.name.endswith("-instance-0")
    assert readers
    assert writer.inputs["promotionTier"] == 0
    assert writer.inputs["availabilityZone"] == prod.outputs["availability_zones"][0]
    assert not any(r.urn in writer.dependencies for r in readers)
    for reader in readers:
        assert writer.urn in reader.dependencies, f"{reader.name} may start before the writer"


@pytest.mark.parametrize(
    ("instance_class", "insights"),
    [
        ("db.t3.medium", False),
        ("db.t3.large", False),
        ("db.t4g.small", False),
        ("db.t4g.medium", True),
        ("db.r6g.large", True),
        ("db.serverless", True),
    ],
)
def test_performance_insights_only_where_aurora_mysql_supports_it(instance_class: str, insights: bool) -> None:
    """AWS: Database Insights on Aurora MySQL is not supported on db.t2, db.t3, db.t4g.micro/small."""
    (instance,) = run_stack("dev", {"dbInstanceClass": instance_class}).of_type(INSTANCE)
    assert instance.inputs["performanceInsightsEnabled"] is insights
    assert ("performanceInsightsKmsKeyId" in instance.inputs) is insights
    assert ("performanceInsightsRetentionPeriod" in instance.inputs) is insights
