"""The platform's security rules as CrossGuard policies.

Each policy names the resource, the property, the value found and the fix in every
violation. ``APPLIES_TO`` lists the resource types each policy inspects, so the tests can
prove none passes vacuously. Properties are camelCase, as the engine hands them over;
unknown values at preview are skipped by the SDK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

Finding = tuple[str, Any, str]
"""(property, value found, fix)"""

REQUIRED_TAGS = ("Application", "CostCenter", "Environment", "ManagedBy")
TLS13_POLICY_PREFIX = "ELBSecurityPolicy-TLS13-"
CLOUDFRONT_MIN_TLS = ("TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025")
PUBLIC_CIDRS = ("0.0.0.0/0", "::/0")
PUBLIC_PORTS = (80, 443)
TCP = ("tcp", "6")
ALL_PROTOCOLS = ("-1", "all")
MAX_ROTATION_DAYS = 90
MIN_LOG_RETENTION_DAYS = 90
# Actions AWS offers no resource-level permissions for: "*" is their only valid Resource.
UNSCOPABLE_ACTIONS = frozenset({"secretsmanager:GetRandomPassword"})
READ_ONLY_PREFIXES = ("Get", "List", "Describe")
LOG_BUCKET_PURPOSE = "logs"
# Buckets whose objects are records that must survive mistakes: the transaction archive and the audit trail.
ARCHIVE_PURPOSES = ("transaction-archive", "audit-log-archive")
# The policies only prod enforces read this flag from the pack config (policypack/prod.json).
PROTECT_DATA_SCHEMA = PolicyConfigSchema(properties={"protectData": {"type": "boolean", "default": False}})
# prod-audit-trail reads this flag (policypack/prod.json turns it on once the stack declares its trail).
AUDIT_TRAIL_SCHEMA = PolicyConfigSchema(properties={"requireAuditTrail": {"type": "boolean", "default": False}})
TRAIL_TYPE = "aws:cloudtrail/trail:Trail"
READ, WRITE = "read", "write"
BOTH = frozenset({READ, WRITE})

APPLIES_TO: dict[str, tuple[str, ...]] = {}


def _message(name: str, type_: str, prop: str, found: Any, fix: str) -> str:
    return f"{name} ({type_}): {prop} is {json.dumps(found, default=str)}. Fix: {fix}"


def resource_policy(
    name: str,
    description: str,
    types: Sequence[str],
    check: Callable[[ResourceValidationArgs], Iterable[Finding]],
    *,
    severity: Severity = Severity.HIGH,
    config_schema: PolicyConfigSchema | None = None,
) -> ResourceValidationPolicy:
    APPLIES_TO[name] = tuple(types)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        for prop, found, fix in check(args):
            report(_message(args.name, args.resource_type, prop, found, fix), None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=severity,
        config_schema=config_schema,
    )


StackCheck = Callable[[Sequence[PolicyResource]], Iterable[tuple[PolicyResource, Finding]]]
ConfiguredStackCheck = Callable[[Sequence[PolicyResource], Mapping[str, Any]], Iterable[tuple[PolicyResource, Finding]]]


def stack_policy(
    name: str,
    description: str,
    types: Sequence[str],
    check: StackCheck,
    *,
    severity: Severity = Severity.HIGH,
) -> StackValidationPolicy:
    return configured_stack_policy(name, description, types, lambda resources, _: check(resources), severity=severity)


def configured_stack_policy(
    name: str,
    description: str,
    types: Sequence[str],
    check: ConfiguredStackCheck,
    *,
    severity: Severity = Severity.HIGH,
    config_schema: PolicyConfigSchema | None = None,
) -> StackValidationPolicy:
    """A stack policy whose check also gets the policy's config (``policypack/<stack>.json``)."""
    APPLIES_TO[name] = tuple(types)

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for resource, (prop, found, fix) in check(args.resources, args.get_config()):
            report(_message(resource.name, resource.resource_type, prop, found, fix), resource.urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=severity,
        config_schema=config_schema,
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _document(value: Any) -> dict[str, Any]:
    parsed = json.loads(value) if isinstance(value, str) else value
    return dict(parsed) if isinstance(parsed, Mapping) else {}


def _of_type(resources: Sequence[PolicyResource], type_: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type == type_]


def _depends_on(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    return any(dep.urn == target.urn for dep in resource.property_dependencies.get(prop, []))


# --------------------------------------------------------------------------- encryption at rest


def _cmk_encryption(args: ResourceValidationArgs) -> Iterator[Finding]:
    p, t = args.props, args.resource_type
    if t == "aws:rds/cluster:Cluster":
        if p.get("storageEncrypted") is not True:
            yield "storageEncrypted", p.get("storageEncrypted"), "set storage_encrypted=True"
        if not p.get("kmsKeyId"):
            yield "kmsKeyId", p.get("kmsKeyId"), "set kms_key_id to the database CMK"
    elif t == "aws:rds/clusterInstance:ClusterInstance":
        if p.get("performanceInsightsEnabled") and not p.get("performanceInsightsKmsKeyId"):
            yield "performanceInsightsKmsKeyId", None, "set performance_insights_kms_key_id to the database CMK"
    elif t in ("aws:secretsmanager/secret:Secret", "aws:cloudwatch/logGroup:LogGroup"):
        if not p.get("kmsKeyId"):
            yield "kmsKeyId", p.get("kmsKeyId"), "set kms_key_id to a customer-managed key"
    elif t == "aws:sns/topic:Topic":
        key = p.get("kmsMasterKeyId")
        if not key or str(key).startswith("alias/aws/"):
            yield "kmsMasterKeyId", key, "encrypt with a CMK whose policy lets CloudWatch publish"
    elif t == "aws:ec2/launchTemplate:LaunchTemplate":
        for mapping in _as_list(p.get("blockDeviceMappings")):
            ebs = mapping.get("ebs") or {}
            if str(ebs.get("encrypted")).lower() != "true" or not ebs.get("kmsKeyId"):
                yield (
                    f"blockDeviceMappings[{mapping.get('deviceName')}].ebs",
                    ebs,
                    "set encrypted='true' and kms_key_id to the EBS CMK",
                )


def _s3_cmk_encryption(resources: Sequence[PolicyResource]) -> Iterator[tuple[PolicyResource, Finding]]:
    buckets = _of_type(resources, "aws:s3/bucket:Bucket")
    for config in _of_type(
        resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ):
        bucket = next((b for b in buckets if _depends_on(config, "bucket", b)), None)
        log_bucket = bucket is not None and (bucket.props.get("tags") or {}).get("Purpose") == LOG_BUCKET_PURPOSE
        for rule in _as_list(config.props.get("rules")):
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            if default.get("sseAlgorithm") == "aws:kms" and default.get("kmsMasterKeyId"):
                continue
            if log_bucket and default.get("sseAlgorithm") == "AES256":
                continue  # ALB and S3 access logs cannot be written to SSE-KMS buckets
            yield (
                config,
                (
                    "rules[].applyServerSideEncryptionByDefault",
                    default,
                    "use sse_algorithm='aws:kms' with the storage CMK (SSE-S3 only on buckets tagged Purpose=logs)",
                ),
            )


# --------------------------------------------------------------------------- TLS in transit


def _aurora_tls(resources: Sequence[PolicyResource]) -> Iterator[tuple[PolicyResource, Finding]]:
    groups = _of_type(resources, "aws:rds/clusterParameterGroup:ClusterParameterGroup")
    for cluster in _of_type(resources, "aws:rds/cluster:Cluster"):
        group = next((g for g in groups if _depends_on(cluster, "dbClusterParameterGroupName", g)), None)
        if group is None:
            yield (
                cluster,
                (
                    "dbClusterParameterGroupName",
                    cluster.props.get("dbClusterParameterGroupName"),
                    "attach a cluster parameter group of this stack with require_secure_transport=ON",
                ),
            )
            continue
        params = {p.get("name"): str(p.get("value")) for p in _as_list(group.props.get("parameters"))}
        if params.get("require_secure_transport", "").upper() not in ("ON", "1"):
            yield (
                cluster,
                (
                    f"parameter group {group.name}: require_secure_transport",
                    params.get("require_secure_transport"),
                    "set require_secure_transport=ON",
                ),
            )
        versions = set(params.get("tls_version", "").split(","))
        if not versions or versions & {"TLSv1", "TLSv1.1"} or versions == {""}:
            yield (
                cluster,
                (
                    f"parameter group {group.name}: tls_version",
                    params.get("tls_version"),
                    "set tls_version=TLSv1.2,TLSv1.3",
                ),
            )


def _alb_tls(args: ResourceValidationArgs) -> Iterator[Finding]:
    p = args.props
    if args.resource_type == "aws:lb/loadBalancer:LoadBalancer":
        if p.get("dropInvalidHeaderFields") is not True:
            yield "dropInvalidHeaderFields", p.get("dropInvalidHeaderFields"), "set drop_invalid_header_fields=True"
    elif p.get("protocol") == "HTTPS" and not str(p.get("sslPolicy", "")).startswith(TLS13_POLICY_PREFIX):
        yield "sslPolicy", p.get("sslPolicy"), f"use a TLS 1.3 policy such as {TLS13_POLICY_PREFIX}1-2-2021-06"


def _cloudfront_tls(args: ResourceValidationArgs) -> Iterator[Finding]:
    p = args.props
    behaviors = [p.get("defaultCacheBehavior") or {}, *_as_list(p.get("orderedCacheBehaviors"))]
    for behavior in behaviors:
        if behavior.get("viewerProtocolPolicy") not in ("redirect-to-https", "https-only"):
            yield "viewerProtocolPolicy", behavior.get("viewerProtocolPolicy"), "use redirect-to-https"
    viewer = p.get("viewerCertificate") or {}
    if viewer.get("acmCertificateArn") and viewer.get("minimumProtocolVersion") not in CLOUDFRONT_MIN_TLS:
        yield (
            "viewerCertificate.minimumProtocolVersion",
            viewer.get("minimumProtocolVersion"),
            "set minimum_protocol_version='TLSv1.2_2021' or newer",
        )


def _bucket_policies(resources: Sequence[PolicyResource], bucket: PolicyResource) -> list[dict[str, Any]]:
    return [
        _document(p.props.get("policy"))
        for p in _of_type(resources, "aws:s3/bucketPolicy:BucketPolicy")
        if _depends_on(p, "bucket", bucket)
    ]


def _denies_insecure_transport(document: Mapping[str, Any]) -> bool:
    return any(
        s.get("Effect") == "Deny"
        and str((s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
        for s in _as_list(document.get("Statement"))
    )


def _s3_tls_only(resources: Sequence[PolicyResource]) -> Iterator[tuple[PolicyResource, Finding]]:
    for bucket in _of_type(resources, "aws:s3/bucket:Bucket"):
        if not any(_denies_insecure_transport(d) for d in _bucket_policies(resources, bucket)):
            yield (
                bucket,
                (
                    "bucket policy",
                    "no Deny on aws:SecureTransport=false",
                    "attach a BucketPolicy denying s3:* when aws:SecureTransport is false",
                ),
            )


# --------------------------------------------------------------------------- compute and network


def _imdsv2(args: ResourceValidationArgs) -> Iterator[Finding]:
    metadata = args.props.get("metadataOptions") or {}
    if metadata.get("httpTokens") != "required":
        yield "metadataOptions.httpTokens", metadata.get("httpTokens"), "set http_tokens='required' (IMDSv2 only)"
    if metadata.get("httpPutResponseHopLimit") != 1:
        yield (
            "metadataOptions.httpPutResponseHopLimit",
            metadata.get("httpPutResponseHopLimit"),
            "set http_put_response_hop_limit=1",
        )


@dataclass(frozen=True)
class IngressRule:
    """One ingress rule as AWS applies it: protocol, port range and sources."""

    protocol: str
    low: Any
    high: Any
    sources: tuple[str, ...]

    @property
    def admits(self) -> str:
        """``tcp 443-65535``; ``all protocols and ports (-1)``."""
        if self.protocol in ALL_PROTOCOLS:
            return f"all protocols and ports ({self.protocol})"
        low, high = (int(p) if isinstance(p, float) and p.is_integer() else p for p in (self.low, self.high))
        return f"{self.protocol} {low}-{high}"

    @property
    def one_web_port(self) -> bool:
        """Exactly TCP port 80 or exactly TCP port 443: what a public load balancer listens on."""
        return str(self.protocol).lower() in TCP and self.low == self.high and self.low in PUBLIC_PORTS


def ingress_rules(type_: str, props: Mapping[str, Any]) -> list[IngressRule]:
    """The ingress rules a security group resource declares, in any of the three ways AWS takes them:
    a standalone ingress rule, a ``SecurityGroupRule`` of type ingress, or a group's inline ``ingress``."""
    p = props
    if type_ == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        sources = tuple(s for s in (p.get("cidrIpv4"), p.get("cidrIpv6")) if s)
        return [IngressRule(str(p.get("ipProtocol")), p.get("fromPort"), p.get("toPort"), sources)]
    if type_ == "aws:ec2/securityGroupRule:SecurityGroupRule":
        if p.get("type") != "ingress":
            return []
        sources = (*_as_list(p.get("cidrBlocks")), *_as_list(p.get("ipv6CidrBlocks")))
        return [IngressRule(str(p.get("protocol")), p.get("fromPort"), p.get("toPort"), tuple(sources))]
    if type_ == "aws:ec2/securityGroup:SecurityGroup":
        return [
            IngressRule(
                str(rule.get("protocol")),
                rule.get("fromPort"),
                rule.get("toPort"),
                (*_as_list(rule.get("cidrBlocks")), *_as_list(rule.get("ipv6CidrBlocks"))),
            )
            for rule in _as_list(p.get("ingress"))
        ]
    return []


def public_ingress(type_: str, props: Mapping[str, Any]) -> list[IngressRule]:
    """The rules that admit the whole internet (0.0.0.0/0, ::/0) on anything but exactly TCP 80 or 443.

    A range that merely starts at 80 or 443 (443-65535) is not 443; protocol ``-1`` admits every
    port whatever the range says (AWS ignores the ports for it)."""
    return [
        rule
        for rule in ingress_rules(type_, props)
        if any(s in PUBLIC_CIDRS for s in rule.sources) and not rule.one_web_port
    ]


def _public_ingress(args: ResourceValidationArgs) -> Iterator[Finding]:
    for rule in public_ingress(args.resource_type, args.props):
        public = [s for s in rule.sources if s in PUBLIC_CIDRS]
        yield (
            f"ingress {public[0]} on {rule.admits}",
            public,
            "reference a security group or prefix list; only a load balancer's exact TCP ports 80 and 443 may be "
            "public (one rule each, from_port == to_port)",
        )


# --------------------------------------------------------------------------- IAM and KMS


def _is_write(action: str) -> bool:
    verb = action.split(":", 1)[-1]
    return action not in UNSCOPABLE_ACTIONS and not verb.startswith(READ_ONLY_PREFIXES)


def _iam_wildcards(args: ResourceValidationArgs) -> Iterator[Finding]:
    return iam_wildcards(args.props)


def iam_wildcards(p: Mapping[str, Any]) -> Iterator[Finding]:
    """What an IAM role or policy grants too widely: ``*`` actions, write actions on every resource."""
    documents = [_document(p.get("policy"))] if "policy" in p else []
    documents += [_document(i.get("policy")) for i in _as_list(p.get("inlinePolicies"))]
    for document in documents:
        for statement in _as_list(document.get("Statement")):
            if statement.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in _as_list(statement.get("Action"))]
            wild = [a for a in actions if a == "*" or a.endswith(":*")]
            if wild:
                yield f"Statement {statement.get('Sid', '?')}.Action", wild, "list the actions the role needs"
            if "*" in _as_list(statement.get("Resource")):
                writes = [a for a in actions if _is_write(a)]
                if writes:
                    yield (
                        f"Statement {statement.get('Sid', '?')}.Resource",
                        "*",
                        f"scope {', '.join(writes)} to the ARNs it acts on",
                    )


def _kms_rotation(args: ResourceValidationArgs) -> Iterator[Finding]:
    spec = args.props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT")
    if spec == "SYMMETRIC_DEFAULT" and args.props.get("enableKeyRotation") is not True:
        yield "enableKeyRotation", args.props.get("enableKeyRotation"), "set enable_key_rotation=True"


# --------------------------------------------------------------------------- S3, secrets, logs


def _s3_public_access_block(resources: Sequence[PolicyResource]) -> Iterator[tuple[PolicyResource, Finding]]:
    blocks = _of_type(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in _of_type(resources, "aws:s3/bucket:Bucket"):
        mine = [b for b in blocks if _depends_on(b, "bucket", bucket)]
        if not mine or not all(mine[0].props.get(f) is True for f in flags):
            found = {f: mine[0].props.get(f) for f in flags} if mine else None
            yield bucket, ("public access block", found, "add a BucketPublicAccessBlock with all four settings true")


def _rotation_days(rules: Mapping[str, Any]) -> int | None:
    if rules.get("automaticallyAfterDays"):
        return int(rules["automaticallyAfterDays"])
    expression = str(rules.get("scheduleExpression", ""))
    if expression.startswith("rate(") and expression.endswith("days)"):
        return int(expression[5:].split(maxsplit=1)[0])
    return None


def _secret_rotation(resources: Sequence[PolicyResource]) -> Iterator[tuple[PolicyResource, Finding]]:
    rotations = _of_type(resources, "aws:secretsmanager/secretRotation:SecretRotation")
    for secret in _of_type(resources, "aws:secretsmanager/secret:Secret"):
        mine = [r for r in rotations if _depends_on(r, "secretId", secret)]
        if not mine:
            yield secret, ("rotation", None, f"add a SecretRotation every {MAX_ROTATION_DAYS} days or less")
            continue
        days = _rotation_days(mine[0].props.get("rotationRules") or {})
        if days is None or days > MAX_ROTATION_DAYS:
            yield (
                secret,
                ("rotationRules", mine[0].props.get("rotationRules"), f"rotate at most every {MAX_ROTATION_DAYS} days"),
            )


def _log_retention(args: ResourceValidationArgs) -> Iterator[Finding]:
    days = args.props.get("retentionInDays")
    if days not in (None, 0) and int(days) < MIN_LOG_RETENTION_DAYS:
        yield "retentionInDays", days, f"keep logs at least {MIN_LOG_RETENTION_DAYS} days (PCI DSS 10.5.1)"


# --------------------------------------------------------------------------- protection, network, edge, tags


def _prod_protected(args: ResourceValidationArgs) -> Iterator[Finding]:
    if not args.get_config().get("protectData"):
        return
    p, t = args.props, args.resource_type
    if t == "aws:rds/cluster:Cluster":
        if p.get("deletionProtection") is not True:
            yield "deletionProtection", p.get("deletionProtection"), "set deletion_protection=True"
        if p.get("skipFinalSnapshot") is not False or not p.get("finalSnapshotIdentifier"):
            yield "skipFinalSnapshot", p.get("skipFinalSnapshot"), "take a final snapshot with a deterministic name"
    if t == "aws:s3/bucket:Bucket" and (p.get("tags") or {}).get("Purpose") not in ARCHIVE_PURPOSES:
        return
    if t == "aws:s3/bucket:Bucket" and p.get("objectLockEnabled") is not True:
        yield "objectLockEnabled", p.get("objectLockEnabled"), "enable S3 Object Lock on archive buckets"
    if not args.opts.protect:
        yield "Pulumi protect", False, "set ResourceOptions(protect=True)"


def _data_stores(resources: Sequence[PolicyResource]) -> list[PolicyResource]:
    """The Aurora clusters and the archive buckets: what a backup must be able to bring back."""
    archives = [b for b in _of_type(resources, "aws:s3/bucket:Bucket") if _is_archive(b)]
    return [*_of_type(resources, "aws:rds/cluster:Cluster"), *archives]


def _is_archive(bucket: PolicyResource) -> bool:
    return (bucket.props.get("tags") or {}).get("Purpose") in ARCHIVE_PURPOSES


def _vault_lock(resources: Sequence[PolicyResource], vault: PolicyResource) -> str:
    """The vault's Vault Lock mode: a lock with changeableForDays is in compliance mode, one without in governance."""
    locks = [
        lock
        for lock in _of_type(resources, "aws:backup/vaultLockConfiguration:VaultLockConfiguration")
        if _depends_on(lock, "backupVaultName", vault)
    ]
    if any(lock.props.get("changeableForDays") is not None for lock in locks):
        return "compliance"
    return "governance" if locks else "unlocked"


def _region(resource: PolicyResource) -> str | None:
    """Where AWS puts ``resource``: its own ``region``, else its provider's (None: the default provider's)."""
    provider = getattr(resource, "provider", None)
    return resource.props.get("region") or (provider.props.get("region") if provider is not None else None)


def _air_gapped_copies(resources: Sequence[PolicyResource], plan: PolicyResource) -> bool:
    """Whether every rule of ``plan`` copies to a logically air-gapped vault of this stack: one its
    ``rules`` depend on, named by the last part of a copy action's ``destinationVaultArn``."""
    gapped = {
        v.props.get("name")
        for v in _of_type(resources, "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault")
        if _depends_on(plan, "rules", v)
    }
    rules = _as_list(plan.props.get("rules"))
    return bool(gapped and rules) and all(
        any(
            str(copy.get("destinationVaultArn", "")).rsplit(":", 1)[-1].rsplit("/", 1)[-1] in gapped
            for copy in _as_list(rule.get("copyActions"))
        )
        for rule in rules
    )


def _backup_routes(resources: Sequence[PolicyResource], store: PolicyResource) -> list[tuple[str, bool]]:
    """Each selection -> plan -> vault that backs ``store`` up, and whether that route protects it: the
    selection, its plan and the vault the plan's rules target are in the store's region (AWS Backup
    backs up a resource only through a plan of its region), that vault is compliance-locked, and every
    rule also copies to a logically air-gapped vault (AWS-owned key: deleting a key of the account
    leaves that copy readable, which a compliance lock alone does not).

    Property dependencies are per top-level property: a plan's ``rules`` depend on its target vault
    and on its copy vaults alike, so the target is the one in the plan's region, named by a rule's
    ``targetVaultName``.
    """
    plans = _of_type(resources, "aws:backup/plan:Plan")
    vaults = _of_type(resources, "aws:backup/vault:Vault")
    here = _region(store)
    routes: list[tuple[str, bool]] = []
    for selection in _of_type(resources, "aws:backup/selection:Selection"):
        if not _depends_on(selection, "resources", store):
            continue
        mine = [p for p in plans if _depends_on(selection, "planId", p)]
        if not mine:
            routes.append((f"{selection.name} -> no plan of this stack", False))
        for plan in mine:
            named = {rule.get("targetVaultName") for rule in _as_list(plan.props.get("rules"))}
            targets = [
                v
                for v in vaults
                if _depends_on(plan, "rules", v) and _region(v) == _region(plan) and v.props.get("name") in named
            ]
            if not targets:
                routes.append((f"{selection.name} -> {plan.name} -> no vault of this stack", False))
            gapped = _air_gapped_copies(resources, plan)
            for vault in targets:
                lock = _vault_lock(resources, vault)
                regions = {_region(selection), _region(plan), _region(vault)}
                where = "" if regions == {here} else f", in {sorted(map(str, regions))} not the store's {here}"
                gap = "" if gapped else ", no air-gapped copy"
                routes.append(
                    (
                        f"{selection.name} -> {plan.name} -> {vault.name} ({lock}{where}{gap})",
                        lock == "compliance" and not where and gapped,
                    )
                )
    return routes


def _prod_backups_locked(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[PolicyResource, Finding]]:
    """Every store itself, replicas included: a global database's secondary and a replicated archive
    become the live writer and archive after a switchover or failover, so their source's backups
    are no exemption (the region holding them may be the one left)."""
    if not config.get("protectData"):
        return
    for store in _data_stores(resources):
        routes = _backup_routes(resources, store)
        if not any(locked for _, locked in routes):
            yield (
                store,
                (
                    "AWS Backup",
                    [route for route, _ in routes],
                    "select it by ARN in an AWS Backup plan of its own region whose vault there is locked in "
                    "compliance mode and whose every rule copies to a logically air-gapped vault "
                    "(components/between/backup.py)",
                ),
            )


# --------------------------------------------------------------------------- the audit trail

# An S3 object ARN prefix that names every object of one bucket: ``arn:aws:s3:::<bucket>/``.
_WHOLE_BUCKET = re.compile(r"arn:[a-z-]+:s3:::[^/*]+/")
_S3_OBJECT = "AWS::S3::Object"
# Advanced event selector fields that do not narrow which S3 object events are recorded.
_NEUTRAL_FIELDS = frozenset({"eventCategory", "resources.type", "resources.ARN", "readOnly", "eventSource"})


@dataclass(frozen=True)
class RecordedObjects:
    """One part of a trail's S3 data events: objects whose ARN starts with ``prefix`` (``""``: every
    object), except those the negative operators exclude, for reads, writes or both.

    ``own_logs`` is the key prefix the trail delivers its log files under: excluding it in a bucket
    (CloudTrail's own deliveries would otherwise be recorded as data events, delivered, recorded
    again: "Suppressing recursive events", CloudTrail User Guide) still records every other object."""

    prefix: str
    excluded: tuple[str, ...]
    modes: frozenset[str]
    own_logs: str = "AWSLogs/"

    def _excluded_from(self, objects: str) -> list[str]:
        return [x for x in self.excluded if x.startswith(objects) or objects.startswith(x)]

    def covers(self, bucket_arn: str) -> bool:
        """Every object of the bucket but, at most, the trail's own log files."""
        objects = f"{bucket_arn}/"
        own = objects + self.own_logs
        return objects.startswith(self.prefix) and all(x.startswith(own) for x in self._excluded_from(objects))

    def skips_own_logs(self, bucket_arn: str) -> bool:
        """Whether the trail's own log files in this bucket are left out."""
        return bool(self._excluded_from(f"{bucket_arn}/"))

    @property
    def whole_buckets(self) -> bool:
        """Every object of one bucket (or of every bucket), but at most the trail's own log files."""
        universal = self.prefix in ("", "arn:aws:s3", "arn:aws:s3:::")
        whole = universal or bool(_WHOLE_BUCKET.fullmatch(self.prefix))
        own = self.prefix + self.own_logs
        return whole and (
            not self.excluded if universal else all(x.startswith(own) for x in self._excluded_from(self.prefix))
        )


def _fields(selector: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(f.get("field")): f for f in _as_list(selector.get("fieldSelectors"))}


def _read_only_modes(field: Mapping[str, Any] | None) -> frozenset[str] | None:
    """``readOnly`` narrows to reads (``true``) or writes (``false``); absent, a selector records both."""
    if field is None:
        return BOTH
    if any(field.get(op) for op in ("notEquals", "startsWiths", "notStartsWiths", "endsWiths", "notEndsWiths")):
        return None  # not a shape CloudTrail documents for readOnly: counted as nothing
    values = {str(v).lower() for v in _as_list(field.get("equals"))}
    return frozenset({READ} if "true" in values else set()) | frozenset({WRITE} if "false" in values else set())


def recorded_objects(trail: Mapping[str, Any]) -> list[RecordedObjects]:
    """The S3 object data events a trail's inputs record, from advanced event selectors
    (``advancedEventSelectors[].fieldSelectors[]``: ``eventCategory`` = Data, ``resources.type`` =
    AWS::S3::Object, ``resources.ARN`` startsWith, ``readOnly``) or basic ones
    (``eventSelectors[].dataResources[]`` of type AWS::S3::Object, ``readWriteType``).

    Conservative: a selector narrowed by another field (``eventName``, ``userIdentity.arn`` ...), by
    ``equals``/``endsWith`` on the ARN, or by an ``eventSource`` other than S3 counts for nothing; an
    exclusion counts against a bucket unless it lies within the trail's own log files (``own_logs``)."""
    found: list[RecordedObjects] = []
    key_prefix = str(trail.get("s3KeyPrefix") or "").strip("/")
    own_logs = f"{key_prefix}/" if key_prefix else "AWSLogs/"
    for selector in _as_list(trail.get("advancedEventSelectors")):
        fields = _fields(selector)
        if _as_list((fields.get("eventCategory") or {}).get("equals")) != ["Data"]:
            continue
        if _as_list((fields.get("resources.type") or {}).get("equals")) != [_S3_OBJECT]:
            continue
        source = fields.get("eventSource")
        if set(fields) - _NEUTRAL_FIELDS or (
            source is not None and _as_list(source.get("equals")) != ["s3.amazonaws.com"]
        ):
            continue
        modes = _read_only_modes(fields.get("readOnly"))
        arn = fields.get("resources.ARN") or {}
        if not modes or any(arn.get(op) for op in ("equals", "endsWiths", "notEndsWiths")):
            continue
        excluded = tuple(str(x) for op in ("notStartsWiths", "notEquals") for x in _as_list(arn.get(op)))
        for prefix in _as_list(arn.get("startsWiths")) or ([""] if "startsWiths" not in arn else []):
            found.append(RecordedObjects(str(prefix), excluded, modes, own_logs))
    if trail.get("advancedEventSelectors"):
        return found  # CloudTrail uses one kind of selector per trail
    for selector in _as_list(trail.get("eventSelectors")):
        kind = selector.get("readWriteType", "All")
        modes = {"All": BOTH, "ReadOnly": frozenset({READ}), "WriteOnly": frozenset({WRITE})}.get(kind, frozenset())
        for resource in _as_list(selector.get("dataResources")):
            if resource.get("type") == _S3_OBJECT and modes:
                found += [RecordedObjects(str(v), (), modes, own_logs) for v in _as_list(resource.get("values"))]
    return found


def object_event_modes(trail: Mapping[str, Any], bucket_arn: str) -> frozenset[str]:
    """Reads, writes or both: what the trail records of every object of ``bucket_arn``."""
    return frozenset(m for part in recorded_objects(trail) if part.covers(bucket_arn) for m in part.modes)


def management_event_modes(trail: Mapping[str, Any]) -> frozenset[str]:
    """Which management events (read, write) a trail records: a trail without selectors records all
    of them; an advanced selector on ``eventCategory`` = Management narrowed only by ``readOnly``;
    a basic selector with ``includeManagementEvents`` (its default) and no excluded sources."""
    advanced = _as_list(trail.get("advancedEventSelectors"))
    basic = _as_list(trail.get("eventSelectors"))
    if not advanced and not basic:
        return BOTH
    modes: set[str] = set()
    for selector in advanced:
        fields = _fields(selector)
        if _as_list((fields.get("eventCategory") or {}).get("equals")) != ["Management"]:
            continue
        if set(fields) - {"eventCategory", "readOnly"}:
            continue
        modes |= _read_only_modes(fields.get("readOnly")) or set()
    for selector in [] if advanced else basic:
        if selector.get("includeManagementEvents", True) is False or selector.get("excludeManagementEventSources"):
            continue
        kind = selector.get("readWriteType", "All")
        modes |= {"All": BOTH, "ReadOnly": {READ}, "WriteOnly": {WRITE}}.get(kind, set())
    return frozenset(modes)


def _trail_settings(trail: PolicyResource) -> Iterator[Finding]:
    p = trail.props
    if p.get("isMultiRegionTrail") is not True:
        yield (
            "isMultiRegionTrail",
            p.get("isMultiRegionTrail"),
            "set is_multi_region_trail=True (the archives and their replicas live in every site's region)",
        )
    if p.get("enableLogFileValidation") is not True:
        yield "enableLogFileValidation", p.get("enableLogFileValidation"), "set enable_log_file_validation=True"
    if not p.get("kmsKeyId"):
        yield "kmsKeyId", p.get("kmsKeyId"), "encrypt the log files with the audit key (kms_key_id)"
    if p.get("enableLogging") is False:
        yield "enableLogging", False, "leave enable_logging at True: a stopped trail records nothing"


def _prod_audit_trail(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[PolicyResource, Finding]]:
    """With requireAuditTrail: a trail records read and write data events on every object of every
    archive bucket (the transaction and audit archives, replicas included), and every trail is
    multi-region, validates its log files, is KMS-encrypted and logging.

    A preview cannot see the buckets' names (AWS generates them), so a trail counts for an archive
    when its selectors were built from that bucket (a property dependency) and hold at least as
    many whole-bucket object prefixes, recorded for reads and writes, as buckets they were built from."""
    if not config.get("requireAuditTrail"):
        return
    trails = _of_type(resources, TRAIL_TYPE)
    buckets = _of_type(resources, "aws:s3/bucket:Bucket")
    for trail in trails:
        for finding in _trail_settings(trail):
            yield trail, finding
    for archive in (b for b in buckets if _is_archive(b)):
        if not any(_records_archive(trail, archive, buckets) for trail in trails):
            yield (
                archive,
                (
                    "CloudTrail data events",
                    [t.name for t in trails] or None,
                    "record read and write data events on every object of this bucket in the stack's trail "
                    "(advanced event selector: eventCategory Data, resources.type AWS::S3::Object, "
                    "resources.ARN startsWith the bucket's ARN + '/')",
                ),
            )


def _records_archive(trail: PolicyResource, archive: PolicyResource, buckets: Sequence[PolicyResource]) -> bool:
    parts = [part for part in recorded_objects(trail.props) if part.modes == BOTH and part.whole_buckets]
    if any(part.prefix in ("", "arn:aws:s3", "arn:aws:s3:::") for part in parts):
        return True  # every object of every bucket
    built_from = [
        b for b in buckets if any(_depends_on(trail, prop, b) for prop in ("advancedEventSelectors", "eventSelectors"))
    ]
    return archive in built_from and len({part.prefix for part in parts}) >= len(built_from)


def _vpc_flow_logs(resources: Sequence[PolicyResource]) -> Iterator[tuple[PolicyResource, Finding]]:
    flow_logs = _of_type(resources, "aws:ec2/flowLog:FlowLog")
    for vpc in _of_type(resources, "aws:ec2/vpc:Vpc"):
        mine = [f for f in flow_logs if _depends_on(f, "vpcId", vpc)]
        if not any(f.props.get("trafficType") == "ALL" for f in mine):
            yield (
                vpc,
                ("flow logs", [f.props.get("trafficType") for f in mine], "add a FlowLog with traffic_type='ALL'"),
            )


def _waf_on_cloudfront(args: ResourceValidationArgs) -> Iterator[Finding]:
    if not args.props.get("webAclId"):
        yield "webAclId", args.props.get("webAclId"), "attach a CLOUDFRONT-scope WAFv2 web ACL (created in us-east-1)"


def _default_tags(provider_props: Mapping[str, Any]) -> dict[str, Any]:
    tags = _document(provider_props.get("defaultTags")).get("tags")
    return dict(tags) if isinstance(tags, Mapping) else {}


def _required_tags(resources: Sequence[PolicyResource]) -> Iterator[tuple[PolicyResource, Finding]]:
    for resource in resources:
        if not resource.resource_type.startswith("aws:"):
            continue
        tags = _default_tags(resource.provider.props) if resource.provider else {}
        missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
        if missing:
            yield (
                resource,
                (
                    "provider default_tags",
                    {t: tags.get(t) for t in REQUIRED_TAGS},
                    f"create it through the stack's tagged provider (missing {', '.join(missing)})",
                ),
            )


# --------------------------------------------------------------------------- the pack

ENCRYPTED_TYPES = (
    "aws:rds/cluster:Cluster",
    "aws:rds/clusterInstance:ClusterInstance",
    "aws:secretsmanager/secret:Secret",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:sns/topic:Topic",
    "aws:ec2/launchTemplate:LaunchTemplate",
)

POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    resource_policy(
        "cmk-encryption-at-rest",
        "RDS, Secrets Manager, SNS, log groups and EBS volumes are encrypted with customer-managed keys",
        ENCRYPTED_TYPES,
        _cmk_encryption,
        severity=Severity.CRITICAL,
    ),
    stack_policy(
        "s3-cmk-encryption",
        "S3 buckets use SSE-KMS with a CMK; only log buckets (ALB/S3 access logs) may use SSE-S3",
        ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",),
        _s3_cmk_encryption,
        severity=Severity.CRITICAL,
    ),
    stack_policy(
        "aurora-tls-required",
        "Every Aurora cluster's parameter group enforces TLS 1.2+ (require_secure_transport)",
        ("aws:rds/cluster:Cluster",),
        _aurora_tls,
        severity=Severity.CRITICAL,
    ),
    resource_policy(
        "alb-tls13",
        "HTTPS listeners use a TLS 1.3 policy; load balancers drop invalid headers",
        ("aws:lb/listener:Listener", "aws:lb/loadBalancer:LoadBalancer"),
        _alb_tls,
    ),
    resource_policy(
        "cloudfront-https-only",
        "CloudFront redirects viewers to HTTPS and requires TLS 1.2 (2021) or newer with a custom certificate",
        ("aws:cloudfront/distribution:Distribution",),
        _cloudfront_tls,
    ),
    stack_policy(
        "s3-tls-only",
        "Every bucket's policy denies requests without TLS",
        ("aws:s3/bucket:Bucket",),
        _s3_tls_only,
    ),
    resource_policy(
        "imdsv2-required",
        "Instances use IMDSv2 only, with a hop limit of 1",
        ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"),
        _imdsv2,
        severity=Severity.CRITICAL,
    ),
    resource_policy(
        "no-public-ingress",
        "No security group admits 0.0.0.0/0 or ::/0 except on exactly TCP port 80 or 443 (a load balancer's)",
        (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            "aws:ec2/securityGroup:SecurityGroup",
        ),
        _public_ingress,
        severity=Severity.CRITICAL,
    ),
    resource_policy(
        "no-iam-wildcards",
        "IAM policies grant no * actions and no write action on every resource",
        ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/role:Role"),
        _iam_wildcards,
        severity=Severity.CRITICAL,
    ),
    resource_policy(
        "kms-rotation",
        "Symmetric customer-managed keys rotate automatically",
        ("aws:kms/key:Key",),
        _kms_rotation,
    ),
    stack_policy(
        "s3-public-access-block",
        "Every bucket has a public access block with all four settings on",
        ("aws:s3/bucket:Bucket",),
        _s3_public_access_block,
        severity=Severity.CRITICAL,
    ),
    stack_policy(
        "secret-rotation",
        f"Every secret is rotated at least every {MAX_ROTATION_DAYS} days",
        ("aws:secretsmanager/secret:Secret",),
        _secret_rotation,
    ),
    resource_policy(
        "log-retention",
        f"Log groups keep logs at least {MIN_LOG_RETENTION_DAYS} days",
        ("aws:cloudwatch/logGroup:LogGroup",),
        _log_retention,
    ),
    resource_policy(
        "prod-data-protected",
        "With protectData, the database and the archives (transactions, audit logs) cannot be deleted by accident",
        ("aws:rds/cluster:Cluster", "aws:s3/bucket:Bucket"),
        _prod_protected,
        severity=Severity.CRITICAL,
        config_schema=PROTECT_DATA_SCHEMA,
    ),
    configured_stack_policy(
        "prod-backups-locked",
        "With protectData, every data store (each Aurora cluster, each archive bucket, replicas included) is in an "
        "AWS Backup selection of its own region whose plan writes to a vault there locked in compliance mode and "
        "copies every rule to a logically air-gapped vault (AWS-owned key)",
        ("aws:rds/cluster:Cluster", "aws:s3/bucket:Bucket"),
        _prod_backups_locked,
        severity=Severity.CRITICAL,
        config_schema=PROTECT_DATA_SCHEMA,
    ),
    configured_stack_policy(
        "prod-audit-trail",
        "With requireAuditTrail, a CloudTrail trail records read and write data events on every object of every "
        "archive bucket (transactions, audit logs, replicas included); every trail is multi-region, validates its "
        "log files, is KMS-encrypted and logging",
        ("aws:s3/bucket:Bucket", TRAIL_TYPE),
        _prod_audit_trail,
        severity=Severity.CRITICAL,
        config_schema=AUDIT_TRAIL_SCHEMA,
    ),
    stack_policy(
        "vpc-flow-logs",
        "Every VPC records all traffic in flow logs",
        ("aws:ec2/vpc:Vpc",),
        _vpc_flow_logs,
    ),
    resource_policy(
        "waf-on-cloudfront",
        "Every CloudFront distribution is protected by a WAF web ACL",
        ("aws:cloudfront/distribution:Distribution",),
        _waf_on_cloudfront,
    ),
    stack_policy(
        "required-tags",
        "Every AWS resource is created through a provider whose default tags carry " + ", ".join(REQUIRED_TAGS),
        ("aws:ec2/vpc:Vpc",),
        _required_tags,
        severity=Severity.MEDIUM,
    ),
]
