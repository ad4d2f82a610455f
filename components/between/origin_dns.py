"""Edge tier, DNS half: Route 53 failover between two sites for the one origin name CloudFront uses.

Why DNS and not a CloudFront origin group: "CloudFront fails over to the secondary origin only
when the HTTP method of the viewer request is GET, HEAD, or OPTIONS" (CloudFront developer guide,
high_availability_origin_failover), so an origin group never fails over a payment POST. Instead
CloudFront keeps one origin, ``origin.<domain>``, and Route 53 answers it with the primary site's
load balancer while that site's health check passes, else with the secondary's.

Records are keyed by ROLE (``primary``, ``secondary``) and health checks by SITE (region): moving
the primary to the other site changes only the two records' alias targets and health check ids,
which Route 53 updates in place (UPSERT). Arguments whose change would replace or recreate a record
never move: ``name`` and ``zone_id`` force a replacement, ``type`` too in the provider's v6 line
(hashicorp/terraform-provider-aws#43500, until #47105), and a new ``set_identifier`` is a DELETE and
CREATE of the record set (``resourceRecordUpdate`` in internal/service/route53/record.go).

A health check reaches its site's load balancer by DNS name, over HTTPS, on the app's readiness
path, and sends no custom header (HealthCheckConfig has no field for one): the load balancer must
answer ``GET /ready`` without the edge's origin-verify header (``LoadBalancerArgs.health_checkers``)
and admit the checkers' addresses (``SecurityGroupsArgs.health_checker_ports``). ``/ready`` passes
only on instances that reach the database writer their secret names (the global writer endpoint),
and the sites' app subnets have no route to each other (the VPCs are peered for the rotation functions'
subnets alone, between/peering.py): a site is healthy exactly when it holds the writer and serves.
So traffic follows the writer: a database-only failover moves DNS too, and the old region coming
back after a failover stays out of DNS until its site holds the writer again. When both sites are
unhealthy (mid-move, a few checks) Route 53 answers with the primary; a pilot-light secondary takes
traffic only once it has ready instances.

Watched: the primary site's check alarms (HealthCheckStatus, in us-east-1, where Route 53 publishes
it) to the edge alert topic; the secondary's fails by design while it is passive and is not alarmed
(``monitoring.origin_health_alarm``).

Adopting an existing name: Route 53 refuses a failover record while a simple record of the same
name and type exists, so switching a live ``origin.<domain>`` from ``LoadBalancer``'s simple alias
to these records takes the old record's removal first, or an alias from it to the primary record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.site.load_balancer import READY_PATH
from components.site.monitoring import EDGE_REGION, check_watched, metric_alarm, origin_health_alarm

FailoverRole = Literal["primary", "secondary"]
ROLES: tuple[FailoverRole, ...] = ("primary", "secondary")
HEALTH_CHECK_TYPE = "HTTPS"
HTTPS_PORT = 443
# Fast checks (10 s) for a payments API: with 3 failures an outage is noticed in ~30 s instead of
# ~90 s at the standard 30 s, for about $1 a month more per check (an "optional feature", as HTTPS
# is). The interval forces a new health check when changed (ForceNew in the provider's schema;
# "you can't change some values after you create a health check").
REQUEST_INTERVAL_SECONDS: Literal[10, 30] = 10
FAILURE_THRESHOLD = 3
# Where Route 53's checkers may run (aws.route53.HealthCheck ``regions``); the API wants at least
# three. All of them by default, as AWS does: a site is healthy while more than 18% of checkers
# see it healthy, so more vantage points make a false failover less likely.
CHECKER_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)
MIN_CHECKER_REGIONS = 3


@dataclass(frozen=True)
class OriginTarget:
    """One site's load balancer, as Route 53 aliases it."""

    alb_dns_name: pulumi.Input[str]
    alb_zone_id: pulumi.Input[str]
    """The load balancer's canonical hosted zone (``LoadBalancer.zone_id``), not the domain's zone."""


@dataclass(frozen=True)
class OriginHealthCheck:
    """How Route 53 probes each site (HTTPS; a type change would replace the checks)."""

    path: str = READY_PATH
    """The app's readiness, which passes only where the instances reach the current writer: traffic
    follows the writer, not mere liveness (a live but passive site, or the old region coming back
    after a failover, stays out of DNS)."""
    port: int = HTTPS_PORT
    request_interval_seconds: Literal[10, 30] = REQUEST_INTERVAL_SECONDS
    failure_threshold: int = FAILURE_THRESHOLD
    """Consecutive failed (or passed) checks before a site changes state: 1 to 10."""
    checker_regions: tuple[str, ...] = CHECKER_REGIONS

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or len(self.path) > 255:
            raise ValueError(f"health check path {self.path!r} must start with '/' and have at most 255 characters")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"health check port {self.port} is not a port number")
        if self.request_interval_seconds not in (10, 30):
            raise ValueError(f"request interval {self.request_interval_seconds} s: Route 53 allows 10 or 30")
        if not 1 <= self.failure_threshold <= 10:
            raise ValueError(f"failure threshold {self.failure_threshold}: Route 53 allows 1 to 10")
        unknown = sorted(set(self.checker_regions) - set(CHECKER_REGIONS))
        if unknown:
            raise ValueError(f"Route 53 has no health checkers in {unknown}; choose from {list(CHECKER_REGIONS)}")
        if len(set(self.checker_regions)) != len(self.checker_regions):
            raise ValueError(f"checker regions {list(self.checker_regions)} repeat a region")
        if len(self.checker_regions) < MIN_CHECKER_REGIONS:
            raise ValueError(f"Route 53 needs at least {MIN_CHECKER_REGIONS} checker regions")


@dataclass(frozen=True)
class OriginFailoverArgs:
    zone_id: str
    """The domain's Route 53 hosted zone."""
    origin_name: str
    """The name CloudFront connects to, ``origin.<domain>``."""
    sites: Mapping[str, OriginTarget]
    """Exactly two sites, keyed by region."""
    primary_region: str
    """The site that takes traffic while healthy; the other one is the secondary."""
    health_check: OriginHealthCheck = field(default_factory=OriginHealthCheck)
    alert_topic_arn: pulumi.Input[str] | None = None
    """The us-east-1 alert topic (the home site's ``Monitoring.edge_topic_arn``): the primary site's
    check alarms there, since Route 53 publishes health-check metrics in us-east-1 only and an alarm
    notifies only a topic of its own region. None: the checks are not watched."""

    def __post_init__(self) -> None:
        if len(self.sites) != len(ROLES):
            raise ValueError(f"failover needs exactly two sites, got {sorted(self.sites)}")
        if self.primary_region not in self.sites:
            raise ValueError(f"primary region {self.primary_region!r} is not one of the sites {sorted(self.sites)}")

    def regions_by_role(self) -> dict[FailoverRole, str]:
        (secondary,) = [region for region in self.sites if region != self.primary_region]
        return {"primary": self.primary_region, "secondary": secondary}


class OriginFailover(pulumi.ComponentResource):
    """One HTTPS health check per site and a PRIMARY/SECONDARY pair of alias records for the origin."""

    health_check_ids: dict[str, pulumi.Output[str]]
    """Per region: the health check of that site's load balancer."""
    origin_name: str
    primary_region: str

    def __init__(self, name: str, args: OriginFailoverArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:edge:OriginFailover", name, None, opts)
        checks = self._health_checks(name, args)
        self._records(name, args, checks)
        if args.alert_topic_arn is not None:
            self._primary_alarm(name, args, checks[args.primary_region], args.alert_topic_arn)

        self.health_check_ids = {region: check.id for region, check in checks.items()}
        self.origin_name = args.origin_name
        self.primary_region = args.primary_region
        self.register_outputs(
            {
                "health_check_ids": dict(self.health_check_ids),
                "origin_name": self.origin_name,
                "primary_region": self.primary_region,
            }
        )

    def _health_checks(self, name: str, args: OriginFailoverArgs) -> dict[str, aws.route53.HealthCheck]:
        """One check per site, named by region so that moving the primary never replaces one."""
        hc = args.health_check
        return {
            region: aws.route53.HealthCheck(
                f"{name}-{region}",
                type=HEALTH_CHECK_TYPE,
                # The site's own load balancer, not the origin name: a check of the failover name
                # would probe whichever site Route 53 currently answers with.
                fqdn=site.alb_dns_name,
                port=hc.port,
                resource_path=hc.path,
                request_interval=hc.request_interval_seconds,
                failure_threshold=hc.failure_threshold,
                regions=list(hc.checker_regions),
                # The load balancer's certificate names origin.<domain>, not its own DNS name: with
                # SNI a checker would retry each handshake without it. HTTPS checks don't validate
                # certificates either way.
                enable_sni=False,
                tags={"Name": f"{name}-{region}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for region, site in args.sites.items()
        }

    def _primary_alarm(
        self, name: str, args: OriginFailoverArgs, check: aws.route53.HealthCheck, topic_arn: pulumi.Input[str]
    ) -> None:
        """Pages when the primary site's check fails (``monitoring.origin_health_alarm`` says why the
        secondary's is not alarmed). Named by role, like the records: moving the primary changes only
        the alarm's health check and description, in place."""
        spec = origin_health_alarm(args.primary_region, check.id)
        check_watched([spec])
        metric_alarm(f"{name}-primary-unhealthy", spec, pulumi.Output.from_input(topic_arn).apply(_edge_topic), self)

    def _records(self, name: str, args: OriginFailoverArgs, checks: Mapping[str, aws.route53.HealthCheck]) -> None:
        """The origin name, twice: PRIMARY and SECONDARY, each aliasing a site and carrying its check."""
        for role, region in args.regions_by_role().items():
            site = args.sites[region]
            aws.route53.Record(
                f"{name}-{role}",
                zone_id=args.zone_id,
                name=args.origin_name,
                type="A",
                set_identifier=role,
                failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(type=role.upper())],
                health_check_id=checks[region].id,
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=site.alb_dns_name,
                        zone_id=site.alb_zone_id,
                        # The health check decides: a pilot-light site's empty target group would
                        # make the alias unhealthy forever ("a target group that has no registered
                        # targets is considered unhealthy").
                        evaluate_target_health=False,
                    )
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )


def _edge_topic(topic_arn: str) -> str:
    """``topic_arn``, if the topic is in us-east-1, where the health checks' metrics and so their
    alarms are: CloudWatch notifies only a topic of the alarm's own region."""
    parts = topic_arn.split(":")
    if len(parts) < 6 or parts[2] != "sns" or parts[3] != EDGE_REGION:
        raise ValueError(
            f"the origin's health-check alarm lives in {EDGE_REGION} (Route 53 publishes health-check metrics "
            f"there only) and can notify only an SNS topic of {EDGE_REGION}, not {topic_arn!r}: give the edge "
            "alert topic (Monitoring.edge_topic_arn)"
        )
    return topic_arn
