"""Load balancer tier as declared: the ALB, its target group, and listeners with and without a domain.

The stacks' assertions look at the stack region's site (a standby region may hold a second one);
the two-site program under tests/unit/programs exercises the options a standby needs."""

import re
from pathlib import Path
from typing import Any

import pytest

from components.site.load_balancer import TLS_POLICY, HealthCheck, LoadBalancerArgs, load_balancer_name
from offline.harness import ProgramError, ResourceRecord, StackRun, run_stack
from tests.helpers import named, record_by_output
from tests.unit.test_compute import upstream

ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
RECORD = "aws:route53/record:Record"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
# Route 53's checkers reach exactly this without the edge's header: GET on the health path.
HEALTH_CHECKERS_CONDITIONS = [{"pathPattern": {"values": ["/ready"]}}, {"httpRequestMethod": {"values": ["GET"]}}]
TWO_SITES = Path(__file__).parent / "programs" / "failover_program.py"


def home(run: StackRun, type_: str) -> list[ResourceRecord]:
    """The resources of ``type_`` in the stack's own region."""
    return [r for r in run.of_type(type_) if r.region == run.config["aws:region"]]


def home_one(run: StackRun, type_: str) -> ResourceRecord:
    (found,) = home(run, type_)
    return found


def listener(run: StackRun, port: int) -> ResourceRecord:
    (found,) = [r for r in home(run, LISTENER) if r.inputs["port"] == port]
    return found


def setting(run: StackRun, key: str) -> int:
    return int(run.config[f"payments-platform:{key}"])


def rules_on(run: StackRun, app_listener: ResourceRecord) -> list[ResourceRecord]:
    return [r for r in run.of_type(LISTENER_RULE) if r.inputs["listenerArn"] == app_listener.state["arn"]]


def assert_only_the_edge_reaches_the_app(
    run: StackRun, app_listener: ResourceRecord, target_group: ResourceRecord, health_checkers: bool
) -> None:
    """Default 403; a priority-1 rule forwards requests carrying the edge's secret header; with
    ``health_checkers`` one more rule, after it, forwards GET on the health path and nothing else."""
    (default,) = app_listener.inputs["defaultActions"]
    assert default["type"] == "fixed-response"
    assert default["fixedResponse"]["statusCode"] == "403"
    rules = sorted(rules_on(run, app_listener), key=lambda r: float(r.inputs["priority"]))
    assert len(rules) == (2 if health_checkers else 1)
    edge_rule = rules[0]
    assert edge_rule.inputs["priority"] == 1
    secret = named(run, RANDOM_PASSWORD, "-origin-verify").state["result"]
    (condition,) = edge_rule.inputs["conditions"]
    assert condition["httpHeader"] == {"httpHeaderName": "X-Origin-Verify", "values": [secret]}
    assert "conditions" in edge_rule.secret_inputs, "the shared secret stays secret in state"
    for rule in rules:
        (forward,) = rule.inputs["actions"]
        assert (forward["type"], forward["targetGroupArn"]) == ("forward", target_group.state["arn"])
    if health_checkers:
        health_rule = rules[1]
        assert health_rule.inputs["priority"] > edge_rule.inputs["priority"]
        assert health_rule.inputs["conditions"] == HEALTH_CHECKERS_CONDITIONS
        # Route 53's checkers see readiness (reaches the writer); the target group, liveness only.
        assert target_group.inputs["healthCheck"]["path"] == "/health"


def with_health_checkers(run: StackRun) -> bool:
    """Whether the stack's site answers Route 53's checkers (it does when origin failover is on)."""
    return "alb-health-checks" in run.outputs["security_group_ids"]


def test_internet_facing_alb_across_every_public_subnet(stack_run: StackRun) -> None:
    alb = home_one(stack_run, ALB)
    groups = stack_run.outputs["security_group_ids"]
    assert alb.inputs["internal"] is False
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["subnets"] == stack_run.outputs["public_subnet_ids"]
    extra = [groups["alb-health-checks"]] if with_health_checkers(stack_run) else []
    assert alb.inputs["securityGroups"] == [groups["alb"], *extra]


def test_alb_hardening(stack_run: StackRun) -> None:
    alb = home_one(stack_run, ALB)
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert alb.inputs["desyncMitigationMode"] in ("defensive", "strictest")
    assert alb.inputs["idleTimeout"] == setting(stack_run, "albIdleTimeoutSeconds")
    assert alb.inputs["enableHttp2"] is True


def test_deletion_protection_only_in_prod(dev: StackRun, prod: StackRun) -> None:
    assert [alb.inputs["enableDeletionProtection"] for alb in prod.of_type(ALB)] == [True] * len(prod.of_type(ALB))
    assert dev.one(ALB).inputs["enableDeletionProtection"] is False


def test_target_group_checks_health_on_the_app_port(stack_run: StackRun) -> None:
    group = home_one(stack_run, "aws:lb/targetGroup:TargetGroup")
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
    group = home_one(stack_run, "aws:lb/targetGroup:TargetGroup")
    assert group.inputs["protocol"] == "HTTPS"
    assert group.inputs["healthCheck"]["protocol"] == "HTTPS"


# ELB: load balancer and target group names have at most 32 characters (letters, digits, hyphens),
# neither starts nor ends with a hyphen, and a load balancer's does not start with "internal-".
ELB_NAME = re.compile(r"^(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
# The provider names a target group from name_prefix plus a 26-character unique suffix.
TARGET_GROUP_SUFFIX_LENGTH = 26


@pytest.fixture(scope="module")
def longest_suffixes() -> list[StackRun]:
    # envSuffix allows 12 characters (components/settings.py _SUFFIX_RE), 7 with a standby site.
    return [run_stack("dev", {"envSuffix": "abcdefghijkl"}), run_stack("prod", {"envSuffix": "abcdefg"})]


def test_names_fit_elb_limits_at_the_longest_stack_suffix(longest_suffixes: list[StackRun]) -> None:
    dev, prod = longest_suffixes
    assert home_one(dev, ALB).inputs["name"] == "fintech-abcdefghijkl-lb-alb"
    assert {alb.inputs["name"] for alb in prod.of_type(ALB)} == {
        "fintech-abcdefg-lb-alb",
        "fintech-abcdefg-standby-lb-alb",
    }
    for run in longest_suffixes:
        for alb in run.of_type(ALB):
            assert ELB_NAME.match(alb.inputs["name"])
        for group in run.of_type("aws:lb/targetGroup:TargetGroup"):
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
    target_group = home_one(prod, "aws:lb/targetGroup:TargetGroup")
    assert_only_the_edge_reaches_the_app(prod, https, target_group, with_health_checkers(prod))
    (redirect,) = http.inputs["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert set(prod.outputs["alb_listener_arns"]) == {"https", "http"}
    assert prod.outputs["alb_tls"].startswith("HTTPS on 443")


def test_certificate_is_dns_validated_in_the_configured_zone(prod: StackRun) -> None:
    zone = prod.config["payments-platform:hostedZoneId"]
    domain = prod.config["payments-platform:domainName"]
    (certificate,) = [r for r in home(prod, "aws:acm/certificate:Certificate") if r.name.endswith("-lb-certificate")]
    assert certificate.inputs["domainName"] == f"origin.{domain}"
    assert certificate.inputs["validationMethod"] == "DNS"
    (validation,) = [
        r
        for r in home(prod, "aws:acm/certificateValidation:CertificateValidation")
        if r.name.endswith("-lb-certificate-issued")
    ]
    assert validation.inputs["certificateArn"] == certificate.state["arn"]
    records = {r.name: r for r in home(prod, RECORD)}
    check = next(r for n, r in records.items() if n.endswith("-lb-certificate-validation"))
    assert check.inputs["zoneId"] == zone
    assert check.inputs["records"] == [certificate.state["domainValidationOptions"][0]["resourceRecordValue"]]
    assert validation.inputs["validationRecordFqdns"] == [check.state["fqdn"]]
    assert listener(prod, 443).inputs["certificateArn"] == validation.state["certificateArn"]


def origin_records(run: StackRun) -> tuple[list[ResourceRecord], list[ResourceRecord]]:
    """Records of ``origin.<domain>``: the load balancer's simple alias, and failover ones."""
    origin_name = f"origin.{run.config['payments-platform:domainName']}"
    named_origin = [r for r in run.of_type(RECORD) if r.inputs["name"] == origin_name]
    failover = [r for r in named_origin if r.inputs.get("failoverRoutingPolicies")]
    return [r for r in named_origin if r not in failover], failover


def test_the_origin_name_is_the_load_balancers_alias_or_failover_records_never_both(prod: StackRun) -> None:
    """Route 53 refuses a routing-policy record beside a simple one of the same name and type."""
    simple, failover = origin_records(prod)
    if failover:
        assert simple == []
        return
    (alias,) = simple
    assert alias.name.endswith("-lb-origin-alias")
    (target,) = alias.inputs["aliases"]
    assert target["name"] == home_one(prod, ALB).state["dnsName"]
    assert (alias.inputs["zoneId"], alias.inputs["type"]) == (prod.config["payments-platform:hostedZoneId"], "A")


def test_without_a_domain_http_only_and_the_stack_says_so(dev: StackRun) -> None:
    (only,) = dev.of_type(LISTENER)
    assert (only.inputs["port"], only.inputs["protocol"]) == (80, "HTTP")
    assert_only_the_edge_reaches_the_app(dev, only, dev.one("aws:lb/targetGroup:TargetGroup"), health_checkers=False)
    assert dev.outputs["alb_tls"].startswith("HTTP only")
    assert any("HTTP only" in w for w in dev.warnings)
    assert [c for c in dev.of_type("aws:acm/certificate:Certificate") if c.name.endswith("-lb-certificate")] == []


@pytest.mark.parametrize("key", ["alb_arn", "alb_dns_name", "alb_zone_id", "alb_security_group_id"])
def test_load_balancer_outputs(stack_run: StackRun, key: str) -> None:
    assert stack_run.outputs[key]
    assert record_by_output(stack_run, stack_run.outputs["alb_arn"]).type == ALB


EDGE_PROGRAM = """
import pulumi, pulumi_aws as aws
from components.site.load_balancer import HealthCheck, LoadBalancer, LoadBalancerArgs
provider = aws.Provider("p", region="eu-west-1")
LoadBalancer("edge-lb", LoadBalancerArgs(
    vpc_id="vpc-1", public_subnet_ids=["subnet-a", "subnet-b"], security_group_id="sg-1",
    logs_bucket_name="logs", logs_prefix="alb", app_port=8080, health_check=HealthCheck(),
    deregistration_delay_seconds=60, idle_timeout_seconds=60, deletion_protection=False,
    domain_name=DOMAIN, hosted_zone_id=ZONE,
    require_origin_header=True, SECRET
), pulumi.ResourceOptions(providers=[provider]))
"""


@pytest.mark.parametrize(("domain", "port"), [(None, 80), ("pay.example.com", 443)])
def test_edge_tier_can_require_its_origin_header(tmp_path: Path, domain: str | None, port: int) -> None:
    program = tmp_path / "edge.py"
    zone = "Z0123456789ABC" if domain else None
    program.write_text(EDGE_PROGRAM.replace("DOMAIN", repr(domain)).replace("ZONE", repr(zone)).replace("SECRET", ""))
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


# ---------------------------------------------------------------- options for a second site


@pytest.fixture(scope="module")
def two_sites() -> StackRun:
    """Two sites' load balancers behind origin failover (tests/unit/programs/failover_program.py)."""
    return run_stack("prod", {"standbyRegion": "eu-central-1", "primaryRegion": None}, program=TWO_SITES)


def site_one(run: StackRun, type_: str, region: str) -> ResourceRecord:
    (found,) = [r for r in run.of_type(type_) if r.region == region]
    return found


SITES = ("eu-west-1", "eu-central-1")


def https_in(run: StackRun, region: str) -> ResourceRecord:
    (found,) = [r for r in run.of_type(LISTENER) if r.region == region and r.inputs["port"] == 443]
    return found


def test_the_second_site_requires_the_secret_the_edge_already_sends(two_sites: StackRun) -> None:
    (generated,) = two_sites.of_type(RANDOM_PASSWORD)
    assert generated.region == "eu-west-1", "only the first site generates one"
    for region in SITES:
        (edge_rule,) = [r for r in rules_on(two_sites, https_in(two_sites, region)) if r.inputs["priority"] == 1]
        (condition,) = edge_rule.inputs["conditions"]
        assert condition["httpHeader"]["values"] == [generated.state["result"]]
        assert "conditions" in edge_rule.secret_inputs, "a passed-in secret stays secret in state too"


def test_route53_checkers_reach_only_get_health_without_the_header(two_sites: StackRun) -> None:
    for region in SITES:
        https = https_in(two_sites, region)
        target_group = site_one(two_sites, "aws:lb/targetGroup:TargetGroup", region)
        assert_only_the_edge_reaches_the_app(two_sites, https, target_group, health_checkers=True)
        (health_rule,) = [r for r in rules_on(two_sites, https) if r.inputs["priority"] != 1]
        assert not any("httpHeader" in c for c in health_rule.inputs["conditions"])


def test_with_failover_no_load_balancer_claims_the_origin_name(two_sites: StackRun) -> None:
    simple, failover = origin_records(two_sites)
    assert simple == []
    assert sorted(r.inputs["setIdentifier"] for r in failover) == ["primary", "secondary"]
    assert [r.name for r in two_sites.of_type(RECORD) if r.name.endswith("-origin-alias")] == []


def test_extra_security_groups_follow_the_load_balancers_own(two_sites: StackRun) -> None:
    for region, prefix in zip(SITES, ("pay", "pay-standby"), strict=True):
        groups = [
            two_sites.one("aws:ec2/securityGroup:SecurityGroup", f"{prefix}-sg-{k}").id
            for k in ("alb", "alb-health-checks")
        ]
        assert site_one(two_sites, ALB, region).inputs["securityGroups"] == groups


def test_with_the_options_off_every_request_needs_the_header(dev: StackRun) -> None:
    """The defaults: no rule without the header, one group, a generated secret, the simple alias
    (prod: see test_the_origin_name_is_the_load_balancers_alias_or_failover_records_never_both)."""
    (rule,) = dev.of_type(LISTENER_RULE)
    assert [c["httpHeader"]["httpHeaderName"] for c in rule.inputs["conditions"]] == ["X-Origin-Verify"]
    assert dev.one(ALB).inputs["securityGroups"] == [dev.outputs["security_group_ids"]["alb"]]
    assert len(dev.of_type(RANDOM_PASSWORD)) == 1


def lb_args(**options: Any) -> LoadBalancerArgs:
    return LoadBalancerArgs(
        vpc_id="vpc-1",
        public_subnet_ids=["subnet-a"],
        security_group_id="sg-1",
        logs_bucket_name="logs",
        logs_prefix="alb",
        app_port=8443,
        health_check=HealthCheck(),
        deregistration_delay_seconds=60,
        idle_timeout_seconds=60,
        deletion_protection=False,
        **options,
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"origin_verify_secrets": ["s3cret"]}, "origin_verify_secrets needs require_origin_header"),
        ({"health_checkers": True}, "health_checkers needs require_origin_header"),
    ],
)
def test_options_without_the_origin_header_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lb_args(**options)
    lb_args(require_origin_header=True, **options)


def test_a_secret_passed_in_plain_is_kept_secret(tmp_path: Path) -> None:
    program = tmp_path / "edge.py"
    program.write_text(
        EDGE_PROGRAM.replace("DOMAIN", "None")
        .replace("ZONE", "None")
        .replace("SECRET", "origin_verify_secrets=['plain']")
    )
    run = run_stack("dev", program=program)
    assert run.of_type(RANDOM_PASSWORD) == []
    (rule,) = run.of_type(LISTENER_RULE)
    assert rule.inputs["conditions"][0]["httpHeader"]["values"] == ["plain"]
    assert "conditions" in rule.secret_inputs


def test_the_internet_facing_load_balancer_waits_for_the_internet_gateway_and_public_routes(
    stack_run: StackRun,
) -> None:
    """CreateLoadBalancer (internet-facing) fails with `InvalidSubnet: VPC ... has no internet gateway`
    while the gateway is not attached (openshift/installer#1110): a first `up` must not race it."""
    alb = home_one(stack_run, ALB)
    assert alb.inputs.get("internal") in (None, False)
    needed = {
        r.urn: r.name
        for r in [
            *stack_run.of_type("aws:ec2/internetGateway:InternetGateway"),
            *(r for r in stack_run.of_type("aws:ec2/route:Route") if "-public-default" in r.name),
            *(
                r
                for r in stack_run.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
                if "-net-public-" in r.name
            ),
        ]
    }
    azs = len(stack_run.outputs["availability_zones"])
    assert len(needed) == 2 + azs, sorted(needed.values())
    missing = set(needed) - upstream(stack_run, alb)
    assert not missing, f"the load balancer can be created before {sorted(needed[u] for u in missing)}"


def test_a_header_condition_takes_at_most_three_values_and_generations_count_from_one() -> None:
    with pytest.raises(ValueError, match="compares at most 3 values"):
        lb_args(require_origin_header=True, origin_verify_secrets=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="counts from 1"):
        lb_args(require_origin_header=True, origin_verify_generation=0)


def test_raising_the_generation_rotates_the_secret_without_refusing_the_one_in_use(tmp_path: Path) -> None:
    """Generation 2: CloudFront is to send a new secret; until its update reaches every edge
    location it still sends generation 1's, which the listener must keep accepting."""
    program = tmp_path / "edge.py"
    first, second = (
        EDGE_PROGRAM.replace("DOMAIN", "None").replace("ZONE", "None").replace("SECRET", secret)
        for secret in ("", "origin_verify_generation=2")
    )
    program.write_text(first)
    before = run_stack("dev", program=program)
    program.write_text(
        second.replace('LoadBalancer("edge-lb"', 'lb = LoadBalancer("edge-lb"')
        + "pulumi.export('sent', lb.origin_verify_secret)\n"
    )
    after = run_stack("dev", program=program)
    generated = {r.name: r.state["result"] for r in after.of_type(RANDOM_PASSWORD)}
    assert sorted(generated) == ["edge-lb-origin-verify", "edge-lb-origin-verify-2"]
    # Generation 1 is the secret a stack made before rotation existed: the same resource, not a new one.
    (original,) = before.of_type(RANDOM_PASSWORD)
    assert original.urn in {r.urn for r in after.of_type(RANDOM_PASSWORD)}
    (rule,) = after.of_type(LISTENER_RULE)
    assert rule.inputs["conditions"][0]["httpHeader"]["values"] == [
        generated["edge-lb-origin-verify-2"],
        generated["edge-lb-origin-verify"],
    ]
    assert after.outputs["sent"] == generated["edge-lb-origin-verify-2"]


def test_generation_three_forgets_generation_one(tmp_path: Path) -> None:
    program = tmp_path / "edge.py"
    program.write_text(
        EDGE_PROGRAM.replace("DOMAIN", "None").replace("ZONE", "None").replace("SECRET", "origin_verify_generation=3")
    )
    run = run_stack("dev", program=program)
    assert sorted(r.name for r in run.of_type(RANDOM_PASSWORD)) == [
        "edge-lb-origin-verify-2",
        "edge-lb-origin-verify-3",
    ]


# ---------------------------------------------------------------- one owner of the validation record

CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"


def test_the_origin_certificates_validation_record_has_one_owner_the_home_site() -> None:
    """ACM gives every certificate of a name in one account the same validation CNAME ("DNS
    validation": each record is "created specifically for your domain and your account"; more
    certificates of the name, in any Region, need nothing more "for as long as the CNAME record
    remains in place"): the home site declares it, the standby's certificate validates against it.
    Two owners would each delete it with themselves, and ACM renews only while it is in place."""
    run = run_stack("prod", {"standbyRegion": "eu-central-1"}, program=TWO_SITES)
    certificates = run.of_type(CERTIFICATE)
    assert sorted(c.region for c in certificates) == ["eu-central-1", "eu-west-1"]
    (asked,) = {c.state["domainValidationOptions"][0]["resourceRecordName"] for c in certificates}
    (record,) = [r for r in run.of_type(RECORD) if r.inputs["name"] == asked]
    assert record.name == "pay-lb-certificate-validation", "declared once, by the home site's load balancer"
    assert record.region == run.config["aws:region"]
    validations = run.of_type(VALIDATION)
    assert len(validations) == 2
    for validation in validations:
        assert validation.inputs["validationRecordFqdns"] == [record.state["fqdn"]], validation.name
        assert record.urn in upstream(run, validation), f"{validation.name} waits for the record it names"


def test_a_validation_record_acm_does_not_ask_for_fails_the_apply() -> None:
    with pytest.raises(ProgramError) as raised:
        run_stack(
            "prod",
            {"standbyRegion": "eu-central-1", "standbyValidationRecord": "_0123456789ab.api.example.com"},
            program=TWO_SITES,
        )
    assert "is validated by ACM's record" in str(raised.value)
    assert "not by '_0123456789ab.api.example.com'" in str(raised.value)


def test_a_validation_record_without_a_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="validation_record_fqdn needs domain_name"):
        lb_args(validation_record_fqdn="_abc.origin.example.com")
