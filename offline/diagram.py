"""The architecture picture, drawn from a recorded graph (never by hand), with Graphviz.

Layout: the edge (CloudFront, WAF, its certificate) on top; in the region, the VPC in three bands
(public, private, database subnets), each band one box per availability zone, zones left to right
in the same order in every band. What lives in a subnet is drawn in it: NAT gateways and Aurora
instances in their zone's subnet, the load balancer in the public band, the app instances (Auto
Scaling group) in the private band, the rotation function in the rotation band. Outside the VPC: the regional
services, the audit-log archive fed by its log groups through Firehose and by the stack's CloudTrail
trail (whose log group's metric filters the CIS alarms read), and per region one node
of its alarms, listing what they watch (a row per watched box, with its number of alarms) and
with one edge, to the topic they notify: an edge per watched box crossed the whole picture.
Nothing is drawn that the stack does not create (dev has no certificate, so no certificate node).
"""

from __future__ import annotations

import itertools
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import graphviz

from offline.harness import ResourceRecord, StackRun

TIERS = ("public", "private", "rotation", "database")
TIER_COLOURS = {"public": "#e8f4fd", "private": "#eaf7ea", "rotation": "#fffbe6", "database": "#fdf0e6"}
EDGE_REGION = "us-east-1"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TRAIL = "aws:cloudtrail/trail:Trail"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"


def tier_cluster(tier: str) -> str:
    return f"cluster_tier_{tier}"


def subnet_cluster(tier: str, zone: str) -> str:
    return f"cluster_{tier}_{zone}"


def subnet_node(tier: str, zone: str) -> str:
    return f"subnet-{tier}-{zone}"


def alarm_node(region: str) -> str:
    return f"alarms-{region}"


@dataclass
class _Drawing:
    """Which recorded resources each node stands for: alarms and topics find their nodes by them."""

    run: StackRun
    stands_for: dict[str, list[ResourceRecord]] = field(default_factory=lambda: defaultdict(list))
    titles: dict[str, str] = field(default_factory=dict)
    """What a node or cell is called where it is listed (its label's first line)."""

    def node(
        self, graph: graphviz.Digraph, node_id: str, text: str, records: Iterable[ResourceRecord], **attrs: str
    ) -> None:
        graph.node(node_id, text, **attrs)
        self.stands_for[node_id].extend(records)
        self.titles.setdefault(node_id, node_id if text.startswith("<") else text.splitlines()[0])

    def cell(self, node_id: str, port: str, records: Iterable[ResourceRecord], title: str) -> str:
        """A resource drawn as a cell of a node (an instance in its subnet); edges reach it as node:port."""
        self.stands_for[f"{node_id}:{port}"].extend(records)
        self.titles[f"{node_id}:{port}"] = title
        return port

    def identifiers(self) -> dict[str, str]:
        """Every id, name, ARN and identifier of a drawn resource, and the names of components
        whose own nodes are just one -> that node."""
        found: dict[str, str] = {}
        components: dict[str, set[str]] = defaultdict(set)
        for node_id, records in self.stands_for.items():
            for record in records:
                for value in _identifiers(record):
                    found.setdefault(value, node_id)
            owners = {record.parent for record in records}
            if len(owners) == 1:  # a node gathering several components' resources speaks for none
                components[owners.pop()].add(node_id)
        for component in self.run.resources:
            nodes = components.get(component.urn, set())
            if not component.custom and len(nodes) == 1:
                found.setdefault(component.name, next(iter(nodes)))
        return found


def _identifiers(record: ResourceRecord) -> Iterator[str]:
    yield record.id
    yield record.name
    for source in (record.state, record.inputs):
        for key in ("name", "arn", "arnSuffix", "identifier", "clusterIdentifier", "functionName"):
            value = source.get(key)
            if isinstance(value, str) and value:
                yield value


def _dimension_values(
    alarm: ResourceRecord, published: Mapping[tuple[str, str, str], str], region: str
) -> Iterator[str]:
    """What an alarm's metrics name: their dimensions' values and, for a metric a log metric filter
    publishes (no dimensions), that filter's id in the alarm's ``region`` (``published``: (region,
    namespace, metric) -> filter id: each site's filter publishes the same metric in its own region)."""
    yield from (str(v) for v in (alarm.inputs.get("dimensions") or {}).values())
    for query in alarm.inputs.get("metricQueries") or []:
        yield from (str(v) for v in ((query.get("metric") or {}).get("dimensions") or {}).values())
    metric = (region, str(alarm.inputs.get("namespace", "")), str(alarm.inputs.get("metricName", "")))
    if metric in published:
        yield published[metric]


def _rotation_filters(run: StackRun) -> list[ResourceRecord]:
    """The metric filters on the rotation function's log (its alarms are listed with the function)."""
    return [
        f
        for f in run.of_type(METRIC_FILTER)
        if (f.inputs.get("metricTransformation") or {}).get("namespace") == "Fintech/Rotation"
    ]


def _published(run: StackRun) -> dict[tuple[str, str, str], str]:
    """(region, namespace, metric) -> the id of the log metric filter that publishes it there."""
    found: dict[tuple[str, str, str], str] = {}
    for f in run.of_type(METRIC_FILTER):
        transformation = f.inputs.get("metricTransformation") or {}
        found[(_region(run, f), str(transformation.get("namespace")), str(transformation.get("name")))] = f.id
    return found


VAULT = "aws:backup/vault:Vault"


def _region(run: StackRun, record: ResourceRecord) -> str:
    """Where the resource is: its own region, else its provider's (the harness records both)."""
    return str(record.inputs.get("region") or record.region or run.config.get("aws:region", "?"))


def _label(*lines: Any) -> str:
    return "\n".join(str(line) for line in lines if line not in (None, ""))


def build(full: StackRun) -> graphviz.Digraph:
    region = full.config.get("aws:region", "?")
    # The stack region's site in detail; the standby site (if any) as a box of its own.
    run = full.home()
    dot = graphviz.Digraph(f"architecture-{run.stack}", format="svg")
    # remincross=false: a second, whole-graph pass of dot's crossing minimisation reorders the zones.
    dot.attr(rankdir="TB", fontname="Helvetica", fontsize="11", newrank="true", remincross="false", nodesep="0.3")
    dot.attr("node", shape="box", style="rounded,filled", fillcolor="white", fontname="Helvetica", fontsize="10")
    dot.attr("edge", fontname="Helvetica", fontsize="9")
    drawing = _Drawing(run)
    dot.node("users", "Clients", shape="ellipse")

    certificates = run.of_type("aws:acm/certificate:Certificate")
    with dot.subgraph(name="cluster_edge") as edge:
        edge.attr(label=f"Global edge ({EDGE_REGION})", style="dashed")
        for acl in run.of_type("aws:wafv2/webAcl:WebAcl"):
            rules = len(acl.inputs.get("rules", []))
            drawing.node(edge, "waf", f"WAF web ACL\n{rules} rules (rate limit + managed)", [acl], fillcolor="#fff4e5")
        for dist in run.of_type("aws:cloudfront/distribution:Distribution"):
            aliases = ", ".join(dist.inputs.get("aliases") or []) or "*.cloudfront.net"
            text = _label("CloudFront", aliases, dist.inputs.get("priceClass"))
            drawing.node(edge, "cdn", text, [dist], fillcolor="#f3e8fd")
        for cert in certificates:
            if _region(run, cert) == EDGE_REGION != region:
                text = f"ACM certificate\n{cert.inputs['domainName']}"
                drawing.node(edge, f"cert-{cert.name}", text, [cert], fillcolor="#fffbe6")
        if region != EDGE_REGION:
            _topic_node(run, drawing, edge, EDGE_REGION)

    with dot.subgraph(name="cluster_region") as reg:
        reg.attr(label=f"AWS region {region}", style="solid")
        with reg.subgraph(name="cluster_vpc") as net:
            net.attr(label=f"VPC {run.one('aws:ec2/vpc:Vpc').inputs['cidrBlock']}", style="rounded", color="#5b8def")
            zones = _vpc(run, drawing, net)
        _regional(run, drawing, reg, region)
        for cert in certificates:
            if f"cert-{cert.name}" not in drawing.stands_for:
                text = f"ACM certificate\n{cert.inputs['domainName']}"
                drawing.node(reg, f"cert-{cert.name}", text, [cert], fillcolor="#fffbe6")
        _topic_node(run, drawing, reg, region)

    standby = _standby_site(full, drawing, dot)
    _backup_copies(full, drawing, dot, region, standby)
    _align_zones(dot, zones, drawing.stands_for)
    _flows(run, drawing, dot)
    _replication_flows(full, drawing, dot)
    _alarms(full, drawing, dot)
    return dot


def _standby_site(full: StackRun, drawing: _Drawing, dot: graphviz.Digraph) -> graphviz.Digraph | None:
    """The standby region's copy of the platform, summarised: what runs there and what it replicates."""
    site = full.standby()
    if not site.resources:
        return None
    region, mode = full.setting("standbyRegion"), full.setting("standbyMode")
    box = graphviz.Digraph(name=f"cluster_standby_{region}")
    box.attr(label=f"AWS region {region} (standby, {mode})", style="dashed", color="#d9534f")
    (vpc,) = site.of_type("aws:ec2/vpc:Vpc")
    drawing.node(
        box, "standby-vpc", f"VPC {vpc.inputs['cidrBlock']}\n(same tiers, own keys)", [vpc], fillcolor="#f5f5f5"
    )
    instances = site.of_type("aws:rds/clusterInstance:ClusterInstance")
    clusters = site.of_type("aws:rds/cluster:Cluster")
    text = _label(
        "Aurora secondary cluster", f"{len(instances)} instance(s)" if instances else "headless (no instance)"
    )
    drawing.node(box, "standby-aurora", text, [*clusters, *instances], shape="cylinder", fillcolor="#eef2f7")
    for bucket in site.of_type("aws:s3/bucket:Bucket"):
        purpose = (bucket.inputs.get("tags") or {}).get("Purpose", "bucket")
        drawing.node(box, f"standby-s3-{purpose}", f"S3 {purpose}", [bucket], shape="cylinder", fillcolor="#eef2f7")
    for alb in site.of_type("aws:lb/loadBalancer:LoadBalancer"):
        drawing.node(box, "standby-alb", "Application Load Balancer", [alb], fillcolor="#e8f0fe")
    for asg in site.of_type("aws:autoscaling/group:Group"):
        text = _label("Auto Scaling group", f"min {int(asg.inputs['minSize'])}, max {int(asg.inputs['maxSize'])}")
        drawing.node(box, "standby-asg", text, [asg], fillcolor="#e8f0fe")
    for stream in site.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"):
        text = "Kinesis Data Firehose\n(audit-log archive, KMS)"
        drawing.node(box, "standby-firehose", text, [stream], fillcolor="#f5f5f5")
    for function in site.of_type("aws:lambda/function:Function"):
        text = "Rotation Lambda\n(the copies here, once\na failover promotes them)"
        drawing.node(box, "standby-rotation", text, [function, *_rotation_filters(site)], fillcolor="#fffbe6")
    _topic_node(site, drawing, box, region)
    return box


def _replication_flows(full: StackRun, drawing: _Drawing, dot: graphviz.Digraph) -> None:
    """Aurora's storage-level replication and S3's between the sites, and the origin name's failover."""
    drawn = drawing.stands_for
    if "aurora" in drawn and "standby-aurora" in drawn:
        dot.edge("aurora", "standby-aurora", label="Aurora Global Database", style="bold", color="#d9534f")
    if (
        "rotation" in drawn
        and "standby-aurora" in drawn
        and full.of_type("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    ):
        dot.edge("rotation", "standby-aurora", label="VPC peering\n(rotation subnets only)", style="dashed")
    sources = {
        str(c.inputs.get("bucket")) for c in full.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    }
    replicated = {
        (b.inputs.get("tags") or {}).get("Purpose")
        for b in full.of_type("aws:s3/bucket:Bucket")
        if {b.id, str(b.state.get("bucket", ""))} & sources
    }
    for purpose in sorted(p for p in replicated if p and f"s3-{p}" in drawn and f"standby-s3-{p}" in drawn):
        dot.edge(
            f"s3-{purpose}",
            f"standby-s3-{purpose}",
            label="S3 replication (RTC 15 min)",
            dir="both",
            style="bold",
            color="#d9534f",
        )
    records = [r for r in full.of_type("aws:route53/record:Record") if r.inputs.get("failoverRoutingPolicies")]
    # Drawn with the home site alone too: its health check's alarm lists it.
    if records and "alb" in drawn:
        name = records[0].inputs["name"]
        checks = full.of_type("aws:route53/healthCheck:HealthCheck")
        paths = ", ".join(sorted({str(c.inputs.get("resourcePath")) for c in checks}))
        text = _label("Route 53 failover", name, f"{len(checks)} HTTPS health checks on {paths}")
        drawing.node(dot, "origin-failover", text, [*records, *checks], fillcolor="#fff4e5")
        if "cdn" in drawn:
            dot.edge("cdn", "origin-failover", label="resolves the origin", style="dashed")
        home = full.config.get("aws:region")
        node_of = {
            str(lb.state.get("dnsName")): "alb" if lb.region == home else "standby-alb"
            for lb in full.of_type("aws:lb/loadBalancer:LoadBalancer")
        }
        for record in records:
            (alias,) = record.inputs.get("aliases") or [{}]
            role = record.inputs["failoverRoutingPolicies"][0]["type"]
            if node_of.get(alias.get("name")) in drawn:
                dot.edge("origin-failover", node_of[alias["name"]], label=role, style="dashed", color="#d9534f")


def _vpc(run: StackRun, drawing: _Drawing, net: graphviz.Digraph) -> list[str]:
    """The three bands of subnets, one subnet per zone; returns the zones in drawing order.

    A subnet is one node whose label lists what is placed in it (NAT gateway, Aurora instances,
    each a port edges can reach): dot keeps a band's nodes in the order of its invisible flat
    edges, but not clusters nested in a cluster.
    """
    subnets: dict[str, dict[str, ResourceRecord]] = defaultdict(dict)
    for record in run.of_type("aws:ec2/subnet:Subnet"):
        subnets[record.inputs["tags"]["Tier"]][str(record.inputs["availabilityZone"])] = record
    zones = sorted({zone for by_zone in subnets.values() for zone in by_zone})
    nats = {str(n.inputs["subnetId"]): n for n in run.of_type("aws:ec2/natGateway:NatGateway")}
    instances: dict[str, list[ResourceRecord]] = defaultdict(list)
    for instance in run.of_type("aws:rds/clusterInstance:ClusterInstance"):
        instances[str(instance.inputs.get("availabilityZone", ""))].append(instance)
    for tier in TIERS:
        with net.subgraph(name=tier_cluster(tier)) as band:
            band.attr(label=f"{tier} subnets", style="rounded,filled", fillcolor=TIER_COLOURS[tier], color="#aaaaaa")
            _shared(run, drawing, band, tier)
            row = [zone for zone in zones if zone in subnets[tier]]
            for zone in row:
                subnet, node_id = subnets[tier][zone], subnet_node(tier, zone)
                cells = []
                if tier == "public" and subnet.id in nats:
                    port = drawing.cell(node_id, "nat", [nats[subnet.id]], f"NAT gateway ({zone})")
                    cells.append((port, "NAT gateway", "#f5f5f5"))
                for instance in instances[zone] if tier == "database" else []:
                    number = instance.name.rsplit("-", 1)[-1]
                    port = drawing.cell(node_id, f"instance-{number}", [instance], f"Aurora instance {number} ({zone})")
                    text = f"Aurora instance {number}<BR/>{escape(str(instance.inputs['instanceClass']))}"
                    cells.append((port, text, TIER_COLOURS["database"]))
                label = _subnet_label(zone, f"{tier} {subnet.inputs['cidrBlock']}", cells)
                drawing.node(band, node_id, label, [subnet], fillcolor="white", color="#999999", margin="0.05")
            with band.subgraph() as same:
                same.attr(rank="same")
                for left, right in itertools.pairwise(row):
                    same.edge(subnet_node(tier, left), subnet_node(tier, right), style="invis")
    return zones


def _subnet_label(zone: str, title: str, cells: list[tuple[str, str, str]]) -> str:
    """An HTML-like label: the zone, the subnet, then one boxed cell per resource placed in it."""
    rows = [f'<TR><TD BORDER="0"><B>{escape(zone)}</B></TD></TR>', f'<TR><TD BORDER="0">{escape(title)}</TD></TR>']
    rows += [f'<TR><TD PORT="{port}" BGCOLOR="{colour}">{text}</TD></TR>' for port, text, colour in cells]
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="3" CELLPADDING="4">{"".join(rows)}</TABLE>>'


def _shared(run: StackRun, drawing: _Drawing, band: graphviz.Digraph, tier: str) -> None:
    """What spans a band's subnets: the load balancer; the app instances, the rotation function and
    the interface endpoints; the Aurora cluster."""
    if tier == "public":
        listeners = sorted(int(x.inputs["port"]) for x in run.of_type("aws:lb/listener:Listener"))
        drawing.node(
            band,
            "alb",
            f"Application Load Balancer\nlisteners {', '.join(map(str, listeners))}\nCloudFront prefix list only",
            [*run.of_type("aws:lb/loadBalancer:LoadBalancer"), *run.of_type("aws:lb/targetGroup:TargetGroup")],
        )
    elif tier == "private":
        asg = run.one("aws:autoscaling/group:Group")
        template = run.one("aws:ec2/launchTemplate:LaunchTemplate")
        drawing.node(
            band,
            "asg",
            f"App instances (Auto Scaling group)\n{template.inputs['instanceType']} x "
            f"{int(asg.inputs['minSize'])}-{int(asg.inputs['maxSize'])}\nIMDSv2, encrypted gp3",
            [asg, template],
        )
        endpoints = [
            e for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs.get("vpcEndpointType") == "Interface"
        ]
        if endpoints:
            names = sorted(str(e.inputs["serviceName"]).rsplit(".", 1)[-1] for e in endpoints)
            text = _label("Interface endpoints", ", ".join(names[:3]), ", ".join(names[3:]))
            drawing.node(band, "endpoints", text, endpoints, fillcolor="#f5f5f5")
    elif tier == "rotation":
        functions = [*run.of_type("aws:lambda/function:Function"), *_rotation_filters(run)]
        text = "Rotation Lambda\n(alternating users; routes to the\nother region's database if peered)"
        drawing.node(band, "rotation", text, functions, fillcolor="#fffbe6")
    else:
        cluster = run.one("aws:rds/cluster:Cluster")
        version = str(cluster.inputs["engineVersion"]).split("mysql_aurora.")[-1]
        drawing.node(band, "aurora", f"Aurora MySQL {version} cluster\nTLS only, KMS", [cluster])


def _align_zones(dot: graphviz.Digraph, zones: list[str], drawn: Mapping[str, object]) -> None:
    """Each zone's three subnets in one column; a band's shared resources above its subnets.

    Shared resources sit below the previous band's subnets, so no two bands share a rank (bands
    sharing one are drawn side by side, not stacked).
    """
    shared = {"public": ["alb"], "private": ["asg", "endpoints"], "rotation": ["rotation"], "database": ["aurora"]}
    for previous, tier in zip((None, *TIERS), TIERS, strict=False):
        for node_id in (n for n in shared[tier] if n in drawn):
            for zone in zones:
                if previous is not None and subnet_node(previous, zone) in drawn:
                    dot.edge(subnet_node(previous, zone), node_id, style="invis")
                if subnet_node(tier, zone) in drawn:
                    dot.edge(node_id, subnet_node(tier, zone), style="invis")
    for zone in zones:
        for upper, lower in itertools.pairwise(TIERS):
            if subnet_node(upper, zone) in drawn and subnet_node(lower, zone) in drawn:
                dot.edge(subnet_node(upper, zone), subnet_node(lower, zone), style="invis", weight="1000")


def _regional(run: StackRun, drawing: _Drawing, reg: graphviz.Digraph, region: str) -> None:
    drawing.node(
        reg,
        "secret",
        "Secrets Manager\napp credential (30-day rotation)",
        run.of_type("aws:secretsmanager/secret:Secret"),
        fillcolor="#fffbe6",
    )
    for bucket in run.of_type("aws:s3/bucket:Bucket"):
        purpose = (bucket.inputs.get("tags") or {}).get("Purpose", "bucket")
        lock = "\n+ Object Lock" if bucket.inputs.get("objectLockEnabled") else ""
        text = f"S3 {purpose}{lock}"
        drawing.node(reg, f"s3-{purpose}", text, [bucket], shape="cylinder", fillcolor="#eef2f7")
    filters = run.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    streams = run.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    archived = {str(f.inputs["logGroup"]) for f in filters}
    groups = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs.get("name") in archived]
    if groups:
        names = sorted(str(g.inputs["name"]) for g in groups)
        drawing.node(reg, "log-groups", _label("CloudWatch log groups", *names), groups, fillcolor="#f5f5f5")
    for stream in streams:
        drawing.node(reg, "firehose", "Kinesis Data Firehose\n(audit-log archive, KMS)", [stream], fillcolor="#f5f5f5")
    for trail in run.of_type(TRAIL):
        # The trail, its log group and the metric filters the CIS alarms read (they watch the trail).
        group = str(trail.inputs.get("cloudWatchLogsGroupArn", "")).removesuffix(":*")
        groups = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.state.get("arn") == group]
        text = _label(
            "CloudTrail trail (multi-Region, validated, KMS)",
            f"{len(trail.inputs.get('advancedEventSelectors') or [])} event selectors",
            *(f"log group {g.inputs.get('name')}" for g in groups),
        )
        drawing.node(reg, "trail", text, [trail, *groups, *run.of_type(METRIC_FILTER)], fillcolor="#f5f5f5")
    vaults = [v for v in run.of_type(VAULT) if _region(run, v) == region]
    if vaults:
        plans = run.of_type("aws:backup/plan:Plan")
        rules = [
            f"{r['ruleName']}: {int(r['lifecycle']['deleteAfter'])} d"
            for p in plans
            for r in p.inputs.get("rules") or []
        ]
        text = _label("AWS Backup vault", _lock_label(run, vaults[0]), *rules, "restore-tested")
        # The rules that carry failed backup, copy and restore jobs, plan, vault and lock changes and
        # the changes of the keys the points depend on to the alert topic belong to the vault.
        notices = _backup_notices(run)
        others = [*plans, *run.of_type("aws:backup/selection:Selection"), *notices]
        drawing.node(reg, "backup-vault", text, [*vaults, *others], shape="cylinder", fillcolor="#e8f5e9")


def _backup_notices(run: StackRun) -> list[ResourceRecord]:
    """The EventBridge rules of a site that notify AWS Backup's and its keys' events (they exist with backups)."""
    return [
        rule
        for rule in run.of_type("aws:cloudwatch/eventRule:EventRule")
        if any(f'"{source}"' in str(rule.inputs.get("eventPattern")) for source in ("aws.backup", "aws.kms"))
    ]


def _lock_label(run: StackRun, vault: ResourceRecord) -> str:
    locks = [
        lock
        for lock in run.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
        if lock.inputs.get("backupVaultName") == vault.inputs.get("name") and _region(run, lock) == _region(run, vault)
    ]
    if not locks:
        return "no Vault Lock, KMS"
    mode = "compliance" if locks[0].inputs.get("changeableForDays") else "governance"
    return f"Vault Lock ({mode}), KMS"


def _backup_copies(
    full: StackRun, drawing: _Drawing, dot: graphviz.Digraph, region: str, standby: graphviz.Digraph | None
) -> None:
    """Each vault backups are copied to, in its own region's box. The standby's also holds the standby
    site's own backups (each site backs up in its region): drawn in its box, with its plan, selection
    and the rules that report its jobs."""
    run = full.home()
    standby_region = run.setting("standbyRegion")
    for vault in run.of_type(VAULT):
        where = _region(run, vault)
        if where == region:
            continue
        if standby is not None and where == standby_region:
            own = [
                r
                for kind in ("aws:backup/plan:Plan", "aws:backup/selection:Selection")
                for r in run.of_type(kind)
                if _region(run, r) == where
            ]
            notices = _backup_notices(full.standby())
            text = _label("AWS Backup vault", _lock_label(run, vault), "the standby's backups + copies")
            drawing.node(
                standby, "standby-backup-vault", text, [vault, *own, *notices], shape="cylinder", fillcolor="#e8f5e9"
            )
            continue
        text = _label("AWS Backup vault (copies)", _lock_label(run, vault))
        with dot.subgraph(name=f"cluster_backup_{where}") as copy:
            copy.attr(label=f"AWS region {where} (backup copies)", style="dashed")
            drawing.node(copy, f"backup-copy-{where}", text, [vault], shape="cylinder", fillcolor="#e8f5e9")
    if standby is not None:
        dot.subgraph(standby)


def _topic_node(run: StackRun, drawing: _Drawing, graph: graphviz.Digraph, region: str) -> None:
    """The alert topic of one region (its alarms are drawn last, once everything they watch is)."""
    topics = [t for t in run.of_type("aws:sns/topic:Topic") if _region(run, t) == region]
    if topics:
        drawing.node(graph, f"sns-{region}", f"SNS alert topic\n(KMS, {region})", topics, fillcolor="#f5f5f5")


def _alarms(full: StackRun, drawing: _Drawing, dot: graphviz.Digraph) -> None:
    """Per site and region, one node of its alarms: a row per box they watch (found by the metric
    dimensions, in drawing order) with its number of alarms, and an edge to the topic they notify.

    Each node goes into its region's box (a DOT subgraph reopened by name). The stack region's
    alarms watch its own site's boxes, the standby's its own (``standby-``): a replication alarm names
    both ends' buckets."""
    known = drawing.identifiers()
    # A name two regions share (each site's vault) is the node of the alarm's own region first.
    regional = {
        (_region(full, record), value): node_id
        for node_id, records in drawing.stands_for.items()
        for record in records
        for value in _identifiers(record)
    }
    home, standby_region = full.config.get("aws:region", "?"), full.setting("standbyRegion")
    boxes = {home: "cluster_region", EDGE_REGION: "cluster_edge" if home != EDGE_REGION else "cluster_region"}
    sites = [(full.home(), False, boxes)]
    if standby_region and full.standby().resources:
        sites.append((full.standby(), True, {standby_region: f"cluster_standby_{standby_region}"}))
    order = {node_id: n for n, node_id in enumerate(drawing.stands_for)}
    published = _published(full)
    for site, standby, regions in sites:
        by_region: dict[str, list[ResourceRecord]] = defaultdict(list)
        for alarm in site.of_type(ALARM):
            by_region[_region(site, alarm)].append(alarm)
        for region, alarms in sorted(by_region.items()):
            watched: Counter[str] = Counter()
            for alarm in alarms:
                found = (regional.get((region, v)) or known.get(v) for v in _dimension_values(alarm, published, region))
                targets = {node for node in found if node is not None and node.startswith("standby-") == standby}
                watched.update(targets or {""})
            rows = sorted(watched.items(), key=lambda item: order.get(item[0], len(order)))
            with dot.subgraph(name=regions.get(region, "cluster_region")) as box:
                drawing.node(box, alarm_node(region), _alarm_label(region, len(alarms), rows, drawing), alarms)
            for topic in sorted(
                {known[arn] for a in alarms for arn in a.inputs.get("alarmActions") or [] if arn in known}
            ):
                dot.edge(alarm_node(region), topic, label="notify", style="dashed")


def _alarm_label(region: str, count: int, rows: list[tuple[str, int]], drawing: _Drawing) -> str:
    """A table: the region's alarms, then what they watch (PORT: the watched node), how many each."""
    cells = [
        f'<TR><TD ALIGN="LEFT" PORT="{escape(target)}">{escape(drawing.titles.get(target, target))}</TD>'
        f'<TD ALIGN="RIGHT">{n}</TD></TR>'
        if target
        else f'<TR><TD ALIGN="LEFT">nothing drawn</TD><TD ALIGN="RIGHT">{n}</TD></TR>'
        for target, n in rows
    ]
    head = f'<TR><TD COLSPAN="2" BORDER="0"><B>CloudWatch alarms</B>: {count} in {escape(region)}</TD></TR>'
    watch = '<TR><TD ALIGN="LEFT" BORDER="0"><I>watching</I></TD><TD ALIGN="RIGHT" BORDER="0"><I>alarms</I></TD></TR>'
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">{head}{watch}{"".join(cells)}</TABLE>>'


def _flows(run: StackRun, drawing: _Drawing, dot: graphviz.Digraph) -> None:
    drawn = drawing.stands_for
    known = drawing.identifiers()
    dot.edge("users", "cdn", label="HTTPS")
    if "waf" in drawn:
        dot.edge("waf", "cdn", label="filters", style="dashed")
    listeners = {int(x.inputs["port"]) for x in run.of_type("aws:lb/listener:Listener")}
    dot.edge("cdn", "alb", label=f"{'HTTPS' if 443 in listeners else 'HTTP'} + X-Origin-Verify")
    dot.edge("alb", "asg", label=f"app port {int(run.one('aws:lb/targetGroup:TargetGroup').inputs['port'])}")
    dot.edge("asg", "aurora", label="MySQL/TLS")
    dot.edge("asg", "secret", label="read credential", style="dashed")
    dot.edge("rotation", "secret", label="rotate", style="dashed")
    dot.edge("rotation", "aurora", label="ALTER USER", style="dashed")
    # Access logs: the load balancer's, and CloudFront's through its log delivery destination.
    for lb in run.of_type("aws:lb/loadBalancer:LoadBalancer"):
        bucket = str((lb.inputs.get("accessLogs") or {}).get("bucket", ""))
        if bucket in known:
            dot.edge("alb", known[bucket], label="access logs", style="dashed")
    for destination in run.of_type("aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination"):
        bucket_arn = str(
            (destination.inputs.get("deliveryDestinationConfiguration") or {}).get("destinationResourceArn")
        )
        if bucket_arn in known and "cdn" in drawn:
            dot.edge("cdn", known[bucket_arn], label="access logs", style="dashed")
    # Certificates: to what presents them (found by ARN).
    for node_id, records in list(drawn.items()):
        if node_id.startswith("cert-"):
            arn = str(records[0].state.get("arn", ""))
            users = {"cdn"} if _uses(drawn.get("cdn", []), arn) else set()
            users |= {"alb"} if _uses(run.of_type("aws:lb/listener:Listener"), arn) else set()
            for user in sorted(users):
                dot.edge(node_id, user, label="TLS", style="dashed")
    # Signed code: the function runs what the signing job wrote to the artifacts bucket.
    for function in drawn.get("rotation", []):
        bucket = str(function.inputs.get("s3Bucket", ""))
        if bucket in known:
            dot.edge(known[bucket], "rotation", label="signed code", style="dashed")
    # The trail's log files into the audit-log archive (its cloudtrail/ prefix).
    for trail in drawn.get("trail", []):
        if trail.type == TRAIL and str(trail.inputs.get("s3BucketName", "")) in known:
            dot.edge("trail", known[str(trail.inputs["s3BucketName"])], label="log files (cloudtrail/)")
    # The audit-log archive: log groups -> (subscription filters) -> Firehose -> S3.
    filters = run.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    if filters and "log-groups" in drawn and "firehose" in drawn:
        dot.edge("log-groups", "firehose", label=f"subscription filters ({len(filters)})")
    for stream in drawn.get("firehose", []):
        bucket_arn = str((stream.inputs.get("extendedS3Configuration") or {}).get("bucketArn", ""))
        if bucket_arn in known:
            dot.edge("firehose", known[bucket_arn], label="delivers")
    # Backups: the selected data stores (by ARN) into their region's vault, and the copies between vaults.
    home_region = run.config.get("aws:region")
    for selection in run.of_type("aws:backup/selection:Selection"):
        vault = "backup-vault" if _region(run, selection) == home_region else "standby-backup-vault"
        for arn in selection.inputs.get("resources") or []:
            if str(arn) in known and vault in drawn:
                dot.edge(known[str(arn)], vault, label="AWS Backup", style="dashed")
    for node_id in [n for n in drawn if n.startswith("backup-copy-") or n == "standby-backup-vault"]:
        dot.edge(
            "backup-vault",
            node_id,
            label="copies (same retention)",
            style="dashed",
            dir="both" if node_id == "standby-backup-vault" else "forward",
        )


def _uses(records: Iterable[ResourceRecord], arn: str) -> bool:
    return bool(arn) and any(arn in str(r.inputs) for r in records)


def render(run: StackRun, out_dir: Path, *, png: bool = False) -> tuple[Path, ...]:
    """Writes ``architecture.svg`` (and with ``png`` ``architecture.png``) into ``out_dir``, from one layout.

    The PNG is for the README (``make pictures``): rasterising it takes ~0.4 s of a ~5 s plan,
    the SVG ~0.04 s."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "architecture.svg", *((out_dir / "architecture.png",) if png else ()))
    done = subprocess.run(
        ["dot", *(arg for path in paths for arg in (f"-T{path.suffix[1:]}", "-o", str(path)))],
        input=build(run).source.encode(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    return paths
