"""App tier: an Auto Scaling Group of Amazon Linux 2023 instances behind the load balancer."""

from __future__ import annotations

import base64
import gzip
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Resolved by EC2 at every launch: new instances always get the current AL2023 image.
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
# Graviton families carry a "g" after the generation digit (t4g, m7g, c6gn, r8g ...).
_GRAVITON = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")
# Group metrics the dashboard and alarms read.
GROUP_METRICS = (
    aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
    aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
    aws.autoscaling.Metric.GROUP_MAX_SIZE,
    aws.autoscaling.Metric.GROUP_MIN_SIZE,
    aws.autoscaling.Metric.GROUP_PENDING_INSTANCES,
    aws.autoscaling.Metric.GROUP_TERMINATING_INSTANCES,
    aws.autoscaling.Metric.GROUP_TOTAL_INSTANCES,
)
# Each instance publishes here whether it can read its database secret and reach the database
# (1 or 0, every 30 s; see templates/health_server.py), with the dimension Service=<component name>:
# the ASG's name is not known when the user data is rendered. Custom namespaces must not start
# with "AWS/"; CloudWatchAgentServerPolicy allows cloudwatch:PutMetricData on any namespace.
DEPENDENCY_METRIC_NAMESPACE = "Fintech/App"
DEPENDENCY_METRIC_NAME = "DependencyHealthy"
# Terraform's aws_autoscaling_schedule sends every size it is given, and an omitted size as 0;
# -1 is its "leave this one alone" (internal/service/autoscaling/schedule.go).
UNCHANGED = -1


def ami_architecture(instance_type: str) -> str:
    return "arm64" if _GRAVITON.match(instance_type) else "x86_64"


class _UserDataTemplate(string.Template):
    """``@@{name}`` placeholders, so the script keeps ``$`` for bash's own variables."""

    delimiter = "@@"


def render_user_data(
    *, secret_arn: str, region: str, app_port: int, log_group: str, metric_namespace: str, service: str
) -> str:
    """The instance bootstrap script: packages, certificate, CloudWatch agent, then the health service."""
    # mtime=0: the same source always gives the same user data (and no needless launch template version).
    health_server = gzip.compress((TEMPLATES / "health_server.py").read_bytes(), mtime=0)
    template = _UserDataTemplate((TEMPLATES / "user_data.sh").read_text())
    return template.substitute(
        health_server_gz_b64=base64.b64encode(health_server).decode(),
        secret_arn=secret_arn,
        region=region,
        app_port=app_port,
        log_group=log_group,
        metric_namespace=metric_namespace,
        service=service,
    )


@dataclass(frozen=True)
class Schedule:
    """Business-hours capacity in a named time zone, so daylight saving does not shift it."""

    time_zone: str
    scale_up_cron: str = "0 7 * * MON-FRI"
    scale_down_cron: str = "0 20 * * MON-FRI"


@dataclass(frozen=True)
class ComputeArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets, one per AZ; resolve only once they have their route out."""
    security_group_id: pulumi.Input[str]
    instance_profile_name: pulumi.Input[str]
    """Resolves only once the role's policies are attached, so no instance boots without rights."""
    target_group_arn: pulumi.Input[str]
    ebs_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_group_name: str
    """The instances' log group (one naming scheme for the stack's groups, set by the caller)."""
    log_retention_days: int
    app_secret_arn: pulumi.Input[str]
    """Database secret the instances read. Pass an output that resolves only once the secret has
    its first value: instances that boot earlier would report their dependencies unhealthy."""
    app_port: int
    instance_type: str
    min_size: int
    max_size: int
    desired_capacity: int
    detailed_monitoring: bool
    schedule: Schedule
    instance_tags: Mapping[str, str]
    """Tags for instances and volumes (provider default tags do not reach launch templates)."""
    cpu_target_percent: float = 70.0
    health_check_grace_seconds: int = 300
    warmup_seconds: int = 300
    refresh_min_healthy_percent: int = 100
    """Instance refresh keeps the full desired capacity in service: it launches before it terminates."""
    refresh_max_healthy_percent: int = 200
    """Capacity an instance refresh may run at (100-200 % of desired, at most 100 points above the minimum)."""
    root_volume_gb: int = 20
    retain_logs: bool = False
    """Keep the log group when the stack is deleted: the audit trail outlives the platform."""


class Compute(pulumi.ComponentResource):
    """Launch template (IMDSv2, encrypted gp3, no SSH), ASG, target tracking and schedules."""

    asg_name: pulumi.Output[str]
    launch_template_id: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    dependency_metric: tuple[str, str, dict[str, str]]
    """(namespace, metric name, dimensions) of the instances' dependency health, 1 or 0."""

    def __init__(self, name: str, args: ComputeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:app:Compute", name, None, opts)
        _validate(args)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        tags = {**args.instance_tags, "Name": f"{name}-app"}

        log_group = self._log_group(name, args)
        user_data = _user_data(name, args, region, log_group.name)
        template = self._launch_template(name, args, user_data, tags)
        group = self._group(name, args, template, tags)
        self._scaling(name, args, group.name)

        self.asg_name = group.name
        self.launch_template_id = template.id
        self.log_group_name = log_group.name
        self.dependency_metric = (DEPENDENCY_METRIC_NAMESPACE, DEPENDENCY_METRIC_NAME, {"Service": name})
        self.register_outputs(
            {
                "asg_name": self.asg_name,
                "launch_template_id": self.launch_template_id,
                "log_group_name": self.log_group_name,
                "dependency_metric": list(self.dependency_metric),
            }
        )

    def _log_group(self, name: str, args: ComputeArgs) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{name}-app-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_logs),
        )

    def _launch_template(
        self, name: str, args: ComputeArgs, user_data: pulumi.Output[str], tags: Mapping[str, str]
    ) -> aws.ec2.LaunchTemplate:
        return aws.ec2.LaunchTemplate(
            f"{name}-app",
            description="Payments app instances",
            image_id=f"resolve:ssm:{AMI_PARAMETER.format(arch=ami_architecture(args.instance_type))}",
            instance_type=args.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(name=args.instance_profile_name),
            vpc_security_group_ids=[args.security_group_id],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="enabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_type="gp3",
                        volume_size=args.root_volume_gb,
                        encrypted="true",
                        kms_key_id=args.ebs_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=args.detailed_monitoring),
            user_data=user_data,
            update_default_version=True,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _group(
        self, name: str, args: ComputeArgs, template: aws.ec2.LaunchTemplate, tags: Mapping[str, str]
    ) -> aws.autoscaling.Group:
        return aws.autoscaling.Group(
            f"{name}-asg",
            vpc_zone_identifiers=list(args.subnet_ids),
            min_size=args.min_size,
            max_size=args.max_size,
            desired_capacity=args.desired_capacity,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            target_group_arns=[args.target_group_arn],
            # The load balancer checks liveness only (/health: the process serves), so its verdict
            # is one replacing the instance can fix; dependency failures raise an alarm instead.
            health_check_type="ELB",
            health_check_grace_period=args.health_check_grace_seconds,
            default_instance_warmup=args.warmup_seconds,
            # Oldest configuration goes first, so scale-in also finishes a rollout.
            termination_policies=["OldestLaunchTemplate", "OldestInstance"],
            # Capacity rebalancing only acts on Spot instances; this fleet is On-Demand.
            capacity_rebalance=False,
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=args.refresh_min_healthy_percent,
                    max_healthy_percentage=args.refresh_max_healthy_percent,
                    instance_warmup=str(args.warmup_seconds),
                ),
            ),
            metrics_granularity="1Minute",
            enabled_metrics=list(GROUP_METRICS),
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=True)
                for key, value in sorted(tags.items())
            ],
            # Target tracking owns the running capacity and the schedules own the floor (min size):
            # `pulumi up` must not reset either. Both apply at creation.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity", "minSize"]),
        )

    def _scaling(self, name: str, args: ComputeArgs, group_name: pulumi.Output[str]) -> None:
        """CPU target tracking for the running capacity, and the business-hours floor."""
        child = pulumi.ResourceOptions(parent=self)
        aws.autoscaling.Policy(
            f"{name}-cpu-target",
            autoscaling_group_name=group_name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ASGAverageCPUUtilization"
                ),
                target_value=args.cpu_target_percent,
            ),
            opts=child,
        )
        # Schedules move the floor only. Setting desired capacity would fight target tracking
        # (07:00 forcing the business-hours size onto a busy fleet, 20:00 cutting it mid-peak);
        # a higher floor makes the group scale out to it, a lower one lets target tracking scale in.
        for action, cron, floor in (
            ("business-hours", args.schedule.scale_up_cron, args.desired_capacity),
            ("after-hours", args.schedule.scale_down_cron, args.min_size),
        ):
            aws.autoscaling.Schedule(
                f"{name}-{action}",
                scheduled_action_name=f"{name}-{action}",
                autoscaling_group_name=group_name,
                recurrence=cron,
                time_zone=args.schedule.time_zone,
                min_size=floor,
                max_size=UNCHANGED,
                desired_capacity=UNCHANGED,
                opts=child,
            )


def _validate(args: ComputeArgs) -> None:
    """Reject sizes and refresh limits EC2 Auto Scaling would refuse or that would drop capacity."""
    if not args.min_size <= args.desired_capacity <= args.max_size:
        raise ValueError("desired_capacity must lie between min_size and max_size")
    if not 50 <= args.refresh_min_healthy_percent <= 100:
        raise ValueError("refresh_min_healthy_percent must be 50-100: below 50 takes half the fleet down at once")
    # EC2 Auto Scaling's limits (InstanceMaintenancePolicy, RefreshPreferences).
    if not 100 <= args.refresh_max_healthy_percent <= 200:
        raise ValueError("refresh_max_healthy_percent must be 100-200")
    if args.refresh_max_healthy_percent - args.refresh_min_healthy_percent > 100:
        raise ValueError("refresh_max_healthy_percent may exceed refresh_min_healthy_percent by 100 at most")


def _user_data(
    name: str, args: ComputeArgs, region: pulumi.Output[str], log_group_name: pulumi.Output[str]
) -> pulumi.Output[str]:
    """The rendered bootstrap script, base64-encoded as launch templates take it."""
    return pulumi.Output.all(args.app_secret_arn, region, log_group_name).apply(
        lambda v: base64.b64encode(
            render_user_data(
                secret_arn=v[0],
                region=v[1],
                app_port=args.app_port,
                log_group=v[2],
                metric_namespace=DEPENDENCY_METRIC_NAMESPACE,
                service=name,
            ).encode()
        ).decode()
    )
