"""Load balancer tier as declared: the ALB, its target group, and listeners with and without a domain."""

import re
from pathlib import Path

import pytest

from components.load_balancer import TLS_POLICY, load_balancer_name
from offline.harness import ResourceRecord, StackRun, run_stack
from tests.helpers import named, record_by_output

ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"


def listener(run: StackRun, port: int) -> ResourceRecord:
    (found,) = [r for r in run.of_type(LISTENER) if r.inputs["port"] == port]
    return found


def setting(run: StackRun, key: str) -> int:
    return int(run.config[f"payments-platform:{key}"])


def assert_only_the_edge_reaches_the_app(run: StackRun, app_listener: ResourceRecord) -> None:
    """Default 403; a priority-1 rule forwards requests carrying the edge's secret header."""
    (default,) = app_listener.inputs["defaultActions"]
    assert default["type"] == "fixed-response"
    assert default["fixedResponse"]["statusCode"] == "403"
    (rule,) = run.of_type("aws:lb/listenerRule:ListenerRule")
    assert rule.inputs["listenerArn"] == app_listener.state["arn"]
    assert rule.inputs["priority"] == 1
    secret = named(run, "random:index/randomPassword:RandomPassword", "-origin-verify").state["result"]
    (condition,) = rule.inputs["conditions"]
    assert condition["httpHeader"] == {"httpHeaderName": "X-Origin-Verify", "values": [secret]}
    (forward,) = rule.inputs["actions"]
    assert (forward["type"], forward["targetGroupArn"]) == ("forward", run.outputs["alb_target_group_arn"])
    assert "conditions" in rule.secret_inputs, "the shared secret stays secret in state"


def test_internet_facing_alb_across_every_public_subnet(stack_run: StackRun) -> None:
    alb = stack_run.one(ALB)
    assert alb.inputs["internal"] is False
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["subnets"] == stack_run.outputs["public_subnet_ids"]
    assert alb.inputs["securityGroups"] == [stack_run.outputs["security_group_ids"]["alb"]]


def test_alb_hardening(stack_run: StackRun) -> None:
    alb = stack_run.one(ALB)
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert alb.inputs["desyncMitigationMode"] in ("defensive", "strictest")
    assert alb.inputs["idleTimeout"] == setting(stack_run, "albIdleTimeoutSeconds")
    assert alb.inputs["enableHttp2"] is True


def test_deletion_protection_only_in_prod(dev: StackRun, prod: StackRun) -> None:
    assert prod.one(ALB).inputs["enableDeletionProtection"] is True
    assert dev.one(ALB).inputs["enableDeletionProtection"] is False


def test_target_group_checks_health_on_the_app_port(stack_run: StackRun) -> None:
    group = stack_run.one("aws:lb/targetGroup:TargetGroup")
    assert group.inputs["port"] == setting(stack_run, "appPort")
    assert group.inputs["vpcId"] == stack_run.outputs["vpc_id"]
    hc = group.inputs["healthCheck"]
    assert (hc["path"], hc["matcher"], hc["port"]) == ("/health", "200", "traffic-port")
    assert hc["interval"] == setting(stack_run, "healthCheckIntervalSeconds")
    assert hc["healthyThreshold"] == setting(stack_run, "healthCheckHealthyThreshold")
    assert hc["unhealthyThreshold"] == setting(stack_run, "healthCheckUnhealthyThreshold")
    assert hc["timeout"] < hc["interval"]
    assert group.inputs["deregistrationDelay"] == setting(stack_run, "deregistrationDelaySeconds")
    assert stack_run.outputs["alb_target_group_arn"] == group.state["arn"]


def test_the_load_balancer_speaks_https_to_the_instances(stack_run: StackRun) -> None:
    """Traffic and health checks both use TLS; the instances' self-signed certificates suffice
    because an ALB does not validate target certificates."""
    group = stack_run.one("aws:lb/targetGroup:TargetGroup")
    assert group.inputs["protocol"] == "HTTPS"
    assert group.inputs["healthCheck"]["protocol"] == "HTTPS"


# ELB: load balancer and target group names have at most 32 characters (letters, digits, hyphens),
# neither starts nor ends with a hyphen, and a load balancer's does not start with "internal-".
ELB_NAME = re.compile(r"^(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
# The provider names a target group from name_prefix plus a 26-character unique suffix.
TARGET_GROUP_SUFFIX_LENGTH = 26


@pytest.fixture(scope="module")
def longest_suffix() -> StackRun:
    # envSuffix allows 12 characters (components/settings.py _SUFFIX_RE).
    return run_stack("prod", {"envSuffix": "abcdefghijkl"})


def test_names_fit_elb_limits_at_the_longest_stack_suffix(longest_suffix: StackRun) -> None:
    alb = longest_suffix.one(ALB)
    assert alb.inputs["name"] == "fintech-abcdefghijkl-lb-alb"
    assert ELB_NAME.match(alb.inputs["name"])
    group = longest_suffix.one("aws:lb/targetGroup:TargetGroup")
    assert "name" not in group.inputs, "a fixed name cannot be replaced create-before-delete"
    prefix = group.inputs["namePrefix"]
    assert len(prefix) <= 6
    assert ELB_NAME.match(prefix + "x" * TARGET_GROUP_SUFFIX_LENGTH)


def test_a_load_balancer_name_over_the_limit_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="at most 32"):
        load_balancer_name("fintech-abcdefghijkl-load-balancer")


def test_with_a_domain_https_serves_tls13_and_http_redirects(prod: StackRun) -> None:
    https, http = listener(prod, 443), listener(prod, 80)
    assert https.inputs["protocol"] == "HTTPS"
    assert https.inputs["sslPolicy"] == TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert_only_the_edge_reaches_the_app(prod, https)
    (redirect,) = http.inputs["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert set(prod.outputs["alb_listener_arns"]) == {"https", "http"}
    assert prod.outputs["alb_tls"].startswith("HTTPS on 443")


def test_certificate_is_dns_validated_in_the_configured_zone(prod: StackRun) -> None:
    zone = prod.config["payments-platform:hostedZoneId"]
    domain = prod.config["payments-platform:domainName"]
    certificate = named(prod, "aws:acm/certificate:Certificate", "-lb-certificate")
    assert certificate.inputs["domainName"] == f"origin.{domain}"
    assert certificate.inputs["validationMethod"] == "DNS"
    validation = named(prod, "aws:acm/certificateValidation:CertificateValidation", "-lb-certificate-issued")
    assert validation.inputs["certificateArn"] == certificate.state["arn"]
    records = {r.name: r for r in prod.of_type("aws:route53/record:Record")}
    check = next(r for n, r in records.items() if n.endswith("-lb-certificate-validation"))
    assert check.inputs["zoneId"] == zone
    assert check.inputs["records"] == [certificate.state["domainValidationOptions"][0]["resourceRecordValue"]]
    assert validation.inputs["validationRecordFqdns"] == [check.state["fqdn"]]
    assert listener(prod, 443).inputs["certificateArn"] == validation.state["certificateArn"]
    alias = next(r for n, r in records.items() if n.endswith("-origin-alias"))
    assert (alias.inputs["zoneId"], alias.inputs["name"], alias.inputs["type"]) == (zone, f"origin.{domain}", "A")


def test_without_a_domain_http_only_and_the_stack_says_so(dev: StackRun) -> None:
    (only,) = dev.of_type(LISTENER)
    assert (only.inputs["port"], only.inputs["protocol"]) == (80, "HTTP")
    assert_only_the_edge_reaches_the_app(dev, only)
    assert dev.outputs["alb_tls"].startswith("HTTP only")
    assert any("HTTP only" in w for w in dev.warnings)
    assert [c for c in dev.of_type("aws:acm/certificate:Certificate") if c.name.endswith("-lb-certificate")] == []


@pytest.mark.parametrize("key", ["alb_arn", "alb_dns_name", "alb_zone_id", "alb_security_group_id"])
def test_load_balancer_outputs(stack_run: StackRun, key: str) -> None:
    assert stack_run.outputs[key]
    assert record_by_output(stack_run, stack_run.outputs["alb_arn"]).type == ALB


EDGE_PROGRAM = """
import pulumi, pulumi_aws as aws
from components.load_balancer import HealthCheck, LoadBalancer, LoadBalancerArgs
provider = aws.Provider("p", region="eu-west-1")
LoadBalancer("edge-lb", LoadBalancerArgs(
    vpc_id="vpc-1", public_subnet_ids=["subnet-a", "subnet-b"], security_group_id="sg-1",
    logs_bucket_name="logs", logs_prefix="alb", app_port=8080, health_check=HealthCheck(),
    deregistration_delay_seconds=60, idle_timeout_seconds=60, deletion_protection=False,
    domain_name=DOMAIN, hosted_zone_id=ZONE,
    require_origin_header=True,
), pulumi.ResourceOptions(providers=[provider]))
"""


@pytest.mark.parametrize(("domain", "port"), [(None, 80), ("pay.example.com", 443)])
def test_edge_tier_can_require_its_origin_header(tmp_path: Path, domain: str | None, port: int) -> None:
    program = tmp_path / "edge.py"
    zone = "Z0123456789ABC" if domain else None
    program.write_text(EDGE_PROGRAM.replace("DOMAIN", repr(domain)).replace("ZONE", repr(zone)))
    run = run_stack("dev", program=program)
    app = listener(run, port)
    (default,) = app.inputs["defaultActions"]
    assert default["type"] == "fixed-response"
    assert default["fixedResponse"]["statusCode"] == "403"
    (rule,) = run.of_type("aws:lb/listenerRule:ListenerRule")
    assert rule.inputs["listenerArn"] == app.state["arn"]
    assert rule.inputs["priority"] == 1
    (condition,) = rule.inputs["conditions"]
    secret = named(run, "random:index/randomPassword:RandomPassword", "-origin-verify").state["result"]
    assert condition["httpHeader"] == {"httpHeaderName": "X-Origin-Verify", "values": [secret]}
    (forward,) = rule.inputs["actions"]
    assert forward["type"] == "forward"
    assert "conditions" in rule.secret_inputs, "the shared secret stays secret in state"
