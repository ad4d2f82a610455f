"""Load balancer tier: an internet-facing ALB in the public subnets, HTTPS when a domain exists."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.certificates import issue_certificate

# TLS 1.3 with TLS 1.2 fallback, forward-secret ciphers only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTH_PATH = "/health"
# The app's readiness (templates/health_server.py): 200 only while the instance reaches the database
# at the host its secret names, the global writer endpoint with a standby. A passive site's VPC cannot
# reach a writer in the other region, so this path is "this site can serve payments now": what
# Route 53 checks (liveness, HEALTH_PATH, stays the target group's: a regional dependency must not
# make the group replace every instance).
READY_PATH = "/ready"
# ELB names: at most 32 alphanumerics or hyphens, no hyphen at either end, not "internal-...".
MAX_NAME_LENGTH = 32
_LB_NAME = re.compile(r"^(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
# The target group is named by AWS from this prefix (6 characters at most: the provider appends
# 26), so it can be replaced create-before-delete: a listener keeps forwarding to the old group
# until the new one exists. Its protocol and port force a replacement.
TARGET_GROUP_NAME_PREFIX = "app-"


@dataclass(frozen=True)
class HealthCheck:
    interval_seconds: int = 15
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3
    timeout_seconds: int = 5
    path: str = HEALTH_PATH
    matcher: str = "200"

    def __post_init__(self) -> None:
        if self.timeout_seconds >= self.interval_seconds:
            raise ValueError("health check timeout must be shorter than its interval")


ORIGIN_VERIFY_HEADER = "X-Origin-Verify"
# "You can specify up to three match evaluations per condition" (ELB guide, condition types for
# listener rules): an http-header condition compares at most three strings, any of which matches.
MAX_HEADER_VALUES = 3
# Listener rule priorities on the app listener: lower is evaluated first.
EDGE_RULE_PRIORITY = 1
HEALTH_CHECKERS_RULE_PRIORITY = 2


@dataclass(frozen=True)
class LoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    logs_bucket_name: pulumi.Input[str]
    logs_prefix: str
    app_port: int
    health_check: HealthCheck
    deregistration_delay_seconds: int
    idle_timeout_seconds: int
    deletion_protection: bool
    domain_name: str | None = None
    """With ``hosted_zone_id``: HTTPS on 443 with an ACM certificate for ``origin.<domain>``."""
    hosted_zone_id: str | None = None
    require_origin_header: bool = False
    """Only requests carrying a generated secret in ``X-Origin-Verify`` (sent by the edge tier)
    reach the app; everything else gets 403."""
    origin_verify_generation: int = 1
    """Which generated secret the edge sends; raising it by one rotates the secret without a
    refused request: the listener accepts this generation's and the previous one's."""
    origin_verify_secrets: Sequence[pulumi.Input[str]] = ()
    """With ``require_origin_header``: the secrets to accept instead of generated ones (the one the
    edge sends first), so a second site's load balancer accepts what the one edge sends either site."""
    health_checkers: bool = False
    """With ``require_origin_header``: ``GET /ready`` (READY_PATH) reaches the app without the header,
    for Route 53 health checks, which cannot send custom headers (HealthCheckConfig has no header
    field); every other request still needs it."""
    origin_record: bool = True
    """With a domain: alias ``origin.<domain>`` to this load balancer. False when
    ``components.between.origin_dns.OriginFailover`` owns that name (failover records for two sites)."""
    extra_security_group_ids: Sequence[pulumi.Input[str]] = ()
    """Further security groups for the load balancer, e.g. the Route 53 health checkers' group
    (``SecurityGroups.ids["alb-health-checks"]``), which cannot share CloudFront's group."""
    validation_record_fqdn: pulumi.Input[str] | None = None
    """With a domain: the ACM validation record of ``origin.<domain>`` that another site's load
    balancer declares (its ``validation_record_fqdn``). ACM gives every certificate of a name in one
    account the same record (``components.certificates``): this one validates against it and
    declares none, so the record has one owner. None: declare it here."""

    def __post_init__(self) -> None:
        if self.validation_record_fqdn is not None and self.domain_name is None:
            raise ValueError("validation_record_fqdn needs domain_name: without a domain there is no certificate")
        if not self.require_origin_header and self.origin_verify_secrets:
            raise ValueError("origin_verify_secrets needs require_origin_header: nothing would check it")
        if len(self.origin_verify_secrets) > MAX_HEADER_VALUES:
            raise ValueError(f"a listener rule's header condition compares at most {MAX_HEADER_VALUES} values")
        if self.origin_verify_generation < 1:
            raise ValueError("origin_verify_generation counts from 1")
        if not self.require_origin_header and self.health_checkers:
            raise ValueError(
                "health_checkers needs require_origin_header: without it every request already reaches the app"
            )


def load_balancer_name(component_name: str) -> str:
    """The ALB's name: readable, fixed, and checked against ELB's limits before anything is declared.

    Fixed rather than auto-named (Pulumi appends 8 characters, which overflows 32 for long stack
    suffixes): an ALB is never replaced create-before-delete anyway, since its target group can
    belong to one load balancer only, and in prod deletion protection stops a replacement.
    """
    alb_name = f"{component_name}-alb"
    if len(alb_name) > MAX_NAME_LENGTH or not _LB_NAME.match(alb_name):
        raise ValueError(
            f"load balancer name {alb_name!r} must be at most {MAX_NAME_LENGTH} letters, digits or hyphens, "
            "not start or end with a hyphen and not start with 'internal-': shorten the component name"
        )
    return alb_name


class LoadBalancer(pulumi.ComponentResource):
    """ALB, HTTPS target group for the app port, and listeners (HTTPS + redirect, or HTTP only)."""

    arn: pulumi.Output[str]
    arn_suffix: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    listener_arns: dict[str, pulumi.Output[str]]
    security_group_id: pulumi.Input[str]
    origin_domain_name: pulumi.Output[str]
    """What the edge tier connects to: ``origin.<domain>`` over HTTPS, else the ALB name over HTTP."""
    origin_protocol: Literal["http", "https"]
    tls: str
    origin_verify_header: str
    origin_verify_value: pulumi.Output[str] | None
    """Secret the edge tier must send in ``origin_verify_header``, once this load balancer accepts
    it (its rule exists); None when not required."""
    origin_verify_values: Sequence[pulumi.Output[str]]
    """Every secret this load balancer accepts, the one to send first (a rotation keeps the
    previous one); another site's load balancer is given these."""
    validation_record_fqdn: pulumi.Output[str] | None
    """The ACM validation record of ``origin.<domain>`` this load balancer's certificate is validated
    with (declared here unless it was given); another site's load balancer is given it. None: HTTP only."""

    @property
    def origin_verify_secret(self) -> pulumi.Output[str]:
        if self.origin_verify_value is None:
            raise ValueError("this load balancer was not asked to require an origin header")
        return self.origin_verify_value

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:app:LoadBalancer", name, None, opts)
        if (args.domain_name is None) != (args.hosted_zone_id is None):
            raise ValueError("domain_name and hosted_zone_id go together")

        alb = self._alb(name, args)
        target_group = self._target_group(name, args)
        self.origin_verify_header = ORIGIN_VERIFY_HEADER
        self.origin_verify_values = self._origin_verification(name, args)
        app_default = _app_default_action(target_group.arn, edge_only=bool(self.origin_verify_values))
        if args.domain_name and args.hosted_zone_id:
            app_listener = self._https_listeners(name, alb, args, args.domain_name, args.hosted_zone_id, app_default)
        else:
            app_listener = self._http_listener(name, alb, app_default)
        self.origin_verify_value = None
        if self.origin_verify_values:
            rule = self._edge_only_rule(name, app_listener.arn, target_group.arn, self.origin_verify_values)
            # The edge may send a new secret only once the listener accepts it.
            self.origin_verify_value = pulumi.Output.all(self.origin_verify_values[0], rule.arn).apply(
                lambda values: str(values[0])
            )
        if args.health_checkers:
            self._health_checkers_rule(name, app_listener.arn, target_group.arn, READY_PATH)

        self.arn = alb.arn
        self.arn_suffix = alb.arn_suffix
        self.dns_name = alb.dns_name
        self.zone_id = alb.zone_id
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.security_group_id = args.security_group_id
        self.register_outputs(
            {
                "arn": self.arn,
                "dns_name": self.dns_name,
                "zone_id": self.zone_id,
                "target_group_arn": self.target_group_arn,
                "listener_arns": dict(self.listener_arns),
                "security_group_id": self.security_group_id,
                "origin_domain_name": self.origin_domain_name,
                "tls": self.tls,
            }
        )

    def _alb(self, name: str, args: LoadBalancerArgs) -> aws.lb.LoadBalancer:
        return aws.lb.LoadBalancer(
            f"{name}-alb",
            name=load_balancer_name(name),
            internal=False,
            load_balancer_type="application",
            subnets=list(args.public_subnet_ids),
            security_groups=[args.security_group_id, *args.extra_security_group_ids],
            drop_invalid_header_fields=True,
            desync_mitigation_mode="strictest",
            idle_timeout=args.idle_timeout_seconds,
            enable_http2=True,
            enable_deletion_protection=args.deletion_protection,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(
                bucket=args.logs_bucket_name, prefix=args.logs_prefix, enabled=True
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _target_group(self, name: str, args: LoadBalancerArgs) -> aws.lb.TargetGroup:
        hc = args.health_check
        # HTTPS to the instances too: each serves a self-signed certificate made at boot, which
        # the load balancer uses for encryption without validating it.
        return aws.lb.TargetGroup(
            f"{name}-app",
            name_prefix=TARGET_GROUP_NAME_PREFIX,
            vpc_id=args.vpc_id,
            port=args.app_port,
            protocol="HTTPS",
            target_type="instance",
            deregistration_delay=args.deregistration_delay_seconds,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=hc.path,
                port="traffic-port",
                protocol="HTTPS",
                matcher=hc.matcher,
                interval=hc.interval_seconds,
                timeout=hc.timeout_seconds,
                healthy_threshold=hc.healthy_threshold,
                unhealthy_threshold=hc.unhealthy_threshold,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _origin_verification(self, name: str, args: LoadBalancerArgs) -> list[pulumi.Output[str]]:
        """The secrets the listener accepts, the one the edge sends first (the given ones, else this
        generation's and the previous generation's), or none when any client may reach the app."""
        if not args.require_origin_header:
            return []
        if args.origin_verify_secrets:
            # Kept secret in this stack's state whatever the caller passed.
            return [pulumi.Output.secret(value) for value in args.origin_verify_secrets]
        generations = range(args.origin_verify_generation, max(args.origin_verify_generation - 2, 0), -1)
        return [
            random.RandomPassword(
                # Generation 1 keeps the name it had before rotation existed: no new secret on upgrade.
                f"{name}-origin-verify" + (f"-{generation}" if generation > 1 else ""),
                length=48,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            ).result
            for generation in generations
        ]

    def _https_listeners(
        self,
        name: str,
        alb: aws.lb.LoadBalancer,
        args: LoadBalancerArgs,
        domain_name: str,
        zone_id: str,
        app_default: aws.lb.ListenerDefaultActionArgs,
    ) -> aws.lb.Listener:
        """HTTPS on 443 for ``origin.<domain>``, HTTP redirecting to it, and (``origin_record``) the
        name aliased to this load balancer; sets the listener, certificate and origin outputs."""
        origin_name = f"origin.{domain_name}"
        certificate = issue_certificate(
            self, name, origin_name, zone_id, validation_record_fqdn=args.validation_record_fqdn
        )
        self.validation_record_fqdn = certificate.validation_record_fqdn
        certificate_arn = certificate.arn
        app_listener = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            default_actions=[app_default],
            opts=pulumi.ResourceOptions(parent=self),
        )
        redirect = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[_redirect_to_https()],
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.origin_record:
            aws.route53.Record(
                f"{name}-origin-alias",
                zone_id=zone_id,
                name=origin_name,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(name=alb.dns_name, zone_id=alb.zone_id, evaluate_target_health=True)
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.listener_arns = {"https": app_listener.arn, "http": redirect.arn}
        self.origin_domain_name = pulumi.Output.from_input(origin_name)
        self.origin_protocol = "https"
        self.tls = f"HTTPS on 443 ({TLS_POLICY}) for {origin_name}; HTTP redirects to HTTPS"
        return app_listener

    def _http_listener(
        self, name: str, alb: aws.lb.LoadBalancer, app_default: aws.lb.ListenerDefaultActionArgs
    ) -> aws.lb.Listener:
        """HTTP only on 80 (no certificate without a domain); sets the listener and origin outputs, and warns."""
        app_listener = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[app_default],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.listener_arns = {"http": app_listener.arn}
        self.validation_record_fqdn = None
        self.origin_domain_name = alb.dns_name
        self.origin_protocol = "http"
        self.tls = "HTTP only: no domainName/hostedZoneId configured, so no certificate for the load balancer"
        pulumi.log.warn(f"{name}: {self.tls}; set domainName and hostedZoneId to serve HTTPS", resource=self)
        return app_listener

    def _edge_only_rule(
        self,
        name: str,
        listener_arn: pulumi.Input[str],
        target_group_arn: pulumi.Input[str],
        secrets: Sequence[pulumi.Input[str]],
    ) -> aws.lb.ListenerRule:
        """Forwards requests carrying one of the edge's secrets in the header (a condition's values
        are alternatives); the listener's default answers 403."""
        header = aws.lb.ListenerRuleConditionHttpHeaderArgs(http_header_name=ORIGIN_VERIFY_HEADER, values=list(secrets))
        return self._forward_rule(
            f"{name}-from-edge",
            listener_arn,
            target_group_arn,
            EDGE_RULE_PRIORITY,
            [aws.lb.ListenerRuleConditionArgs(http_header=header)],
        )

    def _health_checkers_rule(
        self, name: str, listener_arn: pulumi.Input[str], target_group_arn: pulumi.Input[str], path: str
    ) -> None:
        """Forwards ``GET <path>`` without the edge's header, after the edge-only rule: Route 53's
        checkers see the app's own health (the target group's, or 503 with no healthy target).

        The path pattern has no wildcard, so it matches that path only (case-sensitively; the query
        string is not compared: ``ListenerRuleConditionPathPatternArgs.values``). Whoever the
        security groups admit (CloudFront, Route 53's checkers) may read it: keep it free of secrets."""
        self._forward_rule(
            f"{name}-health-checkers",
            listener_arn,
            target_group_arn,
            HEALTH_CHECKERS_RULE_PRIORITY,
            [
                aws.lb.ListenerRuleConditionArgs(
                    path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=[path])
                ),
                aws.lb.ListenerRuleConditionArgs(
                    http_request_method=aws.lb.ListenerRuleConditionHttpRequestMethodArgs(values=["GET"])
                ),
            ],
        )

    def _forward_rule(
        self,
        resource_name: str,
        listener_arn: pulumi.Input[str],
        target_group_arn: pulumi.Input[str],
        priority: int,
        conditions: list[aws.lb.ListenerRuleConditionArgs],
    ) -> aws.lb.ListenerRule:
        return aws.lb.ListenerRule(
            resource_name,
            listener_arn=listener_arn,
            priority=priority,
            conditions=conditions,
            actions=[aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=target_group_arn)],
            opts=pulumi.ResourceOptions(parent=self),
        )


def _app_default_action(target_group_arn: pulumi.Input[str], edge_only: bool) -> aws.lb.ListenerDefaultActionArgs:
    """Forward to the app; with origin verification, 403 unless the edge-only rule matches first."""
    if edge_only:
        return aws.lb.ListenerDefaultActionArgs(
            type="fixed-response",
            fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                content_type="text/plain", message_body="Forbidden", status_code="403"
            ),
        )
    return aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group_arn)


def _redirect_to_https() -> aws.lb.ListenerDefaultActionArgs:
    return aws.lb.ListenerDefaultActionArgs(
        type="redirect",
        redirect=aws.lb.ListenerDefaultActionRedirectArgs(protocol="HTTPS", port="443", status_code="HTTP_301"),
    )
