"""App tier as declared: launch template, user data, Auto Scaling Group, scaling and schedules."""

import ast
import base64
import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from components.site.compute import ami_architecture, render_user_data
from components.site.network import INTERFACE_ENDPOINT_SERVICES
from offline.harness import ResourceRecord, StackRun
from tests.helpers import secret_values

TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP = "aws:autoscaling/group:Group"


def setting(run: StackRun, key: str) -> str:
    return run.config[f"payments-platform:{key}"]


def user_data(run: StackRun) -> str:
    return base64.b64decode(run.one(TEMPLATE).inputs["userData"]).decode()


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [("t3.large", "x86_64"), ("m7i.xlarge", "x86_64"), ("t4g.small", "arm64"), ("c6gn.large", "arm64")],
)
def test_ami_architecture_follows_the_instance_family(instance_type: str, arch: str) -> None:
    assert ami_architecture(instance_type) == arch


def test_launch_template_resolves_al2023_at_launch(stack_run: StackRun) -> None:
    template = stack_run.one(TEMPLATE)
    arch = ami_architecture(setting(stack_run, "instanceType"))
    assert template.inputs["imageId"] == (
        f"resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
    )
    assert template.inputs["instanceType"] == setting(stack_run, "instanceType")


def test_prod_runs_graviton_with_the_arm64_image(dev: StackRun, prod: StackRun) -> None:
    """Prod's app tier is Graviton (t4g: about 20 % cheaper than t3 at the same size); dev stays x86."""
    assert prod.one(TEMPLATE).inputs["instanceType"] == "t4g.large"
    assert prod.one(TEMPLATE).inputs["imageId"].endswith("al2023-ami-kernel-default-arm64")
    assert dev.one(TEMPLATE).inputs["imageId"].endswith("al2023-ami-kernel-default-x86_64")


def test_imdsv2_only_with_hop_limit_one(stack_run: StackRun) -> None:
    metadata = stack_run.one(TEMPLATE).inputs["metadataOptions"]
    assert metadata == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "enabled",
    }


def test_root_volume_is_gp3_encrypted_with_the_ebs_key(stack_run: StackRun) -> None:
    (device,) = stack_run.one(TEMPLATE).inputs["blockDeviceMappings"]
    ebs = device["ebs"]
    assert (ebs["volumeType"], ebs["encrypted"], ebs["deleteOnTermination"]) == ("gp3", "true", "true")
    assert ebs["kmsKeyId"] == stack_run.outputs["kms_key_arns"]["ebs"]


def test_no_ssh_key_and_access_through_ssm(stack_run: StackRun) -> None:
    template = stack_run.one(TEMPLATE)
    assert "keyName" not in template.inputs
    assert template.inputs["iamInstanceProfile"] == {"name": stack_run.outputs["app_instance_profile_name"]}
    assert template.inputs["vpcSecurityGroupIds"] == [stack_run.outputs["security_group_ids"]["app"]]
    for rule_type in ("securityGroupIngressRule:SecurityGroupIngressRule",):
        for rule in stack_run.of_type(f"aws:vpc/{rule_type}"):
            assert not rule.inputs["fromPort"] <= 22 <= rule.inputs["toPort"], "port 22 is never open"


def test_detailed_monitoring_in_prod_only(dev: StackRun, prod: StackRun) -> None:
    assert prod.one(TEMPLATE).inputs["monitoring"] == {"enabled": True}
    assert dev.one(TEMPLATE).inputs["monitoring"] == {"enabled": False}


def test_instances_and_volumes_carry_the_standard_tags(stack_run: StackRun) -> None:
    specs = {s["resourceType"]: s["tags"] for s in stack_run.one(TEMPLATE).inputs["tagSpecifications"]}
    assert {"instance", "volume"} <= set(specs)
    for tags in specs.values():
        assert {"Application", "CostCenter", "Environment", "ManagedBy", "Name"} <= set(tags)
        assert tags["Environment"] == setting(stack_run, "envSuffix")


def test_user_data_is_valid_bash_naming_the_secret_and_port_but_no_secret_value(stack_run: StackRun) -> None:
    script = user_data(stack_run)
    assert stack_run.outputs["app_db_secret_arn"] in script
    assert f"APP_PORT={setting(stack_run, 'appPort')}" in script
    assert "AWS_REGION=eu-west-1" in script
    assert secret_values(stack_run)
    for value in secret_values(stack_run):
        assert value not in script
    assert "amazon-cloudwatch-agent" in script
    log_group = next(g for g in stack_run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name.endswith("-app-logs"))
    assert f'"log_group_name": "{log_group.inputs["name"]}"' in script
    assert log_group.inputs["kmsKeyId"] == stack_run.outputs["kms_key_arns"]["logs"]
    bash = shutil.which("bash")
    assert bash is not None
    checked = subprocess.run([bash, "-n"], input=script, text=True, capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr


def test_health_server_shipped_in_user_data_is_the_repos_file(tmp_path: Path) -> None:
    script = render_user_data(
        secret_arn="arn:x", region="eu-west-1", app_port=8080, log_group="/g", metric_namespace="N", service="s"
    )
    encoded = script.split("<<'PY'", 1)[1].split("\n", 1)[1].split("\nPY\n", 1)[0]
    shipped = gzip.decompress(base64.b64decode(encoded)).decode()
    source = (
        Path(__file__).resolve().parents[2] / "components" / "site" / "templates" / "health_server.py"
    ).read_text()
    assert shipped == source
    # AL2023's /usr/bin/python3 is Python 3.9 for the life of the release (AL2023 user guide, "Python").
    ast.parse(shipped, "health_server.py", feature_version=(3, 9))


def test_user_data_fits_the_ec2_limit(stack_run: StackRun) -> None:
    # EC2: user data is limited to 16 KB in raw form, before base64 encoding.
    assert len(user_data(stack_run).encode()) <= 16 * 1024


def group(run: StackRun) -> ResourceRecord:
    return run.one(GROUP)


def test_asg_spans_the_private_subnets_with_sizes_from_settings(stack_run: StackRun) -> None:
    asg = group(stack_run)
    assert asg.inputs["vpcZoneIdentifiers"] == stack_run.outputs["private_subnet_ids"]
    assert asg.inputs["minSize"] == int(setting(stack_run, "asgMinSize"))
    assert asg.inputs["maxSize"] == int(setting(stack_run, "asgMaxSize"))
    assert asg.inputs["desiredCapacity"] == int(setting(stack_run, "asgDesiredCapacity"))
    assert asg.inputs["targetGroupArns"] == [stack_run.outputs["alb_target_group_arn"]]
    assert asg.inputs["launchTemplate"]["id"] == stack_run.one(TEMPLATE).id


def test_asg_replaces_instances_the_load_balancer_finds_unhealthy(stack_run: StackRun) -> None:
    asg = group(stack_run)
    assert asg.inputs["healthCheckType"] == "ELB"
    assert asg.inputs["healthCheckGracePeriod"] >= 60


def test_launch_template_changes_roll_out_launching_before_terminating(stack_run: StackRun) -> None:
    refresh = group(stack_run).inputs["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    preferences = refresh["preferences"]
    # Full capacity stays in service; new instances come up (up to double) before old ones go.
    assert (preferences["minHealthyPercentage"], preferences["maxHealthyPercentage"]) == (100, 200)
    # EC2 Auto Scaling accepts 100-200 for the maximum and at most 100 points between the two.
    assert preferences["maxHealthyPercentage"] - preferences["minHealthyPercentage"] <= 100
    assert int(preferences["instanceWarmup"]) > 0


def test_capacity_and_floor_are_left_to_scaling_and_schedules(stack_run: StackRun) -> None:
    assert {"desiredCapacity", "minSize"} <= set(group(stack_run).ignore_changes)


def test_asg_tags_propagate_to_instances(stack_run: StackRun) -> None:
    tags = {t["key"]: t for t in group(stack_run).inputs["tags"]}
    assert {"Application", "CostCenter", "Environment", "ManagedBy", "Name"} <= set(tags)
    assert all(t["propagateAtLaunch"] for t in tags.values())


def test_cpu_target_tracking_at_seventy_percent(stack_run: StackRun) -> None:
    policy = stack_run.one("aws:autoscaling/policy:Policy")
    assert policy.inputs["autoscalingGroupName"] == group(stack_run).state["name"]
    tracking = policy.inputs["targetTrackingConfiguration"]
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "ASGAverageCPUUtilization"
    assert tracking["targetValue"] == 70


def test_business_hours_schedule_follows_a_named_time_zone(stack_run: StackRun) -> None:
    schedules = {
        s.inputs["scheduledActionName"].rsplit("-", 2)[-2]: s
        for s in stack_run.of_type("aws:autoscaling/schedule:Schedule")
    }
    up, down = schedules["business"], schedules["after"]
    for schedule in (up, down):
        assert schedule.inputs["timeZone"] == setting(stack_run, "scheduleTimeZone")
        assert schedule.inputs["autoscalingGroupName"] == group(stack_run).state["name"]
    assert up.inputs["recurrence"] == "0 7 * * MON-FRI"
    assert down.inputs["recurrence"] == "0 20 * * MON-FRI"


def test_schedules_move_the_floor_and_leave_capacity_to_target_tracking(stack_run: StackRun) -> None:
    schedules = {
        s.inputs["scheduledActionName"].rsplit("-", 2)[-2]: s
        for s in stack_run.of_type("aws:autoscaling/schedule:Schedule")
    }
    up, down = schedules["business"], schedules["after"]
    assert up.inputs["minSize"] == int(setting(stack_run, "asgDesiredCapacity"))
    assert down.inputs["minSize"] == int(setting(stack_run, "asgMinSize"))
    for schedule in (up, down):
        # aws_autoscaling_schedule sends an omitted size as 0 (desired 0 would empty the fleet);
        # -1 is the provider's "do not include this size in the action" (schedule.go, resourceSchedulePut).
        assert schedule.inputs["desiredCapacity"] == -1
        assert schedule.inputs["maxSize"] == -1


def test_compute_outputs(stack_run: StackRun) -> None:
    assert stack_run.outputs["asg_name"] == group(stack_run).state["name"]
    assert stack_run.outputs["launch_template_id"] == stack_run.one(TEMPLATE).id


# --------------------------------------------------------------------------- first-deploy ordering


def upstream(run: StackRun, record: ResourceRecord) -> set[str]:
    """URNs ``record`` waits for, directly or through others (dependencies and property dependencies)."""
    by_urn = {r.urn: r for r in run.resources}
    seen: set[str] = set()
    pending = [record]
    while pending:
        current = pending.pop()
        direct = {*current.dependencies, *(u for urns in current.property_dependencies.values() for u in urns)}
        for urn in direct - seen:
            seen.add(urn)
            # A resource of the standby site (e.g. the key of the app secret's replica) is outside this view.
            if urn in by_urn:
                pending.append(by_urn[urn])
    return seen


def private_network_readiness(run: StackRun) -> dict[str, str]:
    """What a private subnet needs before an instance boots in it: routes out, associations, endpoints."""
    wanted = [
        ("aws:ec2/route:Route", "-private-default-"),
        ("aws:ec2/routeTableAssociation:RouteTableAssociation", "-net-private-"),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "-endpoint"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "-endpoints-https-"),
    ]
    return {
        r.urn: r.name
        for type_, part in wanted
        for r in run.of_type(type_)
        if part in r.name and "-endpoints-https-rotation-" not in r.name
    }


def app_role_grants(run: StackRun) -> dict[str, str]:
    grants = [
        *(p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-app-secrets-policy")),
        *(
            a
            for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if a.name.endswith(("-app-ssm", "-app-cw-agent"))
        ),
    ]
    return {g.urn: g.name for g in grants}


def test_instances_boot_only_once_the_private_subnets_have_their_route_out(stack_run: StackRun) -> None:
    needed = private_network_readiness(stack_run)
    azs = int(setting(stack_run, "azCount"))
    endpoints = 1 + (len(INTERFACE_ENDPOINT_SERVICES) if setting(stack_run, "interfaceEndpoints") == "true" else 0)
    rules = azs if setting(stack_run, "interfaceEndpoints") == "true" else 0
    assert len(needed) == azs * 2 + endpoints + rules, sorted(needed.values())
    missing = set(needed) - upstream(stack_run, group(stack_run))
    assert not missing, f"the ASG can launch before {sorted(needed[u] for u in missing)}"


@pytest.mark.parametrize("type_", [GROUP, TEMPLATE])
def test_instances_boot_only_once_the_app_role_has_its_policies(stack_run: StackRun, type_: str) -> None:
    needed = app_role_grants(stack_run)
    assert len(needed) == 3
    missing = set(needed) - upstream(stack_run, stack_run.one(type_))
    assert not missing, f"{type_} does not wait for {sorted(needed[u] for u in missing)}"


@pytest.mark.parametrize("type_", [GROUP, TEMPLATE])
def test_instances_boot_only_once_the_secret_has_its_first_value(stack_run: StackRun, type_: str) -> None:
    record = stack_run.one(type_)
    (bootstrap,) = stack_run.of_type("aws:lambda/invocation:Invocation")
    # The template names the secret; the group, its subnets too (the test above).
    needed = {bootstrap.urn: bootstrap.name} | (private_network_readiness(stack_run) if type_ == GROUP else {})
    missing = set(needed) - upstream(stack_run, record)
    assert not missing, f"{type_} does not wait for {sorted(needed[u] for u in missing)}"
