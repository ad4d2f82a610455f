"""Edge tier as declared: CloudFront in front of the ALB, WAF in us-east-1, headers, logs."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from offline.harness import MANAGED_CLOUDFRONT_POLICIES, ResourceRecord, StackRun, run_stack
from tests.helpers import doc, named, record_by_output

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"


def distribution(run: StackRun) -> ResourceRecord:
    return run.one(DISTRIBUTION)


def origin(run: StackRun) -> dict[str, Any]:
    (only,) = distribution(run).inputs["origins"]
    return dict(only)


def test_origin_is_the_load_balancer_over_tls_when_a_domain_exists(prod: StackRun) -> None:
    config = origin(prod)["customOriginConfig"]
    assert origin(prod)["domainName"] == f"origin.{prod.config['payments-platform:domainName']}"
    assert config["originProtocolPolicy"] == "https-only"
    assert config["originSslProtocols"] == ["TLSv1.2"]


def test_without_a_domain_the_origin_is_http_and_the_stack_says_so(dev: StackRun) -> None:
    assert origin(dev)["domainName"] == dev.outputs["alb_dns_name"]
    assert origin(dev)["customOriginConfig"]["originProtocolPolicy"] == "http-only"
    assert "over HTTP" in dev.outputs["edge_tls"]


def test_cloudfront_sends_the_secret_the_load_balancer_requires(stack_run: StackRun) -> None:
    secret = named(stack_run, "random:index/randomPassword:RandomPassword", "-origin-verify").state["result"]
    (header,) = origin(stack_run)["customHeaders"]
    assert header == {"name": "X-Origin-Verify", "value": secret}
    assert "origins" in distribution(stack_run).secret_inputs


def test_viewers_are_redirected_to_https_and_the_api_is_never_cached(stack_run: StackRun) -> None:
    d = distribution(stack_run).inputs
    behavior = d["defaultCacheBehavior"]
    assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["cachePolicyId"] == MANAGED_CLOUDFRONT_POLICIES["Managed-CachingDisabled"]
    assert behavior["originRequestPolicyId"] == MANAGED_CLOUDFRONT_POLICIES["Managed-AllViewerExceptHostHeader"]
    assert sorted(behavior["allowedMethods"]) == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    assert d["httpVersion"] == "http2and3"
    assert d["isIpv6Enabled"] is True
    assert d["priceClass"] == stack_run.config["payments-platform:priceClass"]
    looked_up = {args["name"] for token, args in stack_run.calls if token.startswith("aws:cloudfront/get")}
    assert looked_up == {"Managed-CachingDisabled", "Managed-AllViewerExceptHostHeader"}


def test_security_headers_on_every_response(stack_run: StackRun) -> None:
    policy = stack_run.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
    assert distribution(stack_run).inputs["defaultCacheBehavior"]["responseHeadersPolicyId"] == policy.id
    headers = policy.inputs["securityHeadersConfig"]
    hsts = headers["strictTransportSecurity"]
    assert hsts["accessControlMaxAgeSec"] >= 31536000
    assert hsts["includeSubdomains"] is True
    assert headers["contentTypeOptions"]["override"] is True
    assert headers["frameOptions"]["frameOption"] == "DENY"
    assert headers["referrerPolicy"]["referrerPolicy"] == "strict-origin-when-cross-origin"


def test_custom_domain_uses_a_us_east_1_certificate_and_modern_tls(prod: StackRun) -> None:
    domain = prod.config["payments-platform:domainName"]
    d = distribution(prod).inputs
    assert d["aliases"] == [domain]
    viewer = d["viewerCertificate"]
    assert viewer["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert viewer["sslSupportMethod"] == "sni-only"
    certificate = named(prod, "aws:acm/certificate:Certificate", "-edge-certificate")
    validation = named(prod, "aws:acm/certificateValidation:CertificateValidation", "-edge-certificate-issued")
    assert (certificate.inputs["region"], validation.inputs["region"]) == ("us-east-1", "us-east-1")
    assert certificate.inputs["domainName"] == domain
    assert viewer["acmCertificateArn"] == validation.state["certificateArn"]
    aliases = [r for r in prod.of_type("aws:route53/record:Record") if r.name.split("-")[-2] == "alias"]
    assert sorted(r.inputs["type"] for r in aliases) == ["A", "AAAA"]
    for record in aliases:
        assert record.inputs["name"] == domain
        assert record.inputs["aliases"][0]["name"] == prod.outputs["cloudfront_domain_name"]
        assert record.inputs["aliases"][0]["zoneId"] == "Z2FDTNDATAQYW2"


def test_without_a_domain_the_default_certificate(dev: StackRun) -> None:
    viewer = distribution(dev).inputs["viewerCertificate"]
    assert viewer == {"cloudfrontDefaultCertificate": True}
    assert "aliases" not in distribution(dev).inputs or distribution(dev).inputs["aliases"] == []


def test_geo_restriction_follows_settings() -> None:
    run = run_stack("dev", {"geoRestrictionType": "whitelist", "geoRestrictionLocations": ["GB", "IE"]})
    geo = distribution(run).inputs["restrictions"]["geoRestriction"]
    assert geo == {"restrictionType": "whitelist", "locations": ["GB", "IE"]}


def test_waf_is_cloudfront_scoped_in_us_east_1_and_attached(stack_run: StackRun) -> None:
    acl = stack_run.one(WEB_ACL)
    assert acl.inputs["scope"] == "CLOUDFRONT"
    assert acl.inputs["region"] == "us-east-1"
    assert stack_run.config["aws:region"] != "us-east-1"
    assert distribution(stack_run).inputs["webAclId"] == acl.state["arn"]


def test_waf_rate_limits_each_client_ip(stack_run: StackRun) -> None:
    rules = {r["name"]: r for r in stack_run.one(WEB_ACL).inputs["rules"]}
    rate = rules["rate-limit-per-ip"]
    statement = rate["statement"]["rateBasedStatement"]
    assert statement["limit"] == int(stack_run.config["payments-platform:wafRateLimit"])
    assert statement["evaluationWindowSec"] == int(stack_run.config["payments-platform:wafRateWindowSeconds"])
    assert statement["aggregateKeyType"] == "IP"
    assert "block" in rate["action"]


def test_waf_runs_the_aws_managed_rule_groups_with_metrics_everywhere(stack_run: StackRun) -> None:
    acl = stack_run.one(WEB_ACL).inputs
    managed = {
        r["statement"]["managedRuleGroupStatement"]["name"]
        for r in acl["rules"]
        if "managedRuleGroupStatement" in r["statement"]
    }
    assert managed == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    priorities = [r["priority"] for r in acl["rules"]]
    assert len(set(priorities)) == len(priorities)
    for visibility in [acl["visibilityConfig"], *(r["visibilityConfig"] for r in acl["rules"])]:
        assert visibility["cloudwatchMetricsEnabled"] is True
        assert visibility["sampledRequestsEnabled"] is True


def test_managed_rule_groups_enforce_their_actions(stack_run: StackRun) -> None:
    """A group with override "count" only counts: the web ACL would block nothing it names."""
    for rule in stack_run.one(WEB_ACL).inputs["rules"]:
        if "managedRuleGroupStatement" in rule["statement"]:
            assert rule["overrideAction"] == {"none": {}}, f"{rule['name']} is overridden: {rule['overrideAction']}"


def _body_overrides(run: StackRun) -> dict[str, list[dict[str, object]]]:
    return {
        r["name"]: r["statement"]["managedRuleGroupStatement"].get("ruleActionOverrides") or []
        for r in run.one(WEB_ACL).inputs["rules"]
        if "managedRuleGroupStatement" in r["statement"]
    }


def test_only_the_8kb_body_rule_is_counted_by_default(stack_run: StackRun) -> None:
    """Payment batches exceed the Core rule set's 8 KB SizeRestrictions_BODY: count it, block the rest."""
    assert stack_run.config["payments-platform:wafBodySizeAction"] == "count"
    overrides = _body_overrides(stack_run)
    assert overrides.pop("AWSManagedRulesCommonRuleSet") == [
        {"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}
    ]
    assert all(v == [] for v in overrides.values())


def test_the_body_limit_can_block_again() -> None:
    run = run_stack("dev", {"wafBodySizeAction": "block"})
    assert all(v == [] for v in _body_overrides(run).values())


def test_waf_logs_go_to_an_encrypted_us_east_1_group_with_secrets_redacted(stack_run: StackRun) -> None:
    logging = stack_run.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert logging.inputs["region"] == "us-east-1"
    assert logging.inputs["resourceArn"] == stack_run.one(WEB_ACL).state["arn"]
    (destination,) = logging.inputs["logDestinationConfigs"]
    group = record_by_output(stack_run, destination)
    assert group.inputs["name"].startswith("aws-waf-logs-")
    assert group.inputs["region"] == "us-east-1"
    key = record_by_output(stack_run, group.inputs["kmsKeyId"])
    assert key.inputs["region"] == "us-east-1"
    redacted = {f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]}
    assert redacted == {"authorization", "cookie"}


@pytest.mark.parametrize("region", ["ap-southeast-2", "us-west-2"])
def test_edge_pieces_stay_in_us_east_1_whatever_the_stack_region(region: str) -> None:
    run = run_stack("dev", {"aws:region": region})
    assert run.one(WEB_ACL).inputs["region"] == "us-east-1"
    waf_logs = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"].startswith("aws-waf")]
    assert [g.inputs["region"] for g in waf_logs] == ["us-east-1"]
    other_groups = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g not in waf_logs]
    assert all("region" not in g.inputs for g in other_groups), "everything else stays in the stack's region"


def test_access_logs_are_delivered_to_the_logs_bucket(stack_run: StackRun) -> None:
    source = stack_run.one("aws:cloudwatch/logDeliverySource:LogDeliverySource")
    assert (source.inputs["logType"], source.inputs["region"]) == ("ACCESS_LOGS", "us-east-1")
    assert source.inputs["resourceArn"] == distribution(stack_run).state["arn"]
    destination = stack_run.one("aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination")
    logs_bucket = next(
        b
        for b in stack_run.of_type("aws:s3/bucket:Bucket")
        if b.state["bucket"] == stack_run.outputs["logs_bucket_name"]
    )
    assert destination.inputs["deliveryDestinationConfiguration"]["destinationResourceArn"] == logs_bucket.state["arn"]
    delivery = stack_run.one("aws:cloudwatch/logDelivery:LogDelivery")
    assert delivery.inputs["deliveryDestinationArn"] == destination.state["arn"]
    policy = next(
        doc(p) for p in stack_run.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == logs_bucket.id
    )
    vended = next(s for s in policy["Statement"] if s["Sid"] == "AWSLogDeliveryWrite")
    assert vended["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    # CloudFront's delivery sources live in us-east-1, whatever the bucket's region.
    assert vended["Condition"]["ArnLike"]["aws:SourceArn"] == ["arn:aws:logs:us-east-1:123456789012:*"]


def test_edge_outputs(stack_run: StackRun) -> None:
    assert stack_run.outputs["cloudfront_distribution_id"] == distribution(stack_run).id
    assert stack_run.outputs["cloudfront_domain_name"].endswith(".cloudfront.net")
    assert stack_run.outputs["web_acl_arn"] == stack_run.one(WEB_ACL).state["arn"]


def test_waf_logs_have_their_own_log_group_policy_before_logging_starts(stack_run: StackRun) -> None:
    """CloudWatch Logs User Guide, "Logs sent to CloudWatch Logs": a log group receiving vended logs
    must have a resource policy granting delivery.logs.amazonaws.com logs:CreateLogStream and
    logs:PutLogEvents on its streams (AWSLogDeliveryWrite20150319), for aws:SourceAccount and an
    aws:SourceArn of arn:aws:logs:<source-region>:<account>:*; where none exists AWS writes its own
    at the first delivery. Owned at the log group (resource_arn), it goes with the group on destroy
    and never takes one of the region's ten account-level policies (issue 22 item 5)."""
    (group,) = [
        g for g in stack_run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"].startswith("aws-waf-logs-")
    ]
    (policy,) = stack_run.of_type("aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
    assert "policyName" not in policy.inputs, "an account-level policy outlives the stack"
    assert policy.inputs["resourceArn"] == group.state["arn"]
    assert policy.region == group.region == "us-east-1"
    assert json.loads(policy.inputs["policyDocument"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSLogDeliveryWrite20150319",
                "Effect": "Allow",
                "Principal": {"Service": ["delivery.logs.amazonaws.com"]},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"arn:aws:logs:us-east-1:123456789012:log-group:{group.inputs['name']}:log-stream:*"],
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ["123456789012"]},
                    "ArnLike": {"aws:SourceArn": ["arn:aws:logs:us-east-1:123456789012:*"]},
                },
            }
        ],
    }
    logging = stack_run.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert policy.urn in logging.dependencies, "WAF logging must not start before the policy exists"


def test_the_edge_hands_over_the_metric_name_waf_publishes_under(tmp_path: Path) -> None:
    """``Edge.web_acl_metric_name`` is the web ACL's visibility-config metric name, which WAF publishes
    its AWS/WAFV2 metrics under ("AWS WAF metrics and dimensions"), not the autonamed web ACL name.
    Checked through __main__.py as it will read once it hands that name to the site (see
    test_monitoring's xfail): the WAF alarm then watches the metric that exists."""
    source = (REPO / "__main__.py").read_text()
    program = tmp_path / "__main__.py"
    program.write_text(re.sub(r"EdgeWatch\(edge\.web_acl_\w+,", "EdgeWatch(edge.web_acl_metric_name,", source))
    run = run_stack("dev", program=program)
    acl = run.one(WEB_ACL)
    metric_name = acl.inputs["visibilityConfig"]["metricName"]
    assert metric_name != acl.state["name"]
    (alarm,) = [
        a for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.name.endswith("-waf-blocked-spike")
    ]
    assert alarm.inputs["dimensions"] == {"WebACL": metric_name, "Rule": "ALL"}
