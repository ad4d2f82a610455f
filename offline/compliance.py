"""A PCI DSS v4.0 control matrix from the recorded graph: which resources and policy rules serve which requirement.

Each requirement the platform addresses has evidence: predicates over the run's records (types,
inputs, and the ids and ARNs that tie them together, as AWS sees them). A requirement whose evidence
is missing from the graph is a **gap**; nothing here is a static text. What the stack cannot hold
(people's MFA, scans, penetration tests) is named with who provides it: the **landing zone**, the
**team** or **AWS**; a row whose whole evidence lies outside the stack takes that as its status. The
settings decide which: ``managementEvents`` off leaves management events to an organization trail,
``accountBaseline`` off leaves GuardDuty, AWS Config and Security Hub to the landing zone.

    controls = matrix(run, violations)     # pure: the graph and, optionally, the policy pack's result
    markdown(controls)                     # compliance.md, beside plan.txt
    as_json(controls)                      # the plan's --json "compliance" section

Requirement numbers and short titles are PCI DSS v4.0's (PCI Security Standards Council, 2022);
the standard's text is not reproduced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from offline.harness import ResourceRecord, StackRun
from offline.policy_check import Violation
from policypack.rules import (
    ARCHIVE_PURPOSES,
    BOTH,
    CLOUDFRONT_MIN_TLS,
    LOG_BUCKET_PURPOSE,
    MAX_ROTATION_DAYS,
    MIN_LOG_RETENTION_DAYS,
    PUBLIC_CIDRS,
    TLS13_POLICY_PREFIX,
    TRAIL_TYPE,
    iam_wildcards,
    ingress_rules,
    management_event_modes,
    object_event_modes,
    public_ingress,
    recorded_objects,
)

Status = Literal["met", "gap", "landing zone", "team", "AWS"]
Provider = Literal["landing zone", "team", "AWS"]
STATUSES: tuple[Status, ...] = ("met", "gap", "landing zone", "team", "AWS")
STANDARD = "PCI DSS v4.0"
AUDIT_ARCHIVE = "audit-log-archive"
ARCHIVE_RETENTION_DAYS = 365
"""10.5.1: twelve months of audit log history (the most recent three in the log groups)."""
MIN_GENERATED_LENGTH = 12
"""8.3.6: at least twelve characters."""
WAF_MANAGED_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
ADMIN_POLICIES = ("/AdministratorAccess", "/PowerUserAccess", "/IAMFullAccess")
SETTINGS = ("environment", "managementEvents", "accountBaseline")
SHOWN = 6
"""Names shown per evidence line in compliance.md (the --json section has them all)."""

T_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
T_BUCKET = "aws:s3/bucket:Bucket"
T_CLUSTER = "aws:rds/cluster:Cluster"
T_DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
T_EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
T_EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
T_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
T_FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
T_KEY = "aws:kms/key:Key"
T_LB = "aws:lb/loadBalancer:LoadBalancer"
T_LISTENER = "aws:lb/listener:Listener"
T_LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
T_SECRET = "aws:secretsmanager/secret:Secret"
T_SG = "aws:ec2/securityGroup:SecurityGroup"
T_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
T_TOPIC = "aws:sns/topic:Topic"
T_VPC = "aws:ec2/vpc:Vpc"
T_WEB_ACL = "aws:wafv2/webAcl:WebAcl"
INGRESS_TYPES = (
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
    T_SG,
)


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Evidence:
    """One predicate over the graph: what must hold, the resources that show it, and what fails it."""

    claim: str
    found: tuple[str, ...]
    missing: tuple[str, ...] = ()

    @property
    def holds(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class Outside:
    """What someone other than this stack provides for a requirement."""

    by: Provider
    what: str


@dataclass(frozen=True)
class Row:
    """One requirement: its evidence in the stack, the policy rules that keep it, what is provided outside."""

    number: str
    title: str
    evidence: tuple[Evidence, ...]
    rules: tuple[str, ...] = ()
    outside: tuple[Outside, ...] = ()

    @property
    def status(self) -> Status:
        """A gap when any evidence in the stack fails; met when it all holds; with no evidence in the stack,
        whoever provides it (the first named outside it)."""
        if any(not e.holds for e in self.evidence):
            return "gap"
        if self.evidence:
            return "met"
        return self.outside[0].by if self.outside else "gap"


@dataclass(frozen=True)
class Matrix:
    stack: str
    settings: dict[str, str]
    rows: tuple[Row, ...]

    def row(self, number: str) -> Row:
        return next(r for r in self.rows if r.number == number)

    def by_status(self) -> dict[Status, list[str]]:
        return {s: [r.number for r in self.rows if r.status == s] for s in STATUSES}


def matrix(run: StackRun, violations: Sequence[Violation] | None = None) -> Matrix:
    """The control matrix of ``run``; with ``violations`` (the policy pack's result on it), a row whose
    rules report violations is a gap too."""
    graph = _Graph(run)
    rows = []
    for build in ROWS:
        row = build(graph)
        if violations is not None and row.rules:
            mine = [f"[{v.policy}] {v.message}" for v in violations if v.policy in row.rules]
            passing = Evidence(
                "Its policy-pack rules pass on this stack", () if mine else ("no violation",), tuple(mine)
            )
            row = Row(
                row.number,
                row.title,
                (*row.evidence, passing),
                row.rules,
                row.outside,
            )
        rows.append(row)
    return Matrix(run.stack, {k: run.setting(k) or "(not set)" for k in SETTINGS}, tuple(rows))


# --------------------------------------------------------------------------- reading the graph


class _Graph:
    """The run's custom resources, and the ids, ARNs and names that refer to them."""

    def __init__(self, run: StackRun) -> None:
        self.run = run
        self.records = sorted((r for r in run.resources if r.custom), key=lambda r: (r.name, r.urn))
        self._refs: dict[str, list[ResourceRecord]] = {}
        for r in self.records:
            for value in {r.id, r.state.get("arn"), r.state.get("name"), r.state.get("bucket")}:
                if isinstance(value, str) and value:
                    self._refs.setdefault(value, []).append(r)

    def of(self, *types: str) -> list[ResourceRecord]:
        return [r for r in self.records if r.type in types]

    def resolve(self, value: Any, *types: str, region: str | None = None) -> ResourceRecord | None:
        """The resource of one of ``types`` that ``value`` (an id, ARN or name) names; of ``region`` first."""
        found = [r for r in self._refs.get(str(value), []) if not types or r.type in types]
        found.sort(key=lambda r: r.region != region)
        return found[0] if found else None

    def on(self, setting: str) -> bool:
        return self.run.setting(setting).lower() == "true"

    def site_regions(self) -> list[str]:
        """Each site's region: where the stack has a VPC."""
        return sorted({r.region for r in self.of(T_VPC)})

    def key(self, value: Any, region: str) -> ResourceRecord | None:
        return self.resolve(value, T_KEY, region=region) if value else None

    def alarmed(self, namespace: str, metric: str, region: str | None = None, **dimensions: str) -> list[str]:
        """Alarms with actions on one metric (in ``region``; with these dimensions)."""
        return [
            a.name
            for a in self.of(T_ALARM)
            if a.inputs.get("namespace") == namespace
            and a.inputs.get("metricName") == metric
            and a.inputs.get("alarmActions")
            and (region is None or a.region == region)
            and all((a.inputs.get("dimensions") or {}).get(k) == v for k, v in dimensions.items())
        ]

    def subscribed_topic(self, arn: Any) -> ResourceRecord | None:
        """The topic of this stack ``arn`` names, if it has at least one subscription."""
        topic = self.resolve(arn, T_TOPIC)
        if topic is None:
            return None
        refs = {topic.id, topic.state.get("arn")}
        subscribed = any(s.inputs.get("topic") in refs for s in self.of(T_SUBSCRIPTION))
        return topic if subscribed else None

    def internet_subnets(self) -> set[str]:
        """Subnets whose route table sends traffic to an internet gateway."""
        gateways = {g.id for g in self.of("aws:ec2/internetGateway:InternetGateway")}
        tables = {
            r.inputs.get("routeTableId")
            for r in self.of("aws:ec2/route:Route")
            if r.inputs.get("gatewayId") in gateways
        }
        tables |= {
            t.id
            for t in self.of("aws:ec2/routeTable:RouteTable")
            if any(route.get("gatewayId") in gateways for route in t.inputs.get("routes") or [])
        }
        return {
            str(a.inputs.get("subnetId"))
            for a in self.of("aws:ec2/routeTableAssociation:RouteTableAssociation")
            if a.inputs.get("routeTableId") in tables
        }

    def archives(self, purposes: Sequence[str] = ARCHIVE_PURPOSES) -> list[ResourceRecord]:
        return [b for b in self.of(T_BUCKET) if _purpose(b) in purposes]

    def for_bucket(self, type_: str, bucket: ResourceRecord) -> list[ResourceRecord]:
        """The side resources (encryption, versioning, policy ...) of one bucket."""
        return [r for r in self.of(type_) if self.resolve(r.inputs.get("bucket"), T_BUCKET) is bucket]


def _purpose(bucket: ResourceRecord) -> str:
    return str((bucket.inputs.get("tags") or {}).get("Purpose", ""))


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _document(value: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return dict(parsed) if isinstance(parsed, Mapping) else {}


def _days(value: Any) -> int:
    return int(float(value)) if value not in (None, "") else 0


def _evidence(claim: str, checks: Iterable[tuple[str, str | None]], *, none: str | None = None) -> Evidence:
    """``checks``: (resource shown, why it fails or None). ``none``: what is missing when there is nothing to check."""
    checks = list(checks)
    found = tuple(name for name, problem in checks if problem is None)
    missing = tuple(f"{name}: {problem}" for name, problem in checks if problem is not None)
    if not checks and none is not None:
        missing = (none,)
    return Evidence(claim, found, missing)


# --------------------------------------------------------------------------- 1 network security controls


def _no_public_ingress(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for r in g.of(*INGRESS_TYPES):
        if not ingress_rules(r.type, r.inputs):
            continue
        bad = public_ingress(r.type, r.inputs)
        why = "; ".join(f"{'/'.join(s for s in b.sources if s in PUBLIC_CIDRS)} on {b.admits}" for b in bad)
        checks.append((r.name, f"admits {why}" if bad else None))
    return _evidence(
        "No security group admits the internet (0.0.0.0/0, ::/0) but on exactly TCP port 80 or 443", checks
    )


def _databases_private(g: _Graph) -> Evidence:
    routed = g.internet_subnets()
    checks: list[tuple[str, str | None]] = [
        (i.name, "publicly accessible" if i.inputs.get("publiclyAccessible") is True else None)
        for i in g.of("aws:rds/clusterInstance:ClusterInstance")
    ]
    for group in g.of("aws:rds/subnetGroup:SubnetGroup"):
        exposed = [s for s in _listed(group.inputs.get("subnetIds")) if s in routed]
        checks.append((group.name, f"subnets {exposed} route to an internet gateway" if exposed else None))
    return _evidence(
        "Databases are not publicly accessible and their subnets have no route to an internet gateway",
        checks,
        none="no database in the stack",
    )


def _default_groups_closed(g: _Graph) -> Evidence:
    defaults = g.of("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    checks: list[tuple[str, str | None]] = []
    for vpc in g.of(T_VPC):
        mine = [d for d in defaults if d.inputs.get("vpcId") == vpc.id]
        if not mine:
            checks.append((vpc.name, "its default security group is left as AWS makes it (all traffic among members)"))
        for d in mine:
            rules = _listed(d.inputs.get("ingress")) + _listed(d.inputs.get("egress"))
            checks.append((d.name, f"has {len(rules)} rule(s)" if rules else None))
    return _evidence("Each VPC's default security group admits nothing", checks)


def _workloads_unrouted(g: _Graph) -> Evidence:
    routed = g.internet_subnets()
    checks: list[tuple[str, str | None]] = []
    for group in g.of("aws:autoscaling/group:Group"):
        exposed = [s for s in _listed(group.inputs.get("vpcZoneIdentifiers")) if s in routed]
        checks.append((group.name, f"launches into internet-routed subnets {exposed}" if exposed else None))
    for fn in g.of("aws:lambda/function:Function"):
        subnets = _listed((fn.inputs.get("vpcConfig") or {}).get("subnetIds"))
        exposed = [s for s in subnets if s in routed]
        if subnets:
            checks.append((fn.name, f"runs in internet-routed subnets {exposed}" if exposed else None))
    for template in g.of("aws:ec2/launchTemplate:LaunchTemplate"):
        public = any(
            n.get("associatePublicIpAddress") in (True, "true") for n in template.inputs.get("networkInterfaces") or []
        )
        checks.append((template.name, "gives instances a public IP address" if public else None))
    return _evidence(
        "App instances and functions run in subnets without a route to an internet gateway, without public addresses",
        checks,
        none="no app instances in the stack",
    )


def _edge_only_ingress(g: _Graph) -> Evidence:
    """Internet-facing load balancers take traffic only from managed prefix lists (CloudFront's
    origin-facing list, Route 53's health checkers) or other security groups, never from a CIDR."""
    checks: list[tuple[str, str | None]] = []
    for lb in g.of(T_LB):
        if lb.inputs.get("internal") is True:
            continue
        groups = {str(s) for s in _listed(lb.inputs.get("securityGroups"))}
        cidrs = [
            f"{r.name} {'/'.join(rule.sources)}"
            for r in g.of(*INGRESS_TYPES)
            if (r.id if r.type == T_SG else str(r.inputs.get("securityGroupId"))) in groups
            for rule in ingress_rules(r.type, r.inputs)
            if rule.sources
        ]
        checks.append((lb.name, f"admits CIDR ranges: {cidrs}" if cidrs else None))
    return _evidence(
        "Internet-facing load balancers admit only managed prefix lists and security groups, no CIDR range", checks
    )


def _r1_3(g: _Graph) -> Row:
    return Row(
        "1.3",
        "Network access to and from the cardholder data environment is restricted",
        (_no_public_ingress(g), _databases_private(g), _default_groups_closed(g)),
        ("no-public-ingress",),
    )


def _r1_4(g: _Graph) -> Row:
    return Row(
        "1.4",
        "Network connections between trusted and untrusted networks are controlled",
        (_workloads_unrouted(g), _edge_only_ingress(g)),
        ("no-public-ingress",),
    )


# --------------------------------------------------------------------------- 2 secure configuration


def _imdsv2(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for r in g.of("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"):
        metadata = r.inputs.get("metadataOptions") or {}
        ok = metadata.get("httpTokens") == "required" and metadata.get("httpPutResponseHopLimit") == 1
        checks.append((r.name, None if ok else f"metadata options {metadata}"))
    return _evidence("Instances use IMDSv2 only, with a hop limit of 1", checks)


def _public_access_blocked(g: _Graph) -> Evidence:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    checks: list[tuple[str, str | None]] = []
    for bucket in g.of(T_BUCKET):
        blocks = g.for_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
        ok = any(all(b.inputs.get(f) is True for f in flags) for b in blocks)
        checks.append((bucket.name, None if ok else "no public access block with all four settings on"))
    return _evidence("Every bucket blocks public access (all four settings)", checks)


def _invalid_headers_dropped(g: _Graph) -> Evidence:
    checks = [
        (lb.name, None if lb.inputs.get("dropInvalidHeaderFields") is True else "keeps invalid header fields")
        for lb in g.of(T_LB)
        if lb.inputs.get("loadBalancerType", "application") == "application"
    ]
    return _evidence("Load balancers drop invalid HTTP header fields", checks)


def _posture_checks(g: _Graph) -> Evidence:
    """AWS Config recording and Security Hub with the PCI DSS and FSBP standards, in each site's region."""
    checks: list[tuple[str, str | None]] = []
    standards = {"PCI DSS": "pci-dss", "AWS FSBP": "aws-foundational-security-best-practices"}
    for region in g.site_regions():
        recorders = [r.name for r in g.of("aws:cfg/recorder:Recorder") if r.region == region]
        hubs = [r.name for r in g.of("aws:securityhub/account:Account") if r.region == region]
        subscribed = {
            label
            for s in g.of("aws:securityhub/standardsSubscription:StandardsSubscription")
            if s.region == region
            for label, marker in standards.items()
            if marker in str(s.inputs.get("standardsArn", ""))
        }
        lacking = [
            *([] if recorders else ["an AWS Config recorder"]),
            *([] if hubs else ["Security Hub"]),
            *(f"the {label} standard" for label in standards if label not in subscribed),
        ]
        checks.append((f"{region}: {', '.join(recorders + hubs)}", f"lacks {', '.join(lacking)}" if lacking else None))
    return _evidence(
        "AWS Config records and Security Hub checks the PCI DSS and AWS FSBP standards in every site's region", checks
    )


def _r2_2(g: _Graph) -> Row:
    baseline = g.on("accountBaseline")
    return Row(
        "2.2",
        "System components are configured and managed securely",
        (
            _imdsv2(g),
            _public_access_blocked(g),
            _invalid_headers_dropped(g),
            *([_posture_checks(g)] if baseline else []),
        ),
        ("imdsv2-required", "s3-public-access-block", "alb-tls13", "required-tags"),
        (
            *(
                []
                if baseline
                else [
                    Outside(
                        "landing zone",
                        "AWS Config recording and Security Hub (PCI DSS, AWS FSBP standards) in each site's region "
                        "(accountBaseline is off)",
                    )
                ]
            ),
            Outside("team", "configuration standards for the app's image and software (2.2.1)"),
        ),
    )


# --------------------------------------------------------------------------- 3 stored account data


def _key_problem(g: _Graph, value: Any, region: str) -> str | None:
    if not value:
        return "no KMS key"
    if g.key(value, region) is None:
        return f"key {value} is not a key of this stack"
    return None


def _buckets_encrypted(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for bucket in g.of(T_BUCKET):
        rules = [
            rule.get("applyServerSideEncryptionByDefault") or {}
            for c in g.for_bucket(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket
            )
            for rule in _listed(c.inputs.get("rules"))
        ]
        if not rules:
            checks.append((bucket.name, "no default encryption"))
        elif _purpose(bucket) == LOG_BUCKET_PURPOSE and all(r.get("sseAlgorithm") == "AES256" for r in rules):
            checks.append((f"{bucket.name} (SSE-S3: access logs, which AWS delivers only to SSE-S3)", None))
        else:
            problems = [
                "not SSE-KMS"
                if r.get("sseAlgorithm") != "aws:kms"
                else _key_problem(g, r.get("kmsMasterKeyId"), bucket.region)
                for r in rules
            ]
            checks.append((bucket.name, next((p for p in problems if p), None)))
    return _evidence("S3 buckets: SSE-KMS with a key of this stack (access-log buckets SSE-S3)", checks)


def _encrypted_with(
    g: _Graph, claim: str, type_: str, key: Callable[[ResourceRecord], list[tuple[str, Any]]]
) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for r in g.of(type_):
        problems = [
            f"{where}: {p}" if where else p for where, value in key(r) if (p := _key_problem(g, value, r.region))
        ]
        checks.append((r.name, "; ".join(problems) or None))
    return _evidence(claim, checks)


def _cluster_key(r: ResourceRecord) -> list[tuple[str, Any]]:
    return [("", r.inputs.get("kmsKeyId") if r.inputs.get("storageEncrypted") is True else None)]


def _volume_keys(r: ResourceRecord) -> list[tuple[str, Any]]:
    return [
        (
            str(m.get("deviceName")),
            (m.get("ebs") or {}).get("kmsKeyId")
            if str((m.get("ebs") or {}).get("encrypted")).lower() == "true"
            else None,
        )
        for m in r.inputs.get("blockDeviceMappings") or []
    ]


def _secret_keys(r: ResourceRecord) -> list[tuple[str, Any]]:
    return [("", r.inputs.get("kmsKeyId"))] + [
        (f"replica in {replica.get('region')}", replica.get("kmsKeyId")) for replica in r.inputs.get("replicas") or []
    ]


def _r3_5(g: _Graph) -> Row:
    return Row(
        "3.5",
        "Primary account number (PAN) is secured wherever it is stored",
        (
            _buckets_encrypted(g),
            _encrypted_with(g, "Aurora clusters: storage encrypted with a key of this stack", T_CLUSTER, _cluster_key),
            _encrypted_with(
                g,
                "EBS volumes of the app instances: encrypted with a key of this stack",
                "aws:ec2/launchTemplate:LaunchTemplate",
                _volume_keys,
            ),
            _encrypted_with(
                g, "Secrets and their replicas: encrypted with a key of this stack", T_SECRET, _secret_keys
            ),
            _encrypted_with(
                g,
                "Log groups: encrypted with a key of this stack",
                T_LOG_GROUP,
                lambda r: [("", r.inputs.get("kmsKeyId"))],
            ),
            _encrypted_with(
                g,
                "Backup vaults: encrypted with a key of this stack",
                "aws:backup/vault:Vault",
                lambda r: [("", r.inputs.get("kmsKeyArn"))],
            ),
        ),
        ("cmk-encryption-at-rest", "s3-cmk-encryption"),
    )


def _key_policies(g: _Graph) -> Evidence:
    checks = [
        (k.name, None if _document(k.inputs.get("policy")).get("Statement") else "no key policy of its own")
        for k in g.of(T_KEY)
    ]
    return _evidence("Every customer-managed key has a key policy of its own", checks)


KEY_LOSS_EVENTS = ("DisableKey", "ScheduleKeyDeletion")


def _key_watch(g: _Graph) -> Evidence:
    """A key is watched when disabling it or scheduling its deletion alerts: an EventBridge rule of its
    region on those KMS calls (naming it, or every key) with a topic target, or a CloudTrail metric
    filter matching both calls whose alarm notifies (it sees every key the trail records)."""
    by_filter = [f for f in _trail_filters(g) if all(e in f.inputs.get("pattern", "") for e in KEY_LOSS_EVENTS)]
    filtered = [f.name for f in by_filter if _filter_alarms(g, f)]
    rules = []
    for rule in g.of(T_EVENT_RULE):
        pattern = _document(rule.inputs.get("eventPattern"))
        detail = pattern.get("detail") or {}
        if "aws.kms" not in _listed(pattern.get("source")) or not set(KEY_LOSS_EVENTS) <= set(
            _listed(detail.get("eventName"))
        ):
            continue
        if any(g.subscribed_topic(t.inputs.get("arn")) for t in _targets(g, rule)):
            arns = _listed((detail.get("resources") or {}).get("ARN"))
            rules.append((rule, arns))
    checks: list[tuple[str, str | None]] = []
    for key in g.of(T_KEY):
        watching = [
            r.name for r, arns in rules if r.region == key.region and (not arns or key.state.get("arn") in arns)
        ]
        if watching or filtered:
            checks.append((f"{key.name} ({', '.join(watching + filtered)})", None))
        else:
            checks.append(
                (
                    key.name,
                    f"no EventBridge rule in {key.region} names it, no CloudTrail metric filter alarms on "
                    f"{' and '.join(KEY_LOSS_EVENTS)}",
                )
            )
    return _evidence("Disabling a key or scheduling its deletion alerts the on-call", checks)


def _r3_6(g: _Graph) -> Row:
    return Row(
        "3.6",
        "Cryptographic keys used to protect stored account data are secured",
        (_key_policies(g), _key_watch(g)),
        ("cmk-encryption-at-rest",),
        (Outside("team", "key custodians and who may administer the keys (3.6.1)"),),
    )


def _key_rotation(g: _Graph) -> Evidence:
    checks = [
        (k.name, None if k.inputs.get("enableKeyRotation") is True else "automatic rotation off")
        for k in g.of(T_KEY)
        if k.inputs.get("customerMasterKeySpec") in (None, "SYMMETRIC_DEFAULT")
    ]
    return _evidence("Every symmetric customer-managed key rotates automatically (cryptoperiod, 3.7.4)", checks)


def _r3_7(g: _Graph) -> Row:
    return Row(
        "3.7",
        "Key-management processes cover all aspects of the key lifecycle",
        (_key_rotation(g),),
        ("kms-rotation",),
        (Outside("team", "documented key-management procedures: generation, storage, retirement (3.7.1-3.7.8)"),),
    )


# --------------------------------------------------------------------------- 4 transmission


def _viewer_tls(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for d in g.of(T_DISTRIBUTION):
        behaviors = [d.inputs.get("defaultCacheBehavior") or {}, *(d.inputs.get("orderedCacheBehaviors") or [])]
        plain = [
            b.get("viewerProtocolPolicy")
            for b in behaviors
            if b.get("viewerProtocolPolicy") not in ("redirect-to-https", "https-only")
        ]
        viewer = d.inputs.get("viewerCertificate") or {}
        weak = viewer.get("minimumProtocolVersion") not in CLOUDFRONT_MIN_TLS
        problem = (
            f"serves {plain}"
            if plain
            else "the default CloudFront certificate (TLSv1 minimum)"
            if viewer.get("cloudfrontDefaultCertificate")
            else f"minimum protocol {viewer.get('minimumProtocolVersion')}"
            if weak
            else None
        )
        checks.append((d.name, problem))
    return _evidence("CloudFront serves viewers HTTPS only, TLS 1.2 (2021) or newer", checks)


def _origin_tls(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for d in g.of(T_DISTRIBUTION):
        for origin in d.inputs.get("origins") or []:
            custom = origin.get("customOriginConfig")
            if custom is None:
                continue
            old = [p for p in _listed(custom.get("originSslProtocols")) if p not in ("TLSv1.2", "TLSv1.3")]
            problem = (
                f"origin protocol {custom.get('originProtocolPolicy')}"
                if custom.get("originProtocolPolicy") != "https-only"
                else f"allows {old}"
                if old
                else None
            )
            checks.append((f"{d.name} -> {origin.get('originId')}", problem))
    return _evidence("CloudFront reaches its origins over HTTPS only, TLS 1.2 or newer", checks)


def _listener_tls(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for listener in g.of(T_LISTENER):
        protocol = listener.inputs.get("protocol")
        if protocol == "HTTPS":
            policy = str(listener.inputs.get("sslPolicy", ""))
            checks.append((listener.name, None if policy.startswith(TLS13_POLICY_PREFIX) else f"TLS policy {policy}"))
        elif protocol == "HTTP":
            actions = _listed(listener.inputs.get("defaultActions"))
            redirects = all(
                a.get("type") == "redirect" and (a.get("redirect") or {}).get("protocol") == "HTTPS" for a in actions
            )
            rules = [
                r.name
                for r in g.of("aws:lb/listenerRule:ListenerRule")
                if g.resolve(r.inputs.get("listenerArn"), T_LISTENER) is listener
            ]
            problem = "serves plain HTTP" if not redirects else f"rules {rules} serve plain HTTP" if rules else None
            checks.append((listener.name, problem))
    return _evidence("Load balancers serve HTTPS with a TLS 1.3 policy; HTTP only redirects to HTTPS", checks)


def _parameters(g: _Graph, cluster: ResourceRecord) -> dict[str, str] | None:
    group = g.resolve(
        cluster.inputs.get("dbClusterParameterGroupName"),
        "aws:rds/clusterParameterGroup:ClusterParameterGroup",
        region=cluster.region,
    )
    if group is None:
        return None
    return {str(p.get("name")): str(p.get("value")) for p in group.inputs.get("parameters") or []}


def _database_tls(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for cluster in g.of(T_CLUSTER):
        params = _parameters(g, cluster)
        if params is None:
            checks.append((cluster.name, "no parameter group of this stack"))
            continue
        versions = set(params.get("tls_version", "").split(","))
        problem = (
            "require_secure_transport is not ON"
            if params.get("require_secure_transport", "").upper() not in ("ON", "1")
            else f"tls_version {params.get('tls_version')}"
            if not versions <= {"TLSv1.2", "TLSv1.3"}
            else None
        )
        checks.append((cluster.name, problem))
    return _evidence("Aurora requires TLS 1.2 or newer (require_secure_transport)", checks)


def _s3_tls(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for bucket in g.of(T_BUCKET):
        denies = any(
            s.get("Effect") == "Deny"
            and str(((s.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport")).lower() == "false"
            for p in g.for_bucket("aws:s3/bucketPolicy:BucketPolicy", bucket)
            for s in _listed(_document(p.inputs.get("policy")).get("Statement"))
        )
        checks.append((bucket.name, None if denies else "its policy does not deny requests without TLS"))
    return _evidence("Every bucket's policy denies requests without TLS", checks)


def _r4_2(g: _Graph) -> Row:
    return Row(
        "4.2",
        "PAN is protected with strong cryptography during transmission",
        (_viewer_tls(g), _origin_tls(g), _listener_tls(g), _database_tls(g), _s3_tls(g)),
        ("cloudfront-https-only", "alb-tls13", "aurora-tls-required", "s3-tls-only"),
    )


# --------------------------------------------------------------------------- 6 public web applications


def _managed_rules(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for acl in g.of(T_WEB_ACL):
        rules = _listed(acl.inputs.get("rules"))
        blocking = {
            (r.get("statement") or {}).get("managedRuleGroupStatement", {}).get("name")
            for r in rules
            if "none" in (r.get("overrideAction") or {})
        }
        rate_limited = any(
            "rateBasedStatement" in (r.get("statement") or {}) and "block" in (r.get("action") or {}) for r in rules
        )
        lacking = [name for name in WAF_MANAGED_GROUPS if name not in blocking] + (
            [] if rate_limited else ["a blocking rate limit"]
        )
        checks.append((acl.name, f"lacks {', '.join(lacking)}" if lacking else None))
    return _evidence(
        "A web ACL blocks known attacks: AWS managed rule groups (common, known bad inputs, SQL injection) "
        "and a rate limit",
        checks,
        none="no web ACL in the stack",
    )


def _origin_locked(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for lb in g.of(T_LB):
        if lb.inputs.get("internal") is True:
            continue
        listeners = [
            listener
            for listener in g.of(T_LISTENER)
            if g.resolve(listener.inputs.get("loadBalancerArn"), T_LB) is lb
            and listener.inputs.get("protocol") == "HTTPS"
        ]
        forwards = [
            listener.name
            for listener in listeners
            if any(a.get("type") == "forward" for a in _listed(listener.inputs.get("defaultActions")))
        ]
        verified = [
            r.name
            for r in g.of("aws:lb/listenerRule:ListenerRule")
            if any(g.resolve(r.inputs.get("listenerArn"), T_LISTENER) is listener for listener in listeners)
            and any("httpHeader" in c for c in _listed(r.inputs.get("conditions")))
        ]
        problem = (
            f"listeners {forwards} forward any request"
            if forwards
            else "no rule forwards on the edge's origin-verify header"
            if not verified
            else None
        )
        checks.append((f"{lb.name} ({', '.join(verified)})" if verified else lb.name, problem))
    return _evidence(
        "Internet-facing load balancers serve only requests carrying the edge's origin-verify header "
        "(no way around the web ACL)",
        checks,
    )


def _r6_4_1(g: _Graph) -> Row:
    return Row(
        "6.4.1",
        "Public-facing web applications are protected against known attacks",
        (_managed_rules(g), _origin_locked(g)),
        ("waf-on-cloudfront",),
        (Outside("team", "new threats to the application addressed on an ongoing basis: the web ACL's rules tuned"),),
    )


def _acl_attached(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for d in g.of(T_DISTRIBUTION):
        acl = g.resolve(d.inputs.get("webAclId"), T_WEB_ACL)
        problem = (
            "no web ACL"
            if not d.inputs.get("webAclId")
            else f"web ACL {d.inputs.get('webAclId')} is not one of this stack"
            if acl is None
            else f"web ACL {acl.name} has scope {acl.inputs.get('scope')}"
            if acl.inputs.get("scope") != "CLOUDFRONT"
            else None
        )
        checks.append((f"{d.name} -> {acl.name}" if acl else d.name, problem))
    return _evidence(
        "Every CloudFront distribution is associated with a CLOUDFRONT-scope web ACL of this stack",
        checks,
        none="no CloudFront distribution in the stack",
    )


def _acl_watched(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for acl in g.of(T_WEB_ACL):
        logged = [
            c.name
            for c in g.of("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
            if g.resolve(c.inputs.get("resourceArn"), T_WEB_ACL) is acl
        ]
        # The metrics' WebACL dimension is the web ACL's VisibilityConfig MetricName (WAFV2 API reference).
        metric = str((acl.inputs.get("visibilityConfig") or {}).get("metricName"))
        alarms = g.alarmed("AWS/WAFV2", "BlockedRequests", WebACL=metric)
        lacking = ([] if logged else ["a logging configuration"]) + ([] if alarms else ["an alarm on blocked requests"])
        checks.append(
            (f"{acl.name} ({', '.join(logged + alarms)})", f"lacks {' and '.join(lacking)}" if lacking else None)
        )
    return _evidence("Every web ACL logs its requests and alarms when blocked requests spike", checks)


def _r6_4_2(g: _Graph) -> Row:
    return Row(
        "6.4.2",
        "An automated technical solution detects and prevents web-based attacks",
        (_acl_attached(g), _acl_watched(g)),
        ("waf-on-cloudfront",),
    )


# --------------------------------------------------------------------------- 7, 8 access and authentication


def _no_wildcards(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for r in g.of("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
        findings = [f"{prop} {found}" for prop, found, _ in iam_wildcards(r.inputs)]
        checks.append((r.name, "; ".join(findings) or None))
    return _evidence("IAM policies grant no wildcard action and no write action on every resource", checks)


def _trust_scoped(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for role in g.of("aws:iam/role:Role"):
        anyone = [
            s.get("Sid", "?")
            for s in _listed(_document(role.inputs.get("assumeRolePolicy")).get("Statement"))
            if s.get("Effect") == "Allow"
            and (s.get("Principal") == "*" or "*" in _listed((s.get("Principal") or {}).get("AWS")))
        ]
        checks.append((role.name, f"any principal may assume it ({anyone})" if anyone else None))
    return _evidence("Every role is assumable only by the service or account it exists for", checks)


def _no_admin_policies(g: _Graph) -> Evidence:
    checks = [
        (
            a.name,
            f"attaches {a.inputs.get('policyArn')}"
            if str(a.inputs.get("policyArn", "")).endswith(ADMIN_POLICIES)
            else None,
        )
        for a in g.of("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment")
    ]
    return _evidence("No role gets an administrator-level managed policy", checks)


def _r7_2(g: _Graph) -> Row:
    return Row(
        "7.2",
        "Access to system components and data is appropriately defined and assigned",
        (_no_wildcards(g), _trust_scoped(g), _no_admin_policies(g)),
        ("no-iam-wildcards",),
        (
            Outside(
                "landing zone", "people's access by job function, approved and reviewed every six months (7.2.1-7.2.5)"
            ),
        ),
    )


def _generated_credentials(g: _Graph) -> Evidence:
    checks = [
        (p.name, None if _days(p.inputs.get("length")) >= MIN_GENERATED_LENGTH else f"length {p.inputs.get('length')}")
        for p in g.of("random:index/randomPassword:RandomPassword")
    ]
    return _evidence(f"Generated credentials are at least {MIN_GENERATED_LENGTH} characters (8.3.6)", checks)


def _no_long_lived_keys(g: _Graph) -> Evidence:
    types = ("aws:iam/user:User", "aws:iam/accessKey:AccessKey", "aws:iam/userLoginProfile:UserLoginProfile")
    checks = [(r.name, f"a {r.type.rsplit(':', 1)[-1]} in the stack") for r in g.of(*types)]
    return Evidence(
        "No IAM users, passwords or access keys: workloads use roles, people the landing zone's identity provider",
        (),
        tuple(f"{n}: {p}" for n, p in checks),
    )


def _database_iam_auth(g: _Graph) -> Evidence:
    checks = [
        (c.name, None if c.inputs.get("iamDatabaseAuthenticationEnabled") is True else "IAM authentication off")
        for c in g.of(T_CLUSTER)
    ]
    return _evidence("Aurora clusters accept IAM database authentication", checks)


def _r8_3(g: _Graph) -> Row:
    return Row(
        "8.3",
        "Strong authentication for users and administrators is established and managed",
        (_generated_credentials(g), _no_long_lived_keys(g), _database_iam_auth(g)),
        (),
        (
            Outside(
                "landing zone",
                "people authenticate through the identity provider: passwords or passphrases, lockout, "
                "session limits (8.3.1-8.3.9)",
            ),
        ),
    )


def _r8_4(g: _Graph) -> Row:
    return Row(
        "8.4",
        "Multi-factor authentication is implemented to secure access into the CDE",
        (),
        (),
        (
            Outside(
                "landing zone",
                "MFA for every access into the CDE, console and CLI alike, including whoever runs ./deploy "
                "(8.4.1-8.4.3)",
            ),
        ),
    )


def _rotations(g: _Graph) -> Evidence:
    rotations = g.of("aws:secretsmanager/secretRotation:SecretRotation")
    checks: list[tuple[str, str | None]] = []
    for secret in g.of(T_SECRET):
        mine = [r for r in rotations if g.resolve(r.inputs.get("secretId"), T_SECRET, region=r.region) is secret]
        days = [_rotation_days(r.inputs.get("rotationRules") or {}) for r in mine]
        if not mine:
            checks.append((secret.name, "never rotated (no SecretRotation)"))
        elif not any(d is not None and d <= MAX_ROTATION_DAYS for d in days):
            checks.append((secret.name, f"rotation rules {[r.inputs.get('rotationRules') for r in mine]}"))
        else:
            checks.append((f"{secret.name} every {min(d for d in days if d is not None)} days ({mine[0].name})", None))
    return _evidence(
        "The application's and the master database credentials rotate automatically, "
        f"at most every {MAX_ROTATION_DAYS} days",
        checks,
        none="no application or system account secret in the stack",
    )


def _rotation_days(rules: Mapping[str, Any]) -> int | None:
    if rules.get("automaticallyAfterDays"):
        return _days(rules["automaticallyAfterDays"])
    expression = str(rules.get("scheduleExpression", ""))
    if expression.startswith("rate(") and expression.endswith("days)"):
        return int(expression[5:].split(maxsplit=1)[0])
    return None


def _r8_6(g: _Graph) -> Row:
    return Row(
        "8.6",
        "Use of application and system accounts and their authentication factors is strictly managed",
        (_rotations(g),),
        ("secret-rotation",),
        (
            Outside(
                "team", "interactive use of system accounts only by exception, time-limited and attributable (8.6.1)"
            ),
        ),
    )


# --------------------------------------------------------------------------- 10 audit logs


def _trails(g: _Graph) -> list[ResourceRecord]:
    return g.of(TRAIL_TYPE)


def _archive_data_events(g: _Graph) -> Evidence:
    trails = _trails(g)
    checks: list[tuple[str, str | None]] = []
    for bucket in g.archives():
        arn = str(bucket.state.get("arn", ""))
        recorded = {t.name: object_event_modes(t.inputs, arn) for t in trails}
        full = [name for name, modes in recorded.items() if modes == BOTH]
        partial = sorted({m for modes in recorded.values() for m in modes})
        # A trail leaving its own log files out (recursive deliveries) leaves their reads to the
        # bucket's server access logs: 10.2.1.3, all access to audit logs.
        skipped = any(part.skips_own_logs(arn) for t in trails if t.name in full for part in recorded_objects(t.inputs))
        access_logged = bool(g.for_bucket("aws:s3/bucketLogging:BucketLogging", bucket))
        problem = (
            "no trail records reads and writes of its objects"
            + (f" (one records {' and '.join(partial)} only)" if partial else "")
            if not full
            else "the trail leaves its own log files out and the bucket has no server access logs"
            if skipped and not access_logged
            else None
        )
        own = "; its own log files: server access logs" if skipped and access_logged else ""
        checks.append((f"{bucket.name} ({', '.join(full)}{own})" if full else bucket.name, problem))
    return _evidence("A CloudTrail trail records read and write data events on every object of every archive", checks)


def _validated(g: _Graph) -> Evidence:
    checks = [
        (t.name, None if t.inputs.get("enableLogFileValidation") is True else "log file validation off")
        for t in _trails(g)
    ]
    return _evidence(
        "The trail validates its log files (digest files)", checks, none="no CloudTrail trail in the stack"
    )


def _management_events(g: _Graph) -> Evidence:
    checks = [
        (
            t.name,
            None
            if t.inputs.get("isMultiRegionTrail") is True and management_event_modes(t.inputs) == BOTH
            else "not a multi-region trail recording read and write management events",
        )
        for t in _trails(g)
    ]
    recorded = [name for name, problem in checks if problem is None]
    return Evidence(
        "A multi-region trail records read and write management events (managementEvents is on)",
        tuple(recorded),
        () if recorded else ("no trail of this stack records every region's management events",),
    )


def _flow_logs(g: _Graph) -> Evidence:
    flows = g.of("aws:ec2/flowLog:FlowLog")
    checks = [
        (
            vpc.name,
            None
            if any(f.inputs.get("vpcId") == vpc.id and f.inputs.get("trafficType") == "ALL" for f in flows)
            else "no flow log of ALL traffic",
        )
        for vpc in g.of(T_VPC)
    ]
    return _evidence("Every VPC records all its traffic in flow logs", checks)


def _database_audit(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for cluster in g.of(T_CLUSTER):
        params = _parameters(g, cluster) or {}
        problem = (
            "server_audit_logging is off"
            if params.get("server_audit_logging") not in ("1", "ON", "on")
            else "audit logs not exported to CloudWatch Logs"
            if "audit" not in _listed(cluster.inputs.get("enabledCloudwatchLogsExports"))
            else None
        )
        checks.append((cluster.name, problem))
    return _evidence("Aurora writes its audit log (connections, DDL, DCL) to CloudWatch Logs", checks)


def _web_access_logs(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for lb in g.of(T_LB):
        if lb.inputs.get("internal") is not True:
            checks.append(
                (lb.name, None if (lb.inputs.get("accessLogs") or {}).get("enabled") is True else "no access logs")
            )
    sources = g.of("aws:cloudwatch/logDeliverySource:LogDeliverySource")
    deliveries = {str(d.inputs.get("deliverySourceName")) for d in g.of("aws:cloudwatch/logDelivery:LogDelivery")}
    for d in g.of(T_DISTRIBUTION):
        logged = d.inputs.get("loggingConfig") or any(
            s.inputs.get("resourceArn") == d.state.get("arn")
            and str(s.inputs.get("name") or s.state.get("name")) in deliveries
            for s in sources
        )
        checks.append((d.name, None if logged else "no access logs"))
    return _evidence("Internet-facing load balancers and CloudFront write access logs", checks)


def _r10_2(g: _Graph) -> Row:
    management = g.on("managementEvents")
    return Row(
        "10.2",
        "Audit logs are implemented to support the detection of anomalies and suspicious activity",
        (
            _archive_data_events(g),
            _validated(g),
            *([_management_events(g)] if management else []),
            _flow_logs(g),
            _database_audit(g),
            _web_access_logs(g),
        ),
        ("prod-audit-trail", "vpc-flow-logs"),
        ()
        if management
        else (
            Outside(
                "landing zone",
                "an organization trail records every region's management events (managementEvents is off)",
            ),
        ),
    )


def _archive_locked(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for bucket in g.archives([AUDIT_ARCHIVE]):
        locks = g.for_bucket("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", bucket)
        versioned = any(
            (v.inputs.get("versioningConfiguration") or {}).get("status") == "Enabled"
            for v in g.for_bucket("aws:s3/bucketVersioning:BucketVersioning", bucket)
        )
        problem = (
            "Object Lock off"
            if bucket.inputs.get("objectLockEnabled") is not True
            else "no default retention"
            if not any(((lock.inputs.get("rule") or {}).get("defaultRetention")) for lock in locks)
            else "not versioned"
            if not versioned
            else None
        )
        checks.append((bucket.name, problem))
    return _evidence(
        "Audit-log archives are versioned and Object-Locked with a default retention",
        checks,
        none="no audit-log archive in the stack",
    )


def _archive_fed(g: _Graph) -> Evidence:
    """Each site's log groups reach a locked archive: subscription filters -> Firehose -> the audit archive."""
    archives = g.archives([AUDIT_ARCHIVE])
    filters = g.of("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    checks: list[tuple[str, str | None]] = []
    for region in g.site_regions():
        streams = [
            s
            for s in g.of(T_FIREHOSE)
            if s.region == region
            and g.resolve((s.inputs.get("extendedS3Configuration") or {}).get("bucketArn"), T_BUCKET) in archives
        ]
        fed = [f for f in filters if g.resolve(f.inputs.get("destinationArn"), T_FIREHOSE, region=region) in streams]
        checks.append(
            (
                f"{region}: {', '.join(s.name for s in streams)} ({len(fed)} log groups)",
                None if fed else "no log group is copied into an audit archive",
            )
        )
    return _evidence(
        "Each site's log groups are copied into an audit-log archive (subscription filters, Firehose)", checks
    )


def _trail_delivery(g: _Graph) -> Evidence:
    archives = g.archives([AUDIT_ARCHIVE])
    checks: list[tuple[str, str | None]] = []
    for trail in _trails(g):
        bucket = g.resolve(trail.inputs.get("s3BucketName"), T_BUCKET)
        problem = (
            f"delivers into {trail.inputs.get('s3BucketName')}, not an audit-log archive of this stack"
            if bucket not in archives
            else _key_problem(g, trail.inputs.get("kmsKeyId"), trail.region)
        )
        checks.append((f"{trail.name} -> {bucket.name}" if bucket else trail.name, problem))
    return _evidence("Each trail delivers into an audit-log archive, encrypted with a key of this stack", checks)


def _r10_3(g: _Graph) -> Row:
    return Row(
        "10.3",
        "Audit logs are protected from destruction and unauthorized modifications",
        (_archive_locked(g), _archive_fed(g), _trail_delivery(g)),
        ("prod-data-protected", "s3-cmk-encryption", "prod-audit-trail"),
    )


# The CIS AWS Foundations / Security Hub CloudWatch.1-14 family, each by the CloudTrail event names
# (any one set of them, all in the pattern) its metric filter matches.
CIS_ANOMALIES: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    ("root account use", (("Root",),)),
    ("unauthorized API calls", (("UnauthorizedOperation",), ("AccessDenied",))),
    ("console sign-in without MFA", (("ConsoleLogin", "MFAUsed"),)),
    ("IAM policy changes", (("PutRolePolicy",), ("AttachRolePolicy",), ("CreatePolicyVersion",))),
    ("KMS keys disabled or scheduled for deletion", (KEY_LOSS_EVENTS,)),
    ("S3 bucket policy changes", (("PutBucketPolicy",),)),
    ("security group changes", (("AuthorizeSecurityGroupIngress",),)),
    ("network ACL changes", (("CreateNetworkAclEntry",),)),
    ("route table changes", (("CreateRoute",), ("ReplaceRoute",))),
    ("VPC changes", (("CreateVpc",), ("DeleteVpc",), ("ModifyVpcAttribute",))),
)
TRAIL_CHANGES = ("StopLogging", "DeleteTrail", "UpdateTrail")


def _trail_filters(g: _Graph) -> list[ResourceRecord]:
    """Metric filters over CloudTrail records: JSON patterns (``{ $.eventName = ... }``)."""
    return [f for f in g.of(T_FILTER) if "$." in str(f.inputs.get("pattern", ""))]


def _filter_alarms(g: _Graph, f: ResourceRecord) -> list[str]:
    metric = f.inputs.get("metricTransformation") or {}
    return g.alarmed(str(metric.get("namespace")), str(metric.get("name")), region=f.region)


def _cis_filters(g: _Graph, name: str, token_sets: Sequence[Sequence[str]]) -> tuple[str, str | None]:
    matching = [
        f
        for f in _trail_filters(g)
        if any(all(token in str(f.inputs.get("pattern", "")) for token in tokens) for tokens in token_sets)
    ]
    alarmed = [f.name for f in matching if _filter_alarms(g, f)]
    if alarmed:
        return f"{name} ({', '.join(alarmed)})", None
    return (
        name,
        "no CloudTrail metric filter feeding an alarm with actions"
        if not matching
        else "its metric filter feeds no alarm with actions",
    )


def _r10_4(g: _Graph) -> Row:
    baseline = g.on("accountBaseline")
    return Row(
        "10.4",
        "Audit logs are reviewed to identify anomalies or suspicious activity",
        (
            _evidence(
                "CloudTrail metric filters raise alarms on the CIS anomalies",
                [_cis_filters(g, name, tokens) for name, tokens in CIS_ANOMALIES],
            ),
        ),
        (),
        (
            Outside("team", "someone reviews the security alerts and events every day (10.4.1)"),
            *(
                []
                if baseline
                else [
                    Outside(
                        "landing zone", "GuardDuty and Security Hub findings for that review (accountBaseline is off)"
                    )
                ]
            ),
        ),
    )


def _log_retention(g: _Graph) -> Evidence:
    checks = [
        (
            lg.name,
            None
            if _days(lg.inputs.get("retentionInDays")) in (0,)
            or _days(lg.inputs.get("retentionInDays")) >= MIN_LOG_RETENTION_DAYS
            else f"keeps {lg.inputs.get('retentionInDays')} days",
        )
        for lg in g.of(T_LOG_GROUP)
    ]
    return _evidence(f"Log groups keep at least {MIN_LOG_RETENTION_DAYS} days (three months at hand)", checks)


def _archive_retention(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for bucket in g.archives([AUDIT_ARCHIVE]):
        retentions = [
            _days(d.get("days")) + 365 * _days(d.get("years"))
            for lock in g.for_bucket("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", bucket)
            if (d := (lock.inputs.get("rule") or {}).get("defaultRetention"))
        ]
        expiries = [
            _days((rule.get("expiration") or {}).get("days"))
            for lc in g.for_bucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket)
            for rule in lc.inputs.get("rules") or []
            if rule.get("status") == "Enabled" and (rule.get("expiration") or {}).get("days")
        ]
        locked = max(retentions, default=0)
        problem = (
            f"Object Lock keeps {locked} days"
            if locked < ARCHIVE_RETENTION_DAYS
            else f"expires objects after {min(expiries)} days"
            if expiries and min(expiries) < ARCHIVE_RETENTION_DAYS
            else None
        )
        checks.append((f"{bucket.name} ({locked} days locked)", problem))
    return _evidence(
        f"Audit-log archives keep every object at least {ARCHIVE_RETENTION_DAYS} days (twelve months)",
        checks,
        none="no audit-log archive in the stack",
    )


def _r10_5(g: _Graph) -> Row:
    return Row(
        "10.5",
        "Audit log history is retained and available for analysis",
        (_log_retention(g), _archive_retention(g)),
        ("log-retention",),
    )


def _r10_6(g: _Graph) -> Row:
    return Row(
        "10.6",
        "Time-synchronization mechanisms support consistent time settings across all systems",
        (),
        (),
        (
            Outside(
                "AWS", "the Amazon Time Sync Service for the instances; AWS services timestamp the logs they write"
            ),
            Outside("team", "the application logs UTC timestamps from the system clock (10.6.1)"),
        ),
    )


def _delivery_alarms(g: _Graph) -> Evidence:
    archives = g.archives([AUDIT_ARCHIVE])
    checks: list[tuple[str, str | None]] = []
    for stream in g.of(T_FIREHOSE):
        if g.resolve((stream.inputs.get("extendedS3Configuration") or {}).get("bucketArn"), T_BUCKET) not in archives:
            continue
        name = str(stream.state.get("name") or stream.inputs.get("name") or stream.name)
        alarms = [
            a
            for m in ("DeliveryToS3.Success", "DeliveryToS3.DataFreshness")
            for a in g.alarmed("AWS/Firehose", m, DeliveryStreamName=name)
        ]
        checks.append(
            (
                f"{stream.name} ({', '.join(alarms)})" if alarms else stream.name,
                None if alarms else "no alarm on its delivery",
            )
        )
    return _evidence("Audit log delivery into the archives alarms when it fails or lags", checks)


def _conditional_alarm(g: _Graph, claim: str, present: str, namespace: str, metric: str) -> Evidence:
    regions = sorted({r.region for r in g.of(present)})
    checks = [
        (
            f"{region}: {', '.join(a)}" if (a := g.alarmed(namespace, metric, region)) else region,
            None if a else f"no {metric} alarm with actions",
        )
        for region in regions
    ]
    return _evidence(claim, checks)


def _rotation_alarms(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    rotations = g.of("aws:secretsmanager/secretRotation:SecretRotation")
    for fn in g.of("aws:lambda/function:Function"):
        if not any(
            g.resolve(r.inputs.get("rotationLambdaArn"), "aws:lambda/function:Function") is fn for r in rotations
        ):
            continue
        alarms = g.alarmed("AWS/Lambda", "Errors", FunctionName=str(fn.state.get("name") or fn.name))
        checks.append(
            (f"{fn.name} ({', '.join(alarms)})" if alarms else fn.name, None if alarms else "no alarm on its errors")
        )
    return _evidence("Secret rotation errors alarm", checks)


def _r10_7(g: _Graph) -> Row:
    return Row(
        "10.7",
        "Failures of critical security control systems are detected, reported, and responded to promptly",
        (
            _evidence(
                "Stopping, deleting or changing the trail alarms (a CloudTrail metric filter)",
                [_cis_filters(g, "CloudTrail configuration changes", (TRAIL_CHANGES[:2],))],
            ),
            _delivery_alarms(g),
            _conditional_alarm(
                g,
                "Archive replication failures alarm",
                "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
                "AWS/S3",
                "OperationsFailedReplication",
            ),
            _conditional_alarm(
                g, "Backup job failures alarm", "aws:backup/plan:Plan", "AWS/Backup", "NumberOfBackupJobsFailed"
            ),
            _rotation_alarms(g),
        ),
    )


# --------------------------------------------------------------------------- 11, 12 detection and response


def _detectors(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for region in g.site_regions():
        detectors = [
            d.name
            for d in g.of("aws:guardduty/detector:Detector")
            if d.region == region and d.inputs.get("enable") is not False
        ]
        routed = [
            r.name
            for r in g.of(T_EVENT_RULE)
            if r.region == region
            and "aws.guardduty" in _listed(_document(r.inputs.get("eventPattern")).get("source"))
            and any(g.subscribed_topic(t.inputs.get("arn")) for t in _targets(g, r))
        ]
        problem = (
            "no GuardDuty detector"
            if not detectors
            else "its findings reach no subscribed topic"
            if not routed
            else None
        )
        checks.append((f"{region}: {', '.join(detectors + routed)}", problem))
    return _evidence("GuardDuty watches every site's region and its findings page the on-call", checks)


def _r11_5(g: _Graph) -> Row:
    baseline = g.on("accountBaseline")
    return Row(
        "11.5",
        "Network intrusions and unexpected file changes are detected and responded to",
        (_detectors(g),) if baseline else (),
        (),
        (
            *(
                []
                if baseline
                else [
                    Outside(
                        "landing zone",
                        "GuardDuty in every site's region, its findings to the on-call (accountBaseline is off)",
                    )
                ]
            ),
            Outside("team", "change detection on the app instances' critical files (11.5.2)"),
        ),
    )


def _r11_3(g: _Graph) -> Row:
    return Row(
        "11.3",
        "External and internal vulnerabilities are regularly identified, prioritized, and addressed",
        (),
        (),
        (
            Outside(
                "team", "internal scans and external scans by an Approved Scanning Vendor, quarterly (11.3.1, 11.3.2)"
            ),
        ),
    )


def _r11_4(g: _Graph) -> Row:
    return Row(
        "11.4",
        "External and internal penetration testing is regularly performed",
        (),
        (),
        (
            Outside(
                "team",
                "penetration tests yearly and after significant change, segmentation tests included (11.4.1-11.4.5)",
            ),
        ),
    )


def _targets(g: _Graph, rule: ResourceRecord) -> list[ResourceRecord]:
    names = {rule.id, rule.state.get("name"), rule.inputs.get("name")}
    return [t for t in g.of(T_EVENT_TARGET) if t.inputs.get("rule") in names and t.region == rule.region]


def _alarms_notify(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for alarm in g.of(T_ALARM):
        actions = _listed(alarm.inputs.get("alarmActions"))
        unsubscribed = [a for a in actions if g.subscribed_topic(a) is None]
        problem = (
            "no alarm actions"
            if not actions
            else f"notifies {unsubscribed}: no subscribed topic of this stack"
            if unsubscribed
            else None
        )
        checks.append((alarm.name, problem))
    return _evidence(
        "Every alarm notifies an SNS topic of this stack that has subscribers", checks, none="no alarm in the stack"
    )


def _events_notify(g: _Graph) -> Evidence:
    checks: list[tuple[str, str | None]] = []
    for target in g.of(T_EVENT_TARGET):
        if ":sns:" not in str(target.inputs.get("arn", "")):
            continue
        checks.append(
            (target.name, None if g.subscribed_topic(target.inputs.get("arn")) else "its topic has no subscribers")
        )
    return _evidence("Every security event rule notifies a topic that has subscribers", checks)


def _r12_10(g: _Graph) -> Row:
    return Row(
        "12.10",
        "Suspected and confirmed security incidents that could impact the CDE are responded to immediately",
        (_alarms_notify(g), _events_notify(g)),
        (),
        (
            Outside(
                "team",
                "an incident response plan, tested yearly, and people on call for the alert topics (12.10.1-12.10.4)",
            ),
        ),
    )


ROWS: tuple[Callable[[_Graph], Row], ...] = (
    _r1_3,
    _r1_4,
    _r2_2,
    _r3_5,
    _r3_6,
    _r3_7,
    _r4_2,
    _r6_4_1,
    _r6_4_2,
    _r7_2,
    _r8_3,
    _r8_4,
    _r8_6,
    _r10_2,
    _r10_3,
    _r10_4,
    _r10_5,
    _r10_6,
    _r10_7,
    _r11_3,
    _r11_4,
    _r11_5,
    _r12_10,
)


# --------------------------------------------------------------------------- output


def summary(controls: Matrix) -> str:
    """``17 met, 1 gap (10.2), 3 landing zone (8.4, 11.5, ...)``."""
    groups = controls.by_status()
    return ", ".join(
        f"{len(numbers)} {status}" + (f" ({', '.join(numbers)})" if status != "met" else "")
        for status, numbers in groups.items()
        if numbers
    )


def gap_lines(controls: Matrix) -> list[str]:
    """One line per failing claim of each gap: what the plan prints under its summary."""
    return [
        f"{row.number} gap: {e.claim}: {e.missing[0]}"
        + (f" (+{len(e.missing) - 1} more)" if len(e.missing) > 1 else "")
        for row in controls.rows
        for e in row.evidence
        if not e.holds
    ]


def as_json(controls: Matrix) -> dict[str, Any]:
    return {
        "standard": STANDARD,
        "stack": controls.stack,
        "settings": controls.settings,
        "summary": {status: numbers for status, numbers in controls.by_status().items()},
        "requirements": [
            {
                "requirement": row.number,
                "title": row.title,
                "status": row.status,
                "evidence": [
                    {"claim": e.claim, "holds": e.holds, "found": list(e.found), "missing": list(e.missing)}
                    for e in row.evidence
                ],
                "rules": list(row.rules),
                "outside": [{"by": o.by, "what": o.what} for o in row.outside],
            }
            for row in controls.rows
        ],
    }


def _shown(names: Sequence[str]) -> str:
    if not names:
        return "none in the stack"
    head = ", ".join(names[:SHOWN])
    return head + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def markdown(controls: Matrix) -> str:
    """compliance.md: a summary table, then each requirement's evidence as found in the graph."""
    settings = ", ".join(f"`{k}` = {v}" for k, v in controls.settings.items())
    lines = [
        f"# {STANDARD} control matrix: {controls.stack}",
        "",
        "Written by the offline plan (`make pictures`, offline/compliance.py) from the recorded graph of this stack:",
        "each requirement's evidence is a predicate over the declared resources, so a requirement whose evidence is",
        "missing from the graph shows as a **gap**. Requirement numbers and short titles only; the standard is the",
        "PCI Security Standards Council's. What the landing zone, the team or AWS provides is outside this stack",
        "and outside what the plan can check.",
        "",
        f"Settings that decide who provides what: {settings}.",
        "",
        *(
            []
            if controls.settings.get("environment") == "prod"
            else [
                "This stack is not an environment that may hold account data (it holds no payment data, and a "
                "disposable stack",
                "omits by design a domain, Object Lock and subscribed alerts): its gaps say what it lacks to become "
                "one, not a finding.",
                "",
            ]
        ),
        f"Summary: {summary(controls)}.",
        "",
        "| Requirement | Status | Policy-pack rules | Outside the stack |",
        "|---|---|---|---|",
    ]
    for row in controls.rows:
        status = f"**{row.status}**" if row.status == "gap" else row.status
        rules = ", ".join(f"`{r}`" for r in row.rules) or "-"
        outside = "; ".join(sorted({o.by for o in row.outside})) or "-"
        lines.append(f"| {row.number} {row.title} | {status} | {rules} | {outside} |")
    for row in controls.rows:
        lines += ["", f"## {row.number} {row.title}: {row.status}", ""]
        for e in row.evidence:
            shown = f": {_shown(e.found)}" if e.found or e.holds else ""
            lines.append(f"- [{'x' if e.holds else ' '}] {e.claim}{shown}")
            lines.extend(f"  - **missing**: {m}" for m in e.missing)
        if not row.evidence:
            lines.append("- Nothing in the stack provides this.")
        if row.rules:
            lines.append(f"- Policy-pack rules keeping it: {', '.join(f'`{r}`' for r in row.rules)}")
        lines.extend(f"- Outside the stack ({o.by}): {o.what}" for o in row.outside)
    return "\n".join(lines) + "\n"
