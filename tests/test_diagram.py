"""The architecture picture: read back from Graphviz's own layout of the generated DOT source.

Each test lays the source out with ``dot -Tjson`` and checks a property a reviewer relies on:
which box a resource is drawn in, where the zones are, what is connected to what.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from offline.diagram import TIERS, alarm_node, build, subnet_node, tier_cluster
from offline.harness import StackRun, run_stack

# What each CloudWatch namespace measures, as drawn: written out here, not derived by the diagram's code.
WATCHED_BY_NAMESPACE = {
    "AWS/ApplicationELB": "alb",
    "AWS/EC2": "asg",
    "Fintech/App": "asg",
    "AWS/Lambda": "rotation",
    "Fintech/Rotation": "rotation",  # a metric filter on the rotation function's log
    "AWS/CloudFront": "cdn",
    "AWS/WAFV2": "waf",
    "AWS/RDS": "aurora",  # the cluster, or an instance (a cell of its database subnet)
    "AWS/Backup": "backup-vault",
    "AWS/Events": "backup-vault",  # a backup notification rule's failed deliveries
    "AWS/S3": "s3-",  # an archive's replication: the archive's own node
    "AWS/Firehose": "firehose",  # the audit-log archive's delivery stream
    "AWS/Route53": "origin-failover",  # the origin's health checks (the primary site's)
    "Fintech/AuditTrail": "trail",  # the CIS alarms: metric filters on the trail's log group
}


@dataclass
class Layout:
    source: str
    pos: dict[str, tuple[float, float]]
    labels: dict[str, str]
    members: dict[str, set[str]]
    """cluster name -> every node drawn inside it, at any depth"""
    boxes: dict[str, tuple[float, float, float, float]]
    cluster_labels: dict[str, str]
    edges: list[dict[str, Any]]
    """tail, head (node names), headport, label, style"""

    def edges_from(self, tail: str) -> list[dict[str, Any]]:
        return [e for e in self.edges if e["tail"] == tail]

    def has_edge(self, tail: str, head: str) -> bool:
        return any(e["tail"] == tail and e["head"] == head and e.get("style") != "invis" for e in self.edges)


def _layout(run: StackRun) -> Layout:
    graph = build(run)
    data = json.loads(graph.pipe(format="json"))
    # Graphviz lists the subgraphs first, then the nodes.
    subgraphs, nodes = data["objects"][: data["_subgraph_cnt"]], data["objects"][data["_subgraph_cnt"] :]
    names = {o["_gvid"]: o["name"] for o in nodes}
    clusters = [o for o in subgraphs if o["name"].startswith("cluster")]
    return Layout(
        source=graph.source,
        pos={o["name"]: tuple(float(v) for v in o["pos"].split(",")) for o in nodes},  # type: ignore[misc]
        labels={o["name"]: o.get("label", "") for o in nodes},
        members={c["name"]: {names[i] for i in c.get("nodes", [])} for c in clusters},
        boxes={c["name"]: tuple(float(v) for v in c["bb"].split(",")) for c in clusters},  # type: ignore[misc]
        cluster_labels={c["name"]: c.get("label", "") for c in clusters},
        edges=[
            {
                "tail": names[e["tail"]],
                "head": names[e["head"]],
                "headport": e.get("headport"),
                "label": e.get("label", ""),
                "style": e.get("style", ""),
            }
            for e in data.get("edges", [])
        ],
    )


@pytest.fixture(scope="module")
def stack_run(stack_run: StackRun) -> StackRun:
    """The stack region's site, which the picture draws in detail (the standby's box has its own test)."""
    return stack_run.home()


@pytest.fixture(scope="module")
def drawn(stack_run: StackRun) -> Layout:
    return _layout(stack_run)


def _zones(run: StackRun) -> list[str]:
    return sorted({str(s.inputs["availabilityZone"]) for s in run.of_type("aws:ec2/subnet:Subnet")})


def _inside(layout: Layout, node: str, cluster: str) -> bool:
    """In the cluster's membership and within its drawn box."""
    x, y = layout.pos[node]
    x0, y0, x1, y1 = layout.boxes[cluster]
    return node in layout.members[cluster] and x0 <= x <= x1 and y0 <= y <= y1


def test_zones_run_left_to_right_one_column_each(stack_run: StackRun, drawn: Layout) -> None:
    zones = _zones(stack_run)
    assert len(zones) == int(stack_run.config["payments-platform:azCount"])
    for tier in TIERS:
        xs = [drawn.pos[subnet_node(tier, zone)][0] for zone in zones]
        assert xs == sorted(xs), f"{tier} subnets are not drawn in zone order {zones}"
    # Columns: every subnet of a zone is left of every subnet of the next zone, in all three bands.
    for left, right in itertools.pairwise(zones):
        rightmost = max(drawn.pos[subnet_node(t, left)][0] for t in TIERS)
        leftmost = min(drawn.pos[subnet_node(t, right)][0] for t in TIERS)
        assert rightmost < leftmost, f"zone {left} and zone {right} are not separate columns"


def test_bands_are_stacked_public_private_database_inside_the_vpc(drawn: Layout) -> None:
    tops = []
    for tier in TIERS:
        band = tier_cluster(tier)
        assert band in drawn.members, f"no band for the {tier} subnets"
        assert drawn.members[band] <= drawn.members["cluster_vpc"]
        _, y0, _, y1 = drawn.boxes[band]
        tops.append((y0, y1))
    # Graphviz's y grows upwards: public above private above database, no band beside another.
    for (above_bottom, _), (_, below_top) in itertools.pairwise(tops):
        assert below_top < above_bottom


def test_each_resource_is_drawn_in_the_subnets_it_lives_in(stack_run: StackRun, drawn: Layout) -> None:
    for node, tier in (("alb", "public"), ("asg", "private"), ("rotation", "rotation"), ("aurora", "database")):
        assert _inside(drawn, node, tier_cluster(tier)), f"{node} is not drawn in the {tier} subnets"
        assert _inside(drawn, node, "cluster_vpc")
    for tier in TIERS:
        for zone in _zones(stack_run):
            assert _inside(drawn, subnet_node(tier, zone), tier_cluster(tier))
    assert not _inside(drawn, "secret", "cluster_vpc"), "Secrets Manager is a regional service, not in the VPC"
    # Aurora instances in their zone's database subnet; NAT gateways in their public subnet.
    for instance in stack_run.of_type("aws:rds/clusterInstance:ClusterInstance"):
        cell = f'PORT="instance-{instance.name.rsplit("-", 1)[-1]}"'
        zone = str(instance.inputs["availabilityZone"])
        assert cell in drawn.labels[subnet_node("database", zone)], f"{instance.name} not drawn in {zone}"
        assert sum(cell in drawn.labels[subnet_node("database", z)] for z in _zones(stack_run)) == 1
    subnet_zone = {s.id: s.inputs["availabilityZone"] for s in stack_run.of_type("aws:ec2/subnet:Subnet")}
    nats = stack_run.of_type("aws:ec2/natGateway:NatGateway")
    for nat in nats:
        assert 'PORT="nat"' in drawn.labels[subnet_node("public", subnet_zone[nat.inputs["subnetId"]])]
    assert sum('PORT="nat"' in drawn.labels[subnet_node("public", z)] for z in _zones(stack_run)) == len(nats)


def test_certificates_are_drawn_only_where_the_stack_has_them(stack_run: StackRun, drawn: Layout) -> None:
    certificates = stack_run.of_type("aws:acm/certificate:Certificate")
    cert_nodes = [n for n, text in drawn.labels.items() if "certificate" in text.lower()]
    assert len(cert_nodes) == len(certificates)
    if not certificates:  # dev: no domain, so no certificate anywhere in the picture
        assert not any("certificate" in text.lower() for text in drawn.cluster_labels.values())
    for node in cert_nodes:
        assert any(e["label"] == "TLS" and e["head"] in ("cdn", "alb") for e in drawn.edges_from(node))


def test_dev_has_no_certificate_node(dev: StackRun) -> None:
    source = build(dev).source
    assert "ACM certificate" not in source
    assert not re.search(r"^\s*\"?cert-", source, re.MULTILINE)


def test_the_audit_log_archive_is_fed_by_its_log_groups_through_firehose(stack_run: StackRun, drawn: Layout) -> None:
    (audit,) = [
        b for b in stack_run.of_type("aws:s3/bucket:Bucket") if b.inputs["tags"]["Purpose"] == "audit-log-archive"
    ]
    (bucket_node,) = [n for n, text in drawn.labels.items() if text.startswith("S3 audit-log-archive")]
    assert drawn.has_edge("firehose", bucket_node), f"Firehose is not connected to {audit.name}"
    assert drawn.has_edge("log-groups", "firehose"), "the archived log groups are not connected to Firehose"
    filters = stack_run.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    for group in {f.inputs["logGroup"] for f in filters}:
        assert group in drawn.labels["log-groups"].splitlines()


def _namespaces(alarm: Any) -> set[str]:
    found = {alarm.inputs.get("namespace")}
    found |= {(q.get("metric") or {}).get("namespace") for q in alarm.inputs.get("metricQueries") or []}
    return {n for n in found if n}


_ROW = re.compile(r'<TD ALIGN="LEFT"(?: PORT="([^"]*)")?>([^<]*)</TD><TD ALIGN="RIGHT">(\d+)</TD>')


def _listed(layout: Layout, node: str) -> tuple[int, dict[str, int]]:
    """An alarms node's header count, and its rows: watched node (its PORT) -> number of alarms."""
    label = layout.labels[node]
    (count,) = re.findall(r"</B>: (\d+) in ", label)
    return int(count), {port or f"(unnamed: {text})": int(n) for port, text, n in _ROW.findall(label)}


def _is_drawn(layout: Layout, target: str) -> bool:
    """A node of the picture, or a cell of one (``node:port``)."""
    node, _, port = target.partition(":")
    return node in layout.labels and (not port or f'PORT="{port}"' in layout.labels[node])


def test_alarms_list_what_they_watch(stack_run: StackRun, drawn: Layout) -> None:
    """One node per region: a row per watched box (by metric dimensions), each alarm counted once."""
    region = stack_run.config["aws:region"]
    by_node: dict[str, list[Any]] = {}
    for alarm in stack_run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        by_node.setdefault(alarm_node(str(alarm.inputs.get("region") or region)), []).append(alarm)
    for node, alarms in by_node.items():
        count, rows = _listed(drawn, node)
        assert count == len(alarms) == sum(rows.values()), f"{node}: {count}, {len(alarms)} alarms, rows {rows}"
        assert all(_is_drawn(drawn, target) for target in rows), f"{node} lists what is not drawn: {rows}"
        for alarm in alarms:
            (namespace,) = _namespaces(alarm)
            expected = WATCHED_BY_NAMESPACE[namespace]
            if expected == "aurora":
                assert {"aurora", *(t for t in rows if t.startswith("subnet-database-"))} & set(rows), alarm.name
            elif expected == "s3-":
                assert any(t.startswith("s3-") for t in rows), f"{alarm.name} is not listed with its archive"
            else:
                assert expected in rows, f"{alarm.name} ({namespace}) is not listed with {expected}"
        assert any(e["label"] == "notify" and e["head"].startswith("sns-") for e in drawn.edges_from(node))


def test_alarms_have_one_edge_to_their_topic_and_none_across_the_picture() -> None:
    """What the alarms watch is listed in their node: an edge per watched box crossed the whole picture."""
    layout = _layout(run_stack("prod"))
    alarm_nodes = [n for n in layout.labels if n.startswith("alarms-")]
    assert len(alarm_nodes) == 3, "the stack region's, the edge's (us-east-1) and the standby's"
    for node in alarm_nodes:
        edges = [e for e in layout.edges if node in (e["tail"], e["head"]) and e.get("style") != "invis"]
        assert [(e["label"], e["head"][:4]) for e in edges] == [("notify", "sns-")], f"{node}: {edges}"


def test_the_standby_alarms_list_the_standby_site() -> None:
    layout = _layout(run_stack("prod"))
    count, rows = _listed(layout, alarm_node("eu-central-1"))
    assert count == sum(rows.values()) > 0
    assert all(target.startswith("standby-") for target in rows), rows
    assert alarm_node("eu-central-1") in layout.members["cluster_standby_eu-central-1"]


def test_the_standby_region_is_drawn_with_what_replicates_into_it() -> None:
    """Both regions: the standby's box, Aurora's and S3's replication edges (archives only), and
    Route 53 sending the origin name to each site's load balancer by role."""
    source = build(run_stack("prod")).source
    assert 'label="AWS region eu-central-1 (standby, warm)"' in source
    assert re.search(r'aurora -> "standby-aurora" \[label="Aurora Global Database"', source)
    replicated = set(re.findall(r'"s3-([a-z-]+)" -> "standby-s3-\1" \[label="S3 replication', source))
    assert replicated == {"transaction-archive", "audit-log-archive"}, "the logs bucket is not replicated"
    assert re.search(r'"origin-failover" -> alb \[label=PRIMARY', source)
    assert re.search(r'"origin-failover" -> "standby-alb" \[label=SECONDARY', source)
    assert "standby-aurora" not in build(run_stack("dev")).source


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_alarm_lists_a_box_it_watches(stack: str) -> None:
    """An alarm on a metric a log metric filter publishes lists that filter's box in its own region:
    both sites' filters publish the same metric name, each in its region (rotation-unconfirmed)."""
    assert "nothing drawn" not in build(run_stack(stack)).source
