"""The platform's security rules as CrossGuard policies.

Each policy names the resource, the property, the value found and the fix in every
violation. ``APPLIES_TO`` lists the resource types each policy inspects, so the tests can
prove none passes vacuously. Properties are camelCase, as the engine hands them over;
unknown values at preview are skipped by the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


def _public_ingress(args: ResourceValidationArgs) -> Iterator[Finding]:
    p, t = args.props, args.resource_type
    rules: list[tuple[Any, Any, list[Any]]] = []
    if t == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        rules.append((p.get("fromPort"), p.get("toPort"), [p.get("cidrIpv4"), p.get("cidrIpv6")]))
    elif t == "aws:ec2/securityGroup:SecurityGroup":
        for rule in _as_list(p.get("ingress")):
            rules.append(
                (
                    rule.get("fromPort"),
                    rule.get("toPort"),
                    [*_as_list(rule.get("cidrBlocks")), *_as_list(rule.get("ipv6CidrBlocks"))],
                )
            )
    for low, high, sources in rules:
        public = [s for s in sources if s in PUBLIC_CIDRS]
        if public and not (low == high and low in PUBLIC_PORTS):
            yield (
                f"ingress {public[0]} on ports {low}-{high}",
                public,
                "reference a security group or prefix list; only a load balancer's 80/443 may be public",
            )


# --------------------------------------------------------------------------- IAM and KMS


def _is_write(action: str) -> bool:
    verb = action.split(":", 1)[-1]
    return action not in UNSCOPABLE_ACTIONS and not verb.startswith(READ_ONLY_PREFIXES)


def _iam_wildcards(args: ResourceValidationArgs) -> Iterator[Finding]:
    p = args.props
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
        "No security group admits 0.0.0.0/0 or ::/0 except a load balancer's 80/443",
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/securityGroup:SecurityGroup"),
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
