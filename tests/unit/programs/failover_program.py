"""Two sites behind one origin name, for tests/unit/test_failover.py and test_load_balancer.py.

Each site (the stack's region and ``standbyRegion``, default eu-central-1) has its own provider,
security groups admitting Route 53's health checkers, and a load balancer answering them; the
standby's load balancer requires the home one's origin secret and validates its certificate against
the home one's ACM validation record. ``primaryRegion`` (default: the stack's region) picks the
site Route 53 prefers; ``edgeAlertTopicArn`` is the topic its check alarms.
"""

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.between.origin_dns import OriginFailover, OriginFailoverArgs, OriginTarget
from components.site.load_balancer import HealthCheck, LoadBalancer, LoadBalancerArgs
from components.site.security_groups import HEALTH_CHECK_GROUP, SecurityGroups, SecurityGroupsArgs

config = pulumi.Config()
domain = config.require("domainName")
zone_id = config.require("hostedZoneId")
home_region = pulumi.Config("aws").require("region")
standby_region = config.get("standbyRegion") or "eu-central-1"
primary_region = config.get("primaryRegion") or home_region
# The home site's edge alert topic (us-east-1), as Monitoring.edge_topic_arn gives it.
edge_alert_topic_arn = config.get("edgeAlertTopicArn") or "arn:aws:sns:us-east-1:123456789012:pay-edge-alerts"

# The stack disables the default provider: every resource names its site's.
providers = {
    region: aws.Provider(f"{prefix}-aws", region=region)
    for prefix, region in (("pay", home_region), ("pay-standby", standby_region))
}
origin_secrets: Sequence[pulumi.Output[str]] = ()
# The standby validates its certificate against the home site's record (or, to test the refusal,
# against ``standbyValidationRecord``).
validation_record: pulumi.Input[str] | None = None
sites: dict[str, OriginTarget] = {}
for prefix, region in (("pay", home_region), ("pay-standby", standby_region)):
    opts = pulumi.ResourceOptions(providers=[providers[region]])
    groups = SecurityGroups(
        f"{prefix}-sg",
        SecurityGroupsArgs(
            vpc_id=f"vpc-{region}",
            app_port=8443,
            alb_source="cloudfront",
            alb_ports=(443,),
            health_checker_ports=(443,),
        ),
        opts,
    )
    load_balancer = LoadBalancer(
        f"{prefix}-lb",
        LoadBalancerArgs(
            vpc_id=f"vpc-{region}",
            public_subnet_ids=[f"subnet-{region}-a", f"subnet-{region}-b"],
            security_group_id=groups.ids["alb"],
            extra_security_group_ids=[groups.ids[HEALTH_CHECK_GROUP]],
            logs_bucket_name=f"logs-{region}",
            logs_prefix="alb",
            app_port=8443,
            health_check=HealthCheck(),
            deregistration_delay_seconds=60,
            idle_timeout_seconds=60,
            deletion_protection=True,
            domain_name=domain,
            hosted_zone_id=zone_id,
            require_origin_header=True,
            origin_verify_secrets=origin_secrets,
            health_checkers=True,
            origin_record=False,
            validation_record_fqdn=validation_record,
        ),
        opts,
    )
    origin_secrets = load_balancer.origin_verify_values
    validation_record = config.get("standbyValidationRecord") or load_balancer.validation_record_fqdn
    sites[region] = OriginTarget(alb_dns_name=load_balancer.dns_name, alb_zone_id=load_balancer.zone_id)

failover = OriginFailover(
    "pay-origin",
    OriginFailoverArgs(
        zone_id=zone_id,
        origin_name=f"origin.{domain}",
        sites=sites,
        primary_region=primary_region,
        alert_topic_arn=edge_alert_topic_arn,
    ),
    pulumi.ResourceOptions(providers=[providers[home_region]]),
)
pulumi.export("origin_name", failover.origin_name)
pulumi.export("origin_health_check_ids", failover.health_check_ids)
