"""Run the whole Pulumi program for a stack in-process, under Pulumi's mocks.

No Pulumi CLI, provider plugin or cloud credentials are involved: the program's
resource registrations and data-source calls are answered here, and everything
the program declares is recorded for tests and the offline plan.

What the mocks hide and this module surfaces (see shared/OFFLINE-TESTING.md):
resource options (protect, retain_on_delete, ignore_changes, dependencies) are read
off the raw registration request; warnings the program logs are collected; exports
must all resolve, or the run fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import functools
import gc
import hashlib
import json
import logging
import runpy
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource_runtime
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import ROOT, SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.settings import SettingsError

PROJECT_DIR = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
# IDs AWS publishes for CloudFront's managed policies (the same in every account).
MANAGED_CLOUDFRONT_POLICIES = {
    "Managed-CachingDisabled": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
    "Managed-AllViewerExceptHostHeader": "b689b0a8-53d0-40ab-baf2-68738e2966ac",
}
# Default (non opt-in) zones the mocks report per region; us-west-1 offers new accounts two.
ZONE_COUNTS = {"us-east-1": 6, "us-west-1": 2}
# Pulumi marks secret values with this signature key when it serialises them.
_SECRET_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"


class ProgramError(RuntimeError):
    """The program failed, or left an export unresolved, under the mocks.

    ``__cause__`` is what the program raised (e.g. a ``SettingsError``); ``resources``
    is what it had declared by then, so tests can prove a bad config declares nothing.
    """

    def __init__(self, message: str, resources: list[ResourceRecord]) -> None:
        super().__init__(message)
        self.resources = resources


@dataclass(frozen=True)
class ResourceRecord:
    """One registered resource as the engine would see it."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    """Inputs with camelCase keys at every depth; numbers are floats; secrets unwrapped."""
    secret_inputs: frozenset[str]
    """Top-level input keys whose value was marked secret."""
    parent: str
    provider: str
    protect: bool
    retain_on_delete: bool
    ignore_changes: tuple[str, ...]
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    id: str
    state: dict[str, Any]
    region: str = ""
    """Where AWS would create it: its own ``region`` input, else its provider's region (global
    resources such as IAM roles report the provider's region too)."""
    delete_before_replace: bool = False
    """A replacement deletes the old resource first (Pulumi's default creates the new one first)."""
    replace_on_changes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    """Earlier identities the engine treats as this resource (alias URNs, or specs as text)."""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """How long the engine waits for a create, update or delete (``create: "20m"``); empty: the provider's."""


@dataclass
class StackRun:
    """Everything one offline run of the program declared."""

    stack: str
    config: dict[str, str]
    resources: list[ResourceRecord]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str]
    warnings: list[str]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    call_providers: list[str] = field(default_factory=list)
    """The provider each data-source call went through ("" for the default provider)."""

    def of_type(self, type_: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> ResourceRecord:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} named {name!r}, found {[r.name for r in found]}")
        return found[0]

    def by_id(self, id_: str) -> ResourceRecord:
        for r in self.resources:
            if r.custom and r.id == id_:
                return r
        raise LookupError(id_)

    def setting(self, key: str) -> str:
        """The value of one of the project's config keys (``standbyRegion``), "" when unset."""
        return self.config.get(f"{project_name()}:{key}", "")

    def home(self) -> StackRun:
        """The stack's own region's site: everything but the standby site (the whole run without one)."""
        return self._site(standby=False)

    def standby(self) -> StackRun:
        """The standby site alone: its provider, every tier built through it and its data-source calls."""
        return self._site(standby=True)

    def _site(self, *, standby: bool) -> StackRun:
        urns = self._standby_urns()
        calls = [
            (call, provider)
            for call, provider in zip(self.calls, self.call_providers, strict=True)
            if (provider.rsplit("::", maxsplit=1)[0] in urns) == standby
        ]
        return dataclasses.replace(
            self,
            resources=[r for r in self.resources if (r.urn in urns) == standby],
            calls=[c for c, _ in calls],
            call_providers=[p for _, p in calls],
        )

    def _standby_urns(self) -> set[str]:
        """The standby region's provider, and every top-level tier whose resources all go through it."""
        region = self.setting("standbyRegion")
        providers = {
            r.urn for r in self.resources if r.type == "pulumi:providers:aws" and region and r.region == region
        }
        if not providers:
            return set()
        by_urn = {r.urn: r for r in self.resources}

        def top(record: ResourceRecord) -> str:
            while record.parent in by_urn:
                record = by_urn[record.parent]
            return record.urn

        sites: dict[str, set[bool]] = {}
        for r in self.resources:
            if r.custom and r.type != "pulumi:providers:aws":
                sites.setdefault(top(r), set()).add(r.provider.rsplit("::", maxsplit=1)[0] in providers)
        tiers = {urn for urn, flags in sites.items() if flags == {True}}
        return providers | {r.urn for r in self.resources if top(r) in tiers}

    def graph(self) -> list[dict[str, Any]]:
        """A JSON-ready, order-independent view of the graph, for comparisons and reports."""
        return sorted(
            (
                {
                    "urn": r.urn,
                    "type": r.type,
                    "name": r.name,
                    "parent": r.parent,
                    "inputs": {k: "[secret]" if k in r.secret_inputs else v for k, v in r.inputs.items()},
                    "protect": r.protect,
                    "retainOnDelete": r.retain_on_delete,
                    "ignoreChanges": list(r.ignore_changes),
                    "deleteBeforeReplace": r.delete_before_replace,
                    "replaceOnChanges": list(r.replace_on_changes),
                    "aliases": list(r.aliases),
                    "dependencies": sorted(r.dependencies),
                    # Only where set, so graphs recorded before timeouts were kept still compare.
                    **({"customTimeouts": r.custom_timeouts} if r.custom_timeouts else {}),
                }
                for r in self.resources
            ),
            key=lambda d: d["urn"],
        )


# --------------------------------------------------------------------------- config


class ConfigFileError(ValueError):
    """A project or stack file the offline run cannot use (invalid YAML, a secure value, not a mapping).

    The message is one line naming the file and, for a YAML error, the line.
    """


# libyaml's loader where PyYAML was built with it: the stack files are read on every run.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_YAML_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader, refusing a mapping that sets one key twice.

    YAML requires mapping keys to be unique, yet PyYAML (like the Pulumi CLI's YAML decoder) keeps
    the last value: a key set twice in a stack file would silently lose one of its values. Keys a
    merge (``<<: *anchor``) brings in may be overridden, as YAML intends."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"{key} is set twice, on line {first} and line {line} (YAML keeps only the last): delete one",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _read_yaml(path: Path) -> Any:
    """A YAML file, parsed once per content (runs read Pulumi.yaml and the stack file repeatedly)."""
    return copy.deepcopy(_parse_yaml(path, path.read_text()))


@functools.lru_cache(maxsize=32)
def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path.name} line {mark.line + 1}" if mark is not None else path.name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigFileError(f"{where}: invalid YAML: {problem}") from exc


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    return str(_read_yaml(project_dir / "Pulumi.yaml")["name"])


def _config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def read_stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """``Pulumi.<stack>.yaml`` as a mapping (``config``, ``secretsprovider``, ...).

    Raises ``FileNotFoundError`` naming the known stacks, or ``ConfigFileError`` in one line for
    invalid YAML, a key set twice (file, key and both lines) or a document that is not a mapping
    with a ``config:`` mapping."""
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise FileNotFoundError(
            f"no stack file {stack_file.name}; known stacks: {', '.join(known_stacks(project_dir))}"
        )
    document = _read_yaml(stack_file) or {}
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise ConfigFileError(f"{stack_file.name}: expected a mapping with a `config:` mapping of settings")
    return document


def stack_config(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    project_dir: Path = PROJECT_DIR,
    *,
    omit_secure: bool = False,
) -> dict[str, str]:
    """The config the CLI would hand the program: Pulumi.yaml defaults under the stack file.

    ``overrides`` keys may be short (``vpcCidr``) or full (``aws:region``); a value of
    ``None`` removes the key, to test what a missing setting does. A ``secure:`` value is refused
    (pass a test value in ``overrides``), or with ``omit_secure`` left out (checks made before the
    CLI, which alone can decrypt it, runs).
    """
    project = project_name(project_dir)
    declared = _read_yaml(project_dir / "Pulumi.yaml").get("config") or {}
    config: dict[str, str] = {}
    for key, decl in declared.items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(decl, dict) and "default" in decl:
            config[full] = _config_string(decl["default"])
        elif isinstance(decl, dict) and "value" in decl:
            config[full] = _config_string(decl["value"])
    for key, value in (read_stack_file(stack, project_dir).get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            if omit_secure:
                continue
            raise ConfigFileError(f"Pulumi.{stack}.yaml: {key} is a secure value: pass a test value in overrides")
        config[key] = _config_string(value)
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = _config_string(value)
    return config


def config_sources(
    stack: str, overrides: Mapping[str, Any] | None = None, project_dir: Path = PROJECT_DIR
) -> dict[str, str]:
    """Where each key's value comes from: ``--set`` (an override) or the stack file; the rest
    are Pulumi.yaml defaults."""
    project = project_name(project_dir)
    stack_file = f"Pulumi.{stack}.yaml"
    in_file = read_stack_file(stack, project_dir).get("config") or {}
    sources = {key: stack_file for key in in_file}
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if value is None:
            sources.pop(full, None)  # removed: missing, from nowhere
        else:
            sources[full] = "--set"
    return sources


def known_stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


# --------------------------------------------------------------------------- mocks


def _unwrap(value: Any, *, describe_assets: bool = True) -> Any:
    """Plain data: secrets unwrapped, assets described by content (their reprs carry addresses).

    Mock state keeps assets as they are (``describe_assets=False``): the SDK checks their types.
    """
    if not describe_assets and isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return value
    if isinstance(value, pulumi.FileAsset):
        path = Path(str(value.path))
        return {"fileAsset": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if isinstance(value, pulumi.StringAsset):
        return {"stringAsset": hashlib.sha256(str(value.text).encode()).hexdigest()}
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": {k: _unwrap(v) for k, v in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileArchive):
        return {"fileArchive": Path(str(value.path)).name}
    if isinstance(value, dict):
        if _SECRET_SIG in value and "value" in value:
            return _unwrap(value["value"], describe_assets=describe_assets)
        return {k: _unwrap(v, describe_assets=describe_assets) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, describe_assets=describe_assets) for v in value]
    return value


def _digest(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _partition(region: str) -> tuple[str, str]:
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


class PlatformMocks(pulumi_mocks.Mocks):
    """Answers like AWS would, deterministically: the same program gives the same state."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.partition, self.dns_suffix = _partition(region)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.call_providers: list[str] = []
        # The monitor runs each registration on a worker thread and calls new_resource on it;
        # this hands the inputs back to the monitor without deserialising them twice
        # (a second pass over a resource reference deadlocks the mock engine).
        self.local = threading.local()
        # Explicit AWS providers' regions by the id this class gave them: a resource or call that
        # names a provider is in that provider's region, not the stack's.
        self.provider_regions: dict[str, str] = {}

    def region_for(self, provider: str, inputs: Mapping[str, Any]) -> str:
        """The region a resource or call goes to: its ``region`` argument, else its provider's."""
        explicit = inputs.get("region")
        if explicit:
            return str(explicit)
        provider_id = provider.rsplit("::", maxsplit=1)[-1] if provider else ""
        return self.provider_regions.get(provider_id, self.region)

    # Data sources ----------------------------------------------------------
    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        self.call_providers.append(args.provider or "")
        region = self.region_for(args.provider or "", args.args)
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef"[: ZONE_COUNTS.get(region, 3)]
            return {
                "id": region,
                "region": region,
                "names": [f"{region}{x}" for x in letters],
                "zoneIds": [f"{region.replace('-', '')[:5]}-az{i + 1}" for i in range(len(letters))],
                "groupNames": [region] * len(letters),
            }, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "id": ACCOUNT_ID,
                "accountId": ACCOUNT_ID,
                "arn": f"arn:{self.partition}:iam::{ACCOUNT_ID}:user/offline",
                "userId": "AIDAOFFLINE",
            }, []
        if token == "aws:index/getRegion:getRegion":
            return {
                "id": region,
                "name": region,
                "region": region,
                "description": region,
                "endpoint": f"ec2.{region}.{self.dns_suffix}",
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {
                "id": self.partition,
                "partition": self.partition,
                "dnsSuffix": self.dns_suffix,
                "reverseDnsPrefix": ".".join(reversed(self.dns_suffix.split("."))),
            }, []
        if token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            name = args.args.get("name", "")
            return {"id": f"pl-{_digest(name, length=8)}", "name": name, "maxEntries": 55, "entries": []}, []
        if token in (
            "aws:cloudfront/getCachePolicy:getCachePolicy",
            "aws:cloudfront/getOriginRequestPolicy:getOriginRequestPolicy",
        ):
            name = args.args.get("name", "")
            return {"id": MANAGED_CLOUDFRONT_POLICIES.get(name, f"unknown-{name}"), "name": name}, []
        raise NotImplementedError(
            f"offline harness has no answer for data source {token}: add one to PlatformMocks.call"
        )

    # Resources -------------------------------------------------------------
    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.local.raw_inputs = args.inputs
        inputs = _unwrap(args.inputs, describe_assets=False)
        if not args.custom:
            return "", {}
        region = self.region_for(args.provider or "", inputs)
        module = args.typ.split(":")[1].split("/")[0] if args.typ.startswith("aws:") else args.typ.split(":")[0]
        physical = inputs.get("name") or f"{args.name}-{_digest(args.typ, args.name, length=7)}"
        id_ = f"{args.name}-{_digest(args.typ, args.name)}"
        state: dict[str, Any] = dict(inputs)
        state.setdefault("name", physical)
        state.setdefault("id", id_)
        state["arn"] = self._arn(args.typ, module, region, physical, id_)
        extra = self._extra_state(args.typ, args.name, inputs, id_, physical, region)
        id_ = str(extra.get("id", id_))
        state.update(extra)
        if args.typ == "pulumi:providers:aws":
            self.provider_regions[id_] = str(inputs.get("region") or self.region)
        # The engine marks these outputs secret (e.g. a random password's result); so do we.
        for key in getattr(self.local, "secret_outputs", ()):
            if key in state:
                state[key] = {_SECRET_SIG: _SECRET_VALUE_SIG, "value": state[key]}
        return id_, state

    def _arn(self, typ: str, module: str, region: str, physical: str, id_: str) -> str:
        p, acct = self.partition, ACCOUNT_ID
        resource = typ.rsplit(":", maxsplit=1)[-1]
        if module == "iam":
            return f"arn:{p}:iam::{acct}:{resource[0].lower() + resource[1:]}/{physical}"
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return f"arn:{p}:logs:{region}:{acct}:log-group:{physical}"
        if typ == "aws:s3/bucket:Bucket":
            return f"arn:{p}:s3:::{physical}"
        if typ == "aws:kms/key:Key":
            return f"arn:{p}:kms:{region}:{acct}:key/{id_}"
        if typ == "aws:kms/alias:Alias":
            return f"arn:{p}:kms:{region}:{acct}:{physical}"
        return f"arn:{p}:{module}:{region}:{acct}:{resource.lower()}/{physical}"

    def _extra_state(
        self, typ: str, name: str, inputs: dict[str, Any], id_: str, physical: str, region: str
    ) -> dict[str, Any]:
        if typ == "aws:kms/key:Key":
            return {"keyId": id_}
        if typ == "aws:ec2/vpc:Vpc":
            return {"defaultSecurityGroupId": f"{id_}-default-sg", "mainRouteTableId": f"{id_}-main-rt"}
        if typ == "aws:iam/role:Role":
            return {"uniqueId": f"AROA{_digest(name, length=16).upper()}"}
        if typ == "aws:ec2/eip:Eip":
            return {"publicIp": f"198.51.100.{int(_digest(name, length=2), 16) % 250 + 1}", "allocationId": id_}
        if typ == "aws:rds/cluster:Cluster":
            ident = inputs.get("clusterIdentifier", physical)
            return {
                "endpoint": f"{ident}.cluster-offline.{region}.rds.amazonaws.com",
                "readerEndpoint": f"{ident}.cluster-ro-offline.{region}.rds.amazonaws.com",
                "port": inputs.get("port", 3306),
                "arn": f"arn:{self.partition}:rds:{region}:{ACCOUNT_ID}:cluster:{ident}",
                "masterUserSecrets": [
                    {
                        "secretArn": (
                            f"arn:{self.partition}:secretsmanager:{region}:{ACCOUNT_ID}:secret:rds!cluster-{id_}"
                        ),
                        "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                        "secretStatus": "active",
                    }
                ],
            }
        if typ == "aws:rds/globalCluster:GlobalCluster":
            ident = inputs.get("globalClusterIdentifier", physical)
            return {
                "id": ident,
                "arn": f"arn:{self.partition}:rds::{ACCOUNT_ID}:global-cluster:{ident}",
                "endpoint": f"{ident}.global-offline.global.rds.amazonaws.com",
                "globalClusterResourceId": f"cluster-{_digest(ident, length=12)}",
            }
        if typ == "aws:secretsmanager/secret:Secret":
            prefix = inputs.get("namePrefix", "")
            secret_name = f"{prefix}{_digest(name, length=6)}" if prefix else physical
            return {
                "name": secret_name,
                "arn": f"arn:{self.partition}:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret_name}-AbCdEf",
            }
        if typ == "aws:secretsmanager/secretVersion:SecretVersion":
            return {"versionId": f"{_digest(name, length=8)}-0000-4000-8000-{_digest(name, 'v', length=12)}"}
        if typ == "aws:lambda/function:Function":
            arn = f"arn:{self.partition}:lambda:{region}:{ACCOUNT_ID}:function:{physical}"
            return {"arn": arn, "invokeArn": f"arn:{self.partition}:apigateway:{region}:lambda:path/{arn}/invocations"}
        if typ == "random:index/randomPassword:RandomPassword":
            return {"result": f"offline-{_digest(name, length=24)}", "bcryptHash": "offline"}
        if typ == "random:index/randomId:RandomId":
            return {"hex": _digest(name, length=16), "b64Url": _digest(name, length=11), "dec": "0"}
        if typ == "aws:lb/loadBalancer:LoadBalancer":
            suffix = f"app/{physical}/{_digest(name, length=16)}"
            return {
                "arn": f"arn:{self.partition}:elasticloadbalancing:{region}:{ACCOUNT_ID}:loadbalancer/{suffix}",
                "arnSuffix": suffix,
                "dnsName": f"{physical}-{_digest(name, length=10)}.{region}.elb.amazonaws.com",
                "zoneId": "Z32O12XQLNTSW2",
            }
        if typ == "aws:lb/targetGroup:TargetGroup":
            suffix = f"targetgroup/{physical}/{_digest(name, length=16)}"
            return {
                "arn": f"arn:{self.partition}:elasticloadbalancing:{region}:{ACCOUNT_ID}:{suffix}",
                "arnSuffix": suffix,
            }
        if typ == "aws:acm/certificate:Certificate":
            domain = inputs.get("domainName", "")
            return {
                "domainValidationOptions": [
                    {
                        "domainName": domain,
                        "resourceRecordName": f"_{_digest(domain, length=12)}.{domain}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": f"_{_digest(domain, 'v', length=12)}.acm-validations.aws.",
                    }
                ],
                "status": "ISSUED",
            }
        if typ == "aws:acm/certificateValidation:CertificateValidation":
            return {"certificateArn": inputs.get("certificateArn", "")}
        if typ == "aws:route53/record:Record":
            return {"fqdn": str(inputs.get("name", "")).rstrip(".")}
        if typ == "aws:s3/bucket:Bucket":
            # A bucket's id is its name (what bucket.id hands a lifecycle rule or a policy is the name).
            return {"id": physical, "bucket": physical, "bucketDomainName": f"{physical}.s3.amazonaws.com"}
        if typ == "aws:rds/clusterInstance:ClusterInstance":
            return {"identifier": physical}
        if typ == "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
            return {"arn": f"arn:{self.partition}:firehose:{region}:{ACCOUNT_ID}:deliverystream/{physical}"}
        if typ == "aws:sns/topic:Topic":
            return {"arn": f"arn:{self.partition}:sns:{region}:{ACCOUNT_ID}:{physical}"}
        if typ == "aws:ec2/launchTemplate:LaunchTemplate":
            return {"latestVersion": 1, "defaultVersion": 1}
        if typ == "aws:cloudfront/distribution:Distribution":
            dist_id = f"E{_digest(name, length=13).upper()}"
            return {
                "id": dist_id,
                "arn": f"arn:{self.partition}:cloudfront::{ACCOUNT_ID}:distribution/{dist_id}",
                "domainName": f"d{_digest(name, length=13)}.cloudfront.net",
                "hostedZoneId": "Z2FDTNDATAQYW2",
            }
        if typ == "aws:wafv2/webAcl:WebAcl":
            acl_name = inputs.get("name") or physical
            scope = "global" if inputs.get("scope") == "CLOUDFRONT" else "regional"
            return {
                "name": acl_name,
                "arn": f"arn:{self.partition}:wafv2:{region}:{ACCOUNT_ID}:{scope}/webacl/{acl_name}/{id_}",
            }
        if typ == "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination":
            return {"arn": f"arn:{self.partition}:logs:{region}:{ACCOUNT_ID}:delivery-destination:{physical}"}
        if typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            return {"prefixListId": f"pl-{_digest(name)}", "dnsEntries": [], "networkInterfaceIds": []}
        if typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            return {"versionId": _digest(name, "version", length=32)}
        if typ == "aws:signer/signingProfile:SigningProfile":
            # Terraform appends a 26-character unique suffix to name_prefix.
            profile = inputs.get("name") or f"{inputs.get('namePrefix', '')}{_digest(name, length=26)}"
            arn = f"arn:{self.partition}:signer:{region}:{ACCOUNT_ID}:/signing-profiles/{profile}"
            version = _digest(name, "version", length=10)
            return {"id": profile, "name": profile, "arn": arn, "version": version, "versionArn": f"{arn}/{version}"}
        if typ == "aws:signer/signingJob:SigningJob":
            # Signer writes a Lambda zip to <prefix><job id>.zip in the destination bucket.
            job_id = f"{_digest(name, length=8)}-0000-4000-8000-{_digest(name, 'job', length=12)}"
            destination = (inputs.get("destination") or {}).get("s3") or {}
            key = f"{destination.get('prefix', '')}{job_id}.zip"
            return {
                "id": job_id,
                "jobId": job_id,
                "signedObjects": [{"s3s": [{"bucket": destination.get("bucket", ""), "key": key}]}],
            }
        if typ == "aws:lambda/codeSigningConfig:CodeSigningConfig":
            config_id = f"csc-{_digest(name, length=17)}"
            return {
                "configId": config_id,
                "arn": f"arn:{self.partition}:lambda:{region}:{ACCOUNT_ID}:code-signing-config:{config_id}",
            }
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps what the stock mock monitor drops: parent, options and dependencies."""

    def __init__(self, mocks: PlatformMocks) -> None:
        super().__init__(mocks)
        self.platform_mocks = mocks
        self.records: list[ResourceRecord] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.platform_mocks.local.secret_outputs = tuple(request.additionalSecretOutputs)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw_inputs: dict[str, Any] = self.platform_mocks.local.raw_inputs
        registered = self.resources[response.urn]
        record = ResourceRecord(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            inputs=_unwrap(raw_inputs),
            secret_inputs=frozenset(k for k, v in raw_inputs.items() if isinstance(v, dict) and _SECRET_SIG in v),
            parent=request.parent,
            provider=request.provider,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            ignore_changes=tuple(request.ignoreChanges),
            dependencies=tuple(request.dependencies),
            property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
            id=registered.id,
            state=_unwrap(dict(registered.state)),
            region=self.platform_mocks.region_for(request.provider, raw_inputs) if request.custom else "",
            delete_before_replace=bool(request.deleteBeforeReplace),
            replace_on_changes=tuple(request.replaceOnChanges),
            aliases=(
                *request.aliasURNs,
                *(alias.urn or str(alias.spec).replace("\n", " ").strip() for alias in request.aliases),
            ),
            custom_timeouts={
                op: value
                for op in ("create", "update", "delete")
                if request.HasField("customTimeouts") and (value := getattr(request.customTimeouts, op))
            },
        )
        with self._lock:
            self.records.append(record)
        return response


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# --------------------------------------------------------------------------- run


def _reset_runtime() -> None:
    ROOT.set(None)
    pulumi.runtime.set_all_config({}, [])
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()


@contextlib.contextmanager
def _no_source_positions() -> Iterator[None]:
    """Skip the traceback Pulumi captures at every registration: the real engine shows it in
    errors, the mock monitor never reads it, and taking it is a tenth of an offline run."""
    original = pulumi_resource_runtime._get_stack_trace
    pulumi_resource_runtime._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        pulumi_resource_runtime._get_stack_trace = original


# Runs already made in this process, by everything that decides their result: the merged config,
# the project and the program's text (the component modules are imported once per process anyway).
_RUNS: dict[tuple[str, str, str, str], StackRun] = {}


def run_stack(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    project_dir: Path = PROJECT_DIR,
    program: Path | None = None,
    fresh: bool = False,
) -> StackRun:
    """Run ``__main__.py`` for ``stack`` offline and return everything it declared.

    The program is deterministic, so a run with the same config and program is answered from
    this process's earlier run (a copy); ``fresh`` runs it again regardless (to prove determinism).
    Raises ``ProgramError`` when the program raises (the error is its ``__cause__``) or
    leaves an export unresolved.
    """
    config = stack_config(stack, overrides, project_dir)
    source = program or project_dir / "__main__.py"
    key = (stack, json.dumps(config, sort_keys=True), str(project_dir), source.read_text())
    if not fresh and key in _RUNS:
        return copy.deepcopy(_RUNS[key])
    with _collector_paused():
        run = _run(stack, config, overrides, project_dir, source)
    _RUNS[key] = run
    return copy.deepcopy(run)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one run.

    A run allocates tens of thousands of short-lived asyncio tasks and outputs; the collector
    scanning them mid-run costs ~20% of the run (benchmarks/plan_benchmark.py). What they leave is
    collected normally once the run is over."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# A program that waits on an output nothing resolves never ends (neither does `pulumi up`): a run
# takes seconds, so a run still going after this long fails instead of hanging the suite.
RUN_TIMEOUT_SECONDS: float = 120


async def _bounded(run: Any, stack: str) -> None:
    try:
        await asyncio.wait_for(run, RUN_TIMEOUT_SECONDS)
    except TimeoutError:
        raise ProgramError(
            f"stack {stack}: the program did not finish in {RUN_TIMEOUT_SECONDS} s: something waits on an output "
            "nothing resolves (a deferred output never given?)",
            [],
        ) from None


def _run(
    stack: str, config: dict[str, str], overrides: Mapping[str, Any] | None, project_dir: Path, program: Path
) -> StackRun:
    region = config.get("aws:region", "us-east-1")
    project = project_name(project_dir)

    _reset_runtime()
    pulumi.runtime.set_all_config(config, [])
    mocks = PlatformMocks(region)
    monitor = RecordingMonitor(mocks)
    collector = _WarningCollector()
    logger = logging.getLogger(f"offline.{stack}")
    logger.propagate = False
    logger.handlers = [collector]
    logger.setLevel(logging.DEBUG)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, logger=logger, monitor=monitor)

    resolved: dict[str, Any] = {}
    secret: set[str] = set()
    unknown: list[str] = []

    def main() -> None:
        runpy.run_path(str(program), run_name="__main__")
        root = pulumi.runtime.get_root_resource()
        exports: dict[str, Any] = dict(getattr(root, "outputs", {}))

        async def resolve() -> None:
            for key, value in exports.items():
                out = pulumi.Output.from_input(value)
                if not await out.is_known():
                    unknown.append(key)
                    continue
                if await out.is_secret():
                    secret.add(key)
                resolved[key] = await out.future()

        _sync_await(resolve())

    try:
        with _no_source_positions():
            _sync_await(_bounded(run_pulumi_func(main), stack))
    except SettingsError as exc:
        # Say where each bad value came from: a --set override, the stack file, or a default.
        annotated = exc.with_sources(config_sources(stack, overrides, project_dir))
        raise ProgramError(f"stack {stack}: the program failed: {annotated}", list(monitor.records)) from annotated
    except Exception as exc:
        raise ProgramError(f"stack {stack}: the program failed: {exc}", list(monitor.records)) from exc
    finally:
        _reset_runtime()
    if unknown:
        raise ProgramError(
            f"stack {stack}: exports never resolved under the mocks: {', '.join(sorted(unknown))}",
            list(monitor.records),
        )

    return StackRun(
        stack=stack,
        config=config,
        resources=sorted(monitor.records, key=lambda r: r.urn),
        outputs=resolved,
        secret_outputs=frozenset(secret),
        warnings=list(collector.messages),
        calls=list(mocks.calls),
        call_providers=list(mocks.call_providers),
    )
