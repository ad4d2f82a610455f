"""What a stack pays whatever its traffic, in dollars a month, from the recorded graph.

Prices are AWS list prices, on demand, in us-east-1, checked on 2026-11-23; a month is 730 hours.
The stacks deploy to eu-west-1, which costs a few percent more: the figures compare designs, they
are not a bill. Per-GB, per-request and storage charges are left out (they follow the traffic);
so are free tiers and the small fixed lines no one sizes (log groups, SNS, S3, custom metrics).

Sources (the AWS pages; the third-party pages that quoted the figure when the AWS page could not
be read are named after it):
  NAT gateway $0.045/h           https://aws.amazon.com/vpc/pricing/ (confirmed: cloudburn.io,
                                 basavytix.com, wring.co, all "us-east-1 $0.045 per NAT gateway-hour")
  Public IPv4 $0.005/h           https://aws.amazon.com/vpc/pricing/ (confirmed: the AWS blog
                                 announcement of 2024-02-01, doit.com)
  Interface endpoint $0.01/AZ-h  https://aws.amazon.com/privatelink/pricing/ (the AWS page confirms
                                 billing per endpoint per AZ-hour; the rate from egresscost.com,
                                 "$7.20/AZ" a 720-hour month)
  ALB $0.0225/h + $0.008/LCU-h   https://aws.amazon.com/elasticloadbalancing/pricing/ (confirmed:
                                 cloud-horizons.com, 2026-05)
  Aurora MySQL instance-hours    https://aws.amazon.com/rds/aurora/pricing/ (NOT confirmed: the AWS
                                 page was not readable; one third-party calculator shows $0.29 for
                                 db.r6g.large and $0.082 for db.t4g.medium, the figures here are the
                                 AWS list prices the seed design's ~$698 was priced with)
  EC2 instance-hours (Linux)     https://aws.amazon.com/ec2/pricing/on-demand/ (t3.large confirmed:
                                 go-cloud.io; t3.small and the t4g figures NOT confirmed)
  WAF $5/web ACL, $1/rule-month  https://aws.amazon.com/waf/pricing/ (confirmed: c3x.dev,
                                 awsnegotiations.com; the AWS blog: the same in every region)
  KMS $1/key-month               https://aws.amazon.com/kms/pricing/ (confirmed: cloudburn.io,
                                 wring.co)
  Secrets Manager $0.40/secret   https://aws.amazon.com/secrets-manager/pricing/ (confirmed:
                                 hivebook.wiki)
  CloudWatch $0.10/alarm metric, https://aws.amazon.com/cloudwatch/pricing/ (alarm confirmed:
  $3/dashboard, $0.30/metric     c3x.dev; dashboard and detailed-monitoring metric NOT confirmed:
                                 the AWS page showed only its free tier)
  EC2 detailed monitoring: 7 metrics per instance at the custom-metric rate ($2.10 a month).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

from offline.harness import StackRun

CHECKED = "2026-11-23"
SOURCE = "AWS list prices, us-east-1 on demand, 730 h/month"
HOURS_PER_MONTH = 730

NAT_GATEWAY_HOUR = 0.045
PUBLIC_IPV4_HOUR = 0.005
INTERFACE_ENDPOINT_AZ_HOUR = 0.01
ALB_HOUR = 0.0225
ALB_LCU_HOUR = 0.008
ALB_MIN_LCUS = 1
"""A load balancer with any traffic uses at least one LCU."""
AURORA_MYSQL_HOUR = {
    "db.t4g.medium": 0.073,
    "db.r6g.large": 0.26,
}
EC2_LINUX_HOUR = {
    "t3.small": 0.0208,
    "t3.large": 0.0832,
    "t4g.small": 0.0168,
    "t4g.large": 0.0672,
}
WAF_WEB_ACL_MONTH = 5.0
WAF_RULE_MONTH = 1.0
KMS_KEY_MONTH = 1.0
SECRET_MONTH = 0.40
ALARM_METRIC_MONTH = 0.10
"""A standard-resolution alarm, per metric it reads (a metric-math alarm pays for each)."""
DASHBOARD_MONTH = 3.0
# Route 53 health checks of an AWS endpoint: basic, and each optional feature (HTTPS, fast
# interval, string matching, latency); AWS price list as packaged by infracost's route53 tests.
HEALTH_CHECK_MONTH = 0.50
HEALTH_CHECK_OPTION_MONTH = 1.00
DETAILED_MONITORING_INSTANCE_MONTH = 7 * 0.30


def _hourly(price: float) -> float:
    return price * HOURS_PER_MONTH


def _priced(table: dict[str, float], key: str) -> float:
    """The hourly price of ``key``; NaN (shown as unpriced) when the table lacks it."""
    return table.get(key, math.nan)


def monthly_costs(run: StackRun) -> list[tuple[str, float]]:
    """Each fixed-cost driver the graph declares, with what it costs a month (NaN: no price here)."""
    costs: list[tuple[str, float]] = []
    nats = len(run.of_type("aws:ec2/natGateway:NatGateway"))
    costs.append((f"NAT gateways (hourly + per GB): {nats}", nats * _hourly(NAT_GATEWAY_HOUR)))

    albs = [
        lb
        for lb in run.of_type("aws:lb/loadBalancer:LoadBalancer")
        if lb.inputs.get("loadBalancerType", "application") == "application"
    ]
    eips = len(run.of_type("aws:ec2/eip:Eip"))
    # An internet-facing ALB holds one public IPv4 address in each of its subnets.
    alb_ips = sum(len(lb.inputs.get("subnets", [])) for lb in albs if not lb.inputs.get("internal"))
    costs.append(
        (
            f"Public IPv4 addresses (hourly): {eips} elastic + {alb_ips} load balancer",
            (eips + alb_ips) * _hourly(PUBLIC_IPV4_HOUR),
        )
    )

    endpoint_azs = sum(
        len(e.inputs.get("subnetIds", []))
        for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs.get("vpcEndpointType") == "Interface"
    )
    costs.append(
        (
            f"Interface endpoint-AZs (hourly + per GB): {endpoint_azs}",
            endpoint_azs * _hourly(INTERFACE_ENDPOINT_AZ_HOUR),
        )
    )

    classes = Counter(r.inputs["instanceClass"] for r in run.of_type("aws:rds/clusterInstance:ClusterInstance"))
    for db_class, n in sorted(classes.items()):
        costs.append(
            (f"Aurora instances (hourly): {n} x {db_class}", n * _hourly(_priced(AURORA_MYSQL_HOUR, db_class)))
        )

    templates = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    groups = run.of_type("aws:autoscaling/group:Group")
    if templates and groups:
        instance_type = templates[0].inputs["instanceType"]
        desired = int(groups[0].inputs["desiredCapacity"])
        scaling = f"{int(groups[0].inputs['minSize'])}-{int(groups[0].inputs['maxSize'])}"
        costs.append(
            (
                f"App instances (hourly): {desired} x {instance_type} at creation, {scaling} by scaling",
                desired * _hourly(_priced(EC2_LINUX_HOUR, instance_type)),
            )
        )
        if (templates[0].inputs.get("monitoring") or {}).get("enabled"):
            costs.append(
                (
                    f"EC2 detailed monitoring (monthly): {desired} instances",
                    desired * DETAILED_MONITORING_INSTANCE_MONTH,
                )
            )

    costs.append(
        (
            f"Load balancers (hourly + LCU, 1 LCU counted): {len(albs)}",
            len(albs) * _hourly(ALB_HOUR + ALB_MIN_LCUS * ALB_LCU_HOUR),
        )
    )

    acls = run.of_type("aws:wafv2/webAcl:WebAcl")
    rules = sum(len(a.inputs.get("rules", [])) for a in acls)
    costs.append(
        (
            f"WAF web ACLs / rules (monthly): {len(acls)} / {rules}",
            len(acls) * WAF_WEB_ACL_MONTH + rules * WAF_RULE_MONTH,
        )
    )

    keys = len(run.of_type("aws:kms/key:Key"))
    costs.append((f"KMS keys (monthly): {keys}", keys * KMS_KEY_MONTH))

    secrets = run.of_type("aws:secretsmanager/secret:Secret")
    # Each replica is billed as a secret of its own (Secrets Manager pricing page; not confirmed offline).
    replicas = sum(len(s.inputs.get("replicas") or []) for s in secrets)
    managed = sum(1 for c in run.of_type("aws:rds/cluster:Cluster") if c.inputs.get("manageMasterUserPassword"))
    label = f"Secrets (monthly): {len(secrets)}" + (f" + {replicas} replicas" if replicas else "")
    costs.append((f"{label} + {managed} RDS-managed master secret", (len(secrets) + replicas + managed) * SECRET_MONTH))

    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    alarm_metrics = sum(
        sum(1 for q in a.inputs["metricQueries"] if q.get("metric")) if a.inputs.get("metricQueries") else 1
        for a in alarms
    )
    costs.append(
        (
            f"CloudWatch alarms (monthly): {len(alarms)} reading {alarm_metrics} metrics",
            alarm_metrics * ALARM_METRIC_MONTH,
        )
    )
    checks = run.of_type("aws:route53/healthCheck:HealthCheck")
    if checks:
        options = sum(
            (c.inputs.get("type", "").startswith("HTTPS")) + (int(c.inputs.get("requestInterval", 30)) == 10)
            for c in checks
        )
        costs.append(
            (
                f"Route 53 health checks (monthly): {len(checks)} with {options} options",
                len(checks) * HEALTH_CHECK_MONTH + options * HEALTH_CHECK_OPTION_MONTH,
            )
        )
    dashboards = len(run.of_type("aws:cloudwatch/dashboard:Dashboard"))
    costs.append((f"CloudWatch dashboards (monthly): {dashboards}", dashboards * DASHBOARD_MONTH))
    return costs


def standby_mode_costs(standby: StackRun) -> dict[str, float]:
    """The standby site's fixed monthly cost in each ``standbyMode``, from its declared graph.

    The modes differ by one database instance and one app instance (with its detailed monitoring):
    pilot-light is the site without them, warm adds one of each."""
    idle = dataclasses.replace(
        standby,
        resources=[
            dataclasses.replace(r, inputs={**r.inputs, "desiredCapacity": 0, "minSize": 0})
            if r.type == "aws:autoscaling/group:Group"
            else r
            for r in standby.resources
            if r.type != "aws:rds/clusterInstance:ClusterInstance"
        ],
    )
    pilot_light = sum(a for _, a in monthly_costs(idle) if not math.isnan(a))
    # The app instance as the site's launch template declares it; a pilot light has no database
    # instance to read the class from, so that one comes from the settings.
    (template,) = standby.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    instance_type = str(template.inputs["instanceType"])
    detailed = bool((template.inputs.get("monitoring") or {}).get("enabled"))
    db_class = standby.setting("dbInstanceClass")
    warm = (
        pilot_light
        + _hourly(_priced(AURORA_MYSQL_HOUR, db_class))
        + _hourly(_priced(EC2_LINUX_HOUR, instance_type))
        + (DETAILED_MONITORING_INSTANCE_MONTH if detailed else 0.0)
    )
    return {"pilot-light": pilot_light, "warm": warm}
