"""Edge tier: CloudFront in front of the load balancer, protected by a CLOUDFRONT-scope WAF.

CloudFront is global, but its web ACL, its certificate, its log delivery and its metrics
live in us-east-1: those resources set ``region=EDGE_REGION`` whatever the stack's region.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal, NamedTuple

import pulumi
import pulumi_aws as aws

from components import policies
from components.certificates import dns_validated_certificate

EDGE_REGION = "us-east-1"
# Route 53's hosted zone for every CloudFront alias target.
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
CACHING_DISABLED = "Managed-CachingDisabled"
# Everything the viewer sent except Host: the origin's certificate names the origin, not the site.
ALL_VIEWER_EXCEPT_HOST = "Managed-AllViewerExceptHostHeader"
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
REDACTED_HEADERS = ("authorization", "cookie")
# The Core rule set blocks request bodies over 8 KB; payment batches are larger.
BODY_SIZE_RULE = ("AWSManagedRulesCommonRuleSet", "SizeRestrictions_BODY")
ALL_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
# The distribution's only origin: the load balancer.
_ORIGIN_ID = "alb"


@dataclass(frozen=True)
class EdgeArgs:
    origin_domain_name: pulumi.Input[str]
    origin_protocol: Literal["http", "https"]
    """https (TLS 1.2) when the load balancer has a certificate; http otherwise (stated in outputs)."""
    origin_verify_header: str
    origin_verify_value: pulumi.Input[str]
    """Secret the load balancer requires; sent by CloudFront on every origin request."""
    logs_bucket_arn: pulumi.Input[str]
    waf_logs_key_arn: pulumi.Input[str]
    """CMK in us-east-1 for the WAF log group."""
    log_retention_days: int
    price_class: str
    rate_limit: int
    rate_window_seconds: int
    body_size_action: Literal["count", "block"] = "block"
    """What the Core rule set's 8 KB body limit does: block (AWS's default) or count only."""
    geo_restriction_type: str = "none"
    geo_restriction_locations: tuple[str, ...] = ()
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    retain_logs: bool = False
    """Keep the WAF log group when the stack is deleted (the audit trail outlives the platform)."""


class Edge(pulumi.ComponentResource):
    """CloudFront distribution, WAF web ACL with logging, security headers, access logs."""

    distribution_id: pulumi.Output[str]
    distribution_arn: pulumi.Output[str]
    domain_name: pulumi.Output[str]
    web_acl_arn: pulumi.Output[str]
    web_acl_name: pulumi.Output[str]
    web_acl_metric_name: pulumi.Output[str]
    """The metric name of the web ACL's visibility config: WAF publishes its metrics (AWS/WAFV2) under
    it in the ``WebACL`` dimension, not under the web ACL's (autonamed) name ("AWS WAF metrics and
    dimensions"; "VisibilityConfig": MetricName is "a name of the Amazon CloudWatch metric dimension")."""
    waf_log_group_name: pulumi.Output[str]
    tls: str

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:edge:Edge", name, None, opts)
        domain = _custom_domain(args)

        waf_logs = self._waf_logs(name, args.log_retention_days, args.waf_logs_key_arn, args.retain_logs)
        waf_logs_policy = self._waf_logs_policy(name, waf_logs.arn)
        web_acl = self._web_acl(name, args, waf_logs.arn, waf_logs_policy)
        headers = self._security_headers(name)
        distribution = self._distribution(name, args, domain, web_acl.arn, headers.id)
        self._dns_aliases(name, domain, distribution.domain_name)
        self._access_logging(name, distribution.arn, args.logs_bucket_arn)

        self.distribution_id = distribution.id
        self.distribution_arn = distribution.arn
        self.domain_name = distribution.domain_name
        self.web_acl_arn = web_acl.arn
        self.web_acl_name = web_acl.name
        self.web_acl_metric_name = web_acl.visibility_config.apply(lambda config: config.metric_name)
        self.waf_log_group_name = waf_logs.name
        self.tls = _tls_summary(domain, args.origin_protocol)
        self.register_outputs(
            {
                "distribution_id": self.distribution_id,
                "distribution_arn": self.distribution_arn,
                "domain_name": self.domain_name,
                "web_acl_arn": self.web_acl_arn,
                "web_acl_name": self.web_acl_name,
                "web_acl_metric_name": self.web_acl_metric_name,
                "waf_log_group_name": self.waf_log_group_name,
                "tls": self.tls,
            }
        )

    def _waf_logs(
        self, name: str, retention_days: int, key_arn: pulumi.Input[str], retain: bool
    ) -> aws.cloudwatch.LogGroup:
        # WAF requires log group names that start with aws-waf-logs-.
        return aws.cloudwatch.LogGroup(
            f"{name}-waf-logs",
            name=f"aws-waf-logs-{name}",
            retention_in_days=retention_days,
            kms_key_id=key_arn,
            region=EDGE_REGION,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=retain),
        )

    def _waf_logs_policy(self, name: str, log_group_arn: pulumi.Output[str]) -> aws.cloudwatch.LogResourcePolicy:
        """The log group's own resource policy for WAF's log delivery, made before logging starts, so
        AWS neither writes one of its own nor fills one of the region's ten account-level policies."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        return aws.cloudwatch.LogResourcePolicy(
            f"{name}-waf-logs-policy",
            resource_arn=log_group_arn,
            policy_document=pulumi.Output.all(log_group_arn, account_id, partition).apply(
                lambda v: json.dumps(
                    policies.vended_log_group_policy(
                        log_group_arn=v[0], account_id=v[1], partition=v[2], source_region=EDGE_REGION
                    )
                )
            ),
            region=EDGE_REGION,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _web_acl(
        self,
        name: str,
        args: EdgeArgs,
        log_group_arn: pulumi.Input[str],
        log_group_policy: aws.cloudwatch.LogResourcePolicy,
    ) -> aws.wafv2.WebAcl:
        """Per-IP rate limit first, then the AWS managed groups; every request logged, credentials redacted."""
        web_acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            description="Payments edge: per-IP rate limit and AWS managed rules",
            scope="CLOUDFRONT",
            region=EDGE_REGION,
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=[_rate_rule(name, args.rate_limit, args.rate_window_seconds)]
            + [
                _managed_rule(name, group, priority, args.body_size_action)
                for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1)
            ],
            visibility_config=_visibility(f"{name}-waf"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=web_acl.arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header)
                )
                for header in REDACTED_HEADERS
            ],
            region=EDGE_REGION,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group_policy]),
        )
        return web_acl

    def _security_headers(self, name: str) -> aws.cloudfront.ResponseHeadersPolicy:
        return aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers",
            comment="HSTS, no-sniff, frame-deny, strict referrer",
            security_headers_config=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigArgs(
                strict_transport_security=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                    access_control_max_age_sec=63072000, include_subdomains=True, preload=True, override=True
                ),
                content_type_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                    override=True
                ),
                frame_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigFrameOptionsArgs(
                    frame_option="DENY", override=True
                ),
                referrer_policy=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                    referrer_policy="strict-origin-when-cross-origin", override=True
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _distribution(
        self,
        name: str,
        args: EdgeArgs,
        domain: _CustomDomain | None,
        web_acl_arn: pulumi.Input[str],
        headers_policy_id: pulumi.Input[str],
    ) -> aws.cloudfront.Distribution:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        cache_policy = aws.cloudfront.get_cache_policy_output(name=CACHING_DISABLED, opts=invoke)
        origin_request_policy = aws.cloudfront.get_origin_request_policy_output(
            name=ALL_VIEWER_EXCEPT_HOST, opts=invoke
        )
        viewer_certificate = self._viewer_certificate(name, domain)
        return aws.cloudfront.Distribution(
            f"{name}-cdn",
            comment=f"{name}: payments API",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=args.price_class,
            aliases=[domain.name] if domain else [],
            web_acl_id=web_acl_arn,
            origins=[_alb_origin(args)],
            default_cache_behavior=_default_cache_behavior(
                cache_policy.id, origin_request_policy.id, headers_policy_id
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type=args.geo_restriction_type, locations=list(args.geo_restriction_locations)
                )
            ),
            viewer_certificate=viewer_certificate,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _viewer_certificate(
        self, name: str, domain: _CustomDomain | None
    ) -> aws.cloudfront.DistributionViewerCertificateArgs:
        if domain is None:
            return aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)
        # CloudFront only accepts certificates from us-east-1.
        certificate_arn = dns_validated_certificate(self, name, domain.name, domain.zone_id, region=EDGE_REGION)
        return aws.cloudfront.DistributionViewerCertificateArgs(
            acm_certificate_arn=certificate_arn,
            ssl_support_method="sni-only",
            minimum_protocol_version="TLSv1.2_2021",
        )

    def _dns_aliases(self, name: str, domain: _CustomDomain | None, target: pulumi.Input[str]) -> None:
        if domain is None:
            return
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{name}-alias-{record_type.lower()}",
                zone_id=domain.zone_id,
                name=domain.name,
                type=record_type,
                aliases=[
                    aws.route53.RecordAliasArgs(name=target, zone_id=CLOUDFRONT_ZONE_ID, evaluate_target_health=False)
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _access_logging(self, name: str, distribution_arn: pulumi.Input[str], bucket_arn: pulumi.Input[str]) -> None:
        # Standard logging (v2): access logs into the logs bucket through CloudWatch vended logs.
        source = aws.cloudwatch.LogDeliverySource(
            f"{name}-access-logs-source",
            name=f"{name}-cloudfront",
            log_type="ACCESS_LOGS",
            resource_arn=distribution_arn,
            region=EDGE_REGION,
            opts=pulumi.ResourceOptions(parent=self),
        )
        destination = aws.cloudwatch.LogDeliveryDestination(
            f"{name}-access-logs-destination",
            name=f"{name}-logs-bucket",
            delivery_destination_type="S3",
            output_format="parquet",
            delivery_destination_configuration=aws.cloudwatch.LogDeliveryDestinationDeliveryDestinationConfigurationArgs(
                destination_resource_arn=bucket_arn
            ),
            region=EDGE_REGION,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.LogDelivery(
            f"{name}-access-logs",
            delivery_source_name=source.name,
            delivery_destination_arn=destination.arn,
            s3_delivery_configurations=[
                aws.cloudwatch.LogDeliveryS3DeliveryConfigurationArgs(
                    suffix_path="{DistributionId}/{yyyy}/{MM}/{dd}/{HH}", enable_hive_compatible_path=False
                )
            ],
            region=EDGE_REGION,
            opts=pulumi.ResourceOptions(parent=self),
        )


class _CustomDomain(NamedTuple):
    name: str
    zone_id: str


def _custom_domain(args: EdgeArgs) -> _CustomDomain | None:
    """The viewer domain and its zone when both are set; otherwise viewers use the *.cloudfront.net name."""
    if args.domain_name and args.hosted_zone_id:
        return _CustomDomain(args.domain_name, args.hosted_zone_id)
    return None


def _tls_summary(domain: _CustomDomain | None, origin_protocol: str) -> str:
    """What viewers get and how CloudFront reaches the origin, stated in the stack's outputs."""
    if domain is not None:
        tls = f"HTTPS for {domain.name} (TLSv1.2_2021 minimum)"
    else:
        tls = "HTTPS on the *.cloudfront.net name only: no domainName configured"
    if origin_protocol == "http":
        tls += "; CloudFront reaches the load balancer over HTTP (no certificate on the origin)"
    return tls


def _alb_origin(args: EdgeArgs) -> aws.cloudfront.DistributionOriginArgs:
    return aws.cloudfront.DistributionOriginArgs(
        origin_id=_ORIGIN_ID,
        domain_name=args.origin_domain_name,
        custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
            http_port=80,
            https_port=443,
            origin_protocol_policy=f"{args.origin_protocol}-only",
            origin_ssl_protocols=["TLSv1.2"],
            origin_read_timeout=30,
            origin_keepalive_timeout=5,
        ),
        custom_headers=[
            aws.cloudfront.DistributionOriginCustomHeaderArgs(
                name=args.origin_verify_header, value=args.origin_verify_value
            )
        ],
    )


def _default_cache_behavior(
    cache_policy_id: pulumi.Input[str],
    origin_request_policy_id: pulumi.Input[str],
    headers_policy_id: pulumi.Input[str],
) -> aws.cloudfront.DistributionDefaultCacheBehaviorArgs:
    return aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
        target_origin_id=_ORIGIN_ID,
        viewer_protocol_policy="redirect-to-https",
        allowed_methods=ALL_METHODS,
        cached_methods=["GET", "HEAD"],
        cache_policy_id=cache_policy_id,
        origin_request_policy_id=origin_request_policy_id,
        response_headers_policy_id=headers_policy_id,
        compress=True,
    )


def _visibility(metric_name: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
    return aws.wafv2.WebAclVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _rule_visibility(metric_name: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _rate_rule(name: str, limit: int, window_seconds: int) -> aws.wafv2.WebAclRuleArgs:
    return aws.wafv2.WebAclRuleArgs(
        name="rate-limit-per-ip",
        priority=0,
        action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                limit=limit, aggregate_key_type="IP", evaluation_window_sec=window_seconds
            )
        ),
        visibility_config=_rule_visibility(f"{name}-rate-limit"),
    )


def _managed_rule(name: str, group: str, priority: int, body_size_action: str) -> aws.wafv2.WebAclRuleArgs:
    # Every group enforces its own actions ("none" overrides nothing); only the body size rule
    # may be turned into count, where the group's other rules still block.
    overrides = (
        [
            aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
                name=BODY_SIZE_RULE[1],
                action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                    count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
                ),
            )
        ]
        if group == BODY_SIZE_RULE[0] and body_size_action == "count"
        else None
    )
    return aws.wafv2.WebAclRuleArgs(
        name=group,
        priority=priority,
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS", name=group, rule_action_overrides=overrides
            )
        ),
        visibility_config=_rule_visibility(f"{name}-{group}"),
    )
