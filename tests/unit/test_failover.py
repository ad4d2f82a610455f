"""Origin failover as declared: one health check per site, failover records by role, and the
health checkers' own security group; moving the primary touches only the records' targets."""

from pathlib import Path
from typing import Any

import pytest

from components.between.origin_dns import (
    CHECKER_REGIONS,
    REQUEST_INTERVAL_SECONDS,
    OriginFailoverArgs,
    OriginHealthCheck,
    OriginTarget,
)
from components.site.security_groups import CLOUDFRONT_PREFIX_LIST, rule_plan
from offline.harness import ProgramError, ResourceRecord, StackRun, run_stack

PROGRAM = Path(__file__).parent / "programs" / "failover_program.py"
HOME, STANDBY = "eu-west-1", "eu-central-1"
ALB = "aws:lb/loadBalancer:LoadBalancer"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
# What failover_program.py gives as the home site's edge alert topic.
EDGE_TOPIC = "arn:aws:sns:us-east-1:123456789012:pay-edge-alerts"
RECORD = "aws:route53/record:Record"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
PREFIX_LIST_LOOKUP = "aws:ec2/getManagedPrefixList:getManagedPrefixList"
ROLES = ("primary", "secondary")
# What a move of the primary may change, and nothing else: the records' targets.
FLIP_CHANGES = {(f"pay-origin-{role}", key) for role in ROLES for key in ("aliases", "healthCheckId")} | {
    # The primary's health-check alarm, named by role: it watches the other check, updated in place.
    ("pay-origin-primary-unhealthy", key)
    for key in ("dimensions", "alarmDescription")
}
# aws_route53_record: name and zone_id force a replacement, type does in the provider's v6 line,
# a new set_identifier deletes and recreates the record set; the routing policy type goes with the role.
RECORD_IDENTITY = ("name", "zoneId", "type", "setIdentifier", "failoverRoutingPolicies")


def failover_run(primary: str) -> StackRun:
    return run_stack("prod", {"standbyRegion": STANDBY, "primaryRegion": primary}, program=PROGRAM)


@pytest.fixture(scope="module", params=[HOME, STANDBY])
def run(request: pytest.FixtureRequest) -> StackRun:
    """The two-site program with each site in turn as the primary."""
    return failover_run(request.param)


def primary_of(run: StackRun) -> str:
    return run.config["payments-platform:primaryRegion"]


def alb_in(run: StackRun, region: str) -> ResourceRecord:
    (found,) = [r for r in run.of_type(ALB) if r.region == region]
    return found


def record(run: StackRun, role: str) -> ResourceRecord:
    return run.one(RECORD, f"pay-origin-{role}")


def check_of(run: StackRun, region: str) -> ResourceRecord:
    return run.one(HEALTH_CHECK, f"pay-origin-{region}")


def test_records_by_role_alias_the_primary_site_and_the_other_one(run: StackRun) -> None:
    domain = run.config["payments-platform:domainName"]
    regions = {"primary": primary_of(run), "secondary": ({HOME, STANDBY} - {primary_of(run)}).pop()}
    for role, region in regions.items():
        found = record(run, role)
        alb = alb_in(run, region)
        assert found.inputs["name"] == f"origin.{domain}"
        assert (found.inputs["type"], found.inputs["zoneId"]) == ("A", run.config["payments-platform:hostedZoneId"])
        assert found.inputs["setIdentifier"] == role
        assert found.inputs["failoverRoutingPolicies"] == [{"type": role.upper()}]
        (alias,) = found.inputs["aliases"]
        assert (alias["name"], alias["zoneId"]) == (alb.state["dnsName"], alb.state["zoneId"])
        assert alias["evaluateTargetHealth"] is False, "the health check decides, not an empty target group"
        assert found.inputs["healthCheckId"] == check_of(run, region).id, "each record carries its own site's check"


def test_one_https_health_check_per_site_against_its_load_balancer(run: StackRun) -> None:
    checks = run.of_type(HEALTH_CHECK)
    assert sorted(c.name for c in checks) == sorted(f"pay-origin-{r}" for r in (HOME, STANDBY))
    for region in (HOME, STANDBY):
        check = check_of(run, region)
        assert check.inputs["fqdn"] == alb_in(run, region).state["dnsName"], "its site, never the failover name"
        # Readiness, not liveness: traffic follows the writer (templates/health_server.py answers it).
        assert (check.inputs["type"], check.inputs["port"], check.inputs["resourcePath"]) == ("HTTPS", 443, "/ready")
        assert check.inputs["requestInterval"] == 10
        assert check.inputs["failureThreshold"] == 3
        assert len(check.inputs["regions"]) >= 3
        assert set(check.inputs["regions"]) <= set(CHECKER_REGIONS)
        assert "measureLatency" not in check.inputs, "an extra cost, and it forces a new check"
    assert run.outputs["origin_health_check_ids"] == {r: check_of(run, r).id for r in (HOME, STANDBY)}
    assert run.outputs["origin_name"] == f"origin.{run.config['payments-platform:domainName']}"


def test_the_primary_sites_check_pages_the_edge_topic_in_us_east_1(run: StackRun) -> None:
    """Route 53 publishes HealthCheckStatus (AWS/Route53, dimension HealthCheckId; 1 healthy, 0
    unhealthy, every minute) in us-east-1 only (Route 53 Developer Guide, "Monitoring health checks
    using CloudWatch"), and an alarm notifies only a topic of its own region. The passive site's
    /ready fails by design (it cannot reach the writer): only the primary's check is alarmed."""
    primary = primary_of(run)
    (secondary,) = {HOME, STANDBY} - {primary}
    (alarm,) = run.of_type(ALARM)
    assert alarm.inputs["region"] == "us-east-1"
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == ("AWS/Route53", "HealthCheckStatus")
    assert alarm.inputs["dimensions"] == {"HealthCheckId": check_of(run, primary).id}
    assert check_of(run, secondary).id not in str(alarm.inputs), "the passive site's check fails by design"
    assert (alarm.inputs["statistic"], alarm.inputs["period"]) == ("Minimum", 60)
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == ("LessThanThreshold", 1)
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [EDGE_TOPIC]
    assert alarm.inputs["actionsEnabled"] is True
    # Route 53 reports a check's status every minute while the check exists: silence is no check.
    assert alarm.inputs["treatMissingData"] == "breaching"
    assert primary in alarm.inputs["alarmDescription"]


def test_a_health_check_alarm_cannot_notify_a_topic_outside_us_east_1() -> None:
    with pytest.raises(ProgramError) as raised:
        run_stack(
            "prod",
            {"standbyRegion": STANDBY, "edgeAlertTopicArn": "arn:aws:sns:eu-west-1:123456789012:pay-alerts"},
            program=PROGRAM,
        )
    assert "can notify only an SNS topic of us-east-1" in str(raised.value)


def test_fast_interval_is_the_one_pinned_default() -> None:
    """10 s checks: an outage noticed in ~30 s, not ~90 s, for ~$1 a month per check."""
    assert REQUEST_INTERVAL_SECONDS == OriginHealthCheck().request_interval_seconds == 10


def inputs_that_differ(before: StackRun, after: StackRun) -> set[tuple[str, str]]:
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    assert old.keys() == new.keys(), "a move of the primary adds, removes or renames nothing"
    changed = set()
    for urn, was in old.items():
        now = new[urn]
        assert (was.parent, was.provider, was.id) == (now.parent, now.provider, now.id)
        changed |= {
            (was.name, k) for k in was.inputs.keys() | now.inputs.keys() if was.inputs.get(k) != now.inputs.get(k)
        }
    return changed


def test_moving_the_primary_changes_only_the_records_targets() -> None:
    home, standby = failover_run(HOME), failover_run(STANDBY)
    assert inputs_that_differ(home, standby) == FLIP_CHANGES
    for role in ROLES:
        assert record(home, role).inputs["aliases"] != record(standby, role).inputs["aliases"]
        for key in RECORD_IDENTITY:
            assert record(home, role).inputs[key] == record(standby, role).inputs[key], key
    for region in (HOME, STANDBY):
        assert check_of(home, region).inputs == check_of(standby, region).inputs


def test_records_swap_their_targets_when_the_primary_moves() -> None:
    home, standby = failover_run(HOME), failover_run(STANDBY)
    assert record(home, "primary").inputs["aliases"] == record(standby, "secondary").inputs["aliases"]
    assert record(home, "primary").inputs["healthCheckId"] == record(standby, "secondary").inputs["healthCheckId"]


# ---------------------------------------------------------------- health checkers' security group


def lookups(run: StackRun) -> list[tuple[str, str]]:
    """(prefix list name, region of the provider that looked it up) for each prefix-list lookup."""
    regions = {r.urn: r.inputs.get("region", "") for r in run.resources if r.type == "pulumi:providers:aws"}
    return [
        (args["name"], regions.get(provider.rsplit("::", maxsplit=1)[0], ""))
        for (token, args), provider in zip(run.calls, run.call_providers, strict=True)
        if token == PREFIX_LIST_LOOKUP
    ]


def ingress_of(run: StackRun, group: ResourceRecord) -> list[dict[str, Any]]:
    return [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == group.id]


def test_each_site_admits_route53_checkers_through_a_group_of_its_own(run: StackRun) -> None:
    assert sorted(lookups(run)) == sorted(
        [(CLOUDFRONT_PREFIX_LIST, HOME), (CLOUDFRONT_PREFIX_LIST, STANDBY)]
        + [(f"com.amazonaws.{region}.route53-healthchecks", region) for region in (HOME, STANDBY)]
    ), "each site looks up its own region's list, through its own provider"
    for region, prefix in ((HOME, "pay"), (STANDBY, "pay-standby")):
        cloudfront = run.one(SG, f"{prefix}-sg-alb")
        checkers = run.one(SG, f"{prefix}-sg-alb-health-checks")
        assert alb_in(run, region).inputs["securityGroups"] == [cloudfront.id, checkers.id]
        ((cloudfront_rule,), (checker_rule,)) = ingress_of(run, cloudfront), ingress_of(run, checkers)
        assert (checker_rule["fromPort"], checker_rule["toPort"], checker_rule["ipProtocol"]) == (443, 443, "tcp")
        assert checker_rule["prefixListId"] != cloudfront_rule["prefixListId"]
        assert set(checker_rule) & {"cidrIpv4", "cidrIpv6", "referencedSecurityGroupId"} == set()


def test_the_cloudfront_group_never_also_holds_the_route53_list(run: StackRun) -> None:
    """55 (CloudFront) + 25 (Route 53) rules would exceed the default 60 per group."""
    route53_lists = {
        rule["prefixListId"]
        for prefix in ("pay", "pay-standby")
        for rule in ingress_of(run, run.one(SG, f"{prefix}-sg-alb-health-checks"))
    }
    for prefix in ("pay", "pay-standby"):
        held = {rule.get("prefixListId") for rule in ingress_of(run, run.one(SG, f"{prefix}-sg-alb"))}
        assert held, "the CloudFront group admits CloudFront"
        assert not held & route53_lists
    plan = rule_plan(8443, 3306, alb_source="cloudfront", alb_ports=(443,), health_checker_ports=(443,))
    by_list = {(r.group, r.prefix_list) for r in plan if r.prefix_list}
    assert by_list == {
        ("alb", CLOUDFRONT_PREFIX_LIST),
        ("alb-health-checks", "com.amazonaws.{region}.route53-healthchecks"),
    }


def test_route53_checkers_fit_two_ports_at_most() -> None:
    assert len(rule_plan(8443, 3306, health_checker_ports=(443, 8443))) == len(rule_plan(8443, 3306)) + 2
    with pytest.raises(ValueError, match="at most 2 ports"):
        rule_plan(8443, 3306, health_checker_ports=(443, 8443, 9443))


def test_without_health_checker_ports_there_is_no_checkers_group(dev: StackRun) -> None:
    """The default (dev: one site, no failover) is the stack as it was."""
    assert sorted(dev.outputs["security_group_ids"]) == ["alb", "app", "database", "rotation"]
    assert [r.name for r in dev.of_type(SG) if r.name.endswith("-alb-health-checks")] == []
    assert [a["name"] for t, a in dev.calls if t == PREFIX_LIST_LOOKUP] == [CLOUDFRONT_PREFIX_LIST]


# ---------------------------------------------------------------- arguments refused up front

SITES = {HOME: OriginTarget("home.elb.example", "Z1"), STANDBY: OriginTarget("standby.elb.example", "Z2")}


@pytest.mark.parametrize(
    ("sites", "primary", "message"),
    [
        ({HOME: SITES[HOME]}, HOME, "exactly two sites"),
        ({**SITES, "us-east-1": OriginTarget("third.elb.example", "Z3")}, HOME, "exactly two sites"),
        (SITES, "us-east-1", "not one of the sites"),
    ],
)
def test_failover_needs_two_sites_and_a_primary_among_them(
    sites: dict[str, OriginTarget], primary: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        OriginFailoverArgs(zone_id="Z0", origin_name="origin.example.com", sites=sites, primary_region=primary)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"checker_regions": ("us-east-1", "eu-west-1")}, "at least 3"),
        ({"checker_regions": ("us-east-1", "eu-west-1", "eu-central-1")}, "no health checkers in"),
        ({"checker_regions": ("us-east-1", "eu-west-1", "eu-west-1")}, "repeat"),
        ({"request_interval_seconds": 20}, "10 or 30"),
        ({"failure_threshold": 0}, "1 to 10"),
        ({"failure_threshold": 11}, "1 to 10"),
        ({"path": "health"}, "must start with '/'"),
        ({"port": 0}, "not a port"),
    ],
)
def test_health_check_settings_route53_would_refuse_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OriginHealthCheck(**settings)
