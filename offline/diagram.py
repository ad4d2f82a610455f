"""The architecture picture, drawn from a recorded graph (never by hand), with Graphviz."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import graphviz

from offline.harness import ResourceRecord, StackRun

TIER_COLOURS = {"public": "#e8f4fd", "private": "#eaf7ea", "database": "#fdf0e6"}


def _zone_of(run: StackRun, record: ResourceRecord) -> str:
    return str(record.inputs.get("availabilityZone", ""))


def build(run: StackRun) -> graphviz.Digraph:
    region = run.config.get("aws:region", "?")
    dot = graphviz.Digraph(f"architecture-{run.stack}", format="svg")
    dot.attr(rankdir="TB", fontname="Helvetica", fontsize="11", compound="true", newrank="true", nodesep="0.3")
    dot.attr("node", shape="box", style="rounded,filled", fillcolor="white", fontname="Helvetica", fontsize="10")
    dot.attr("edge", fontname="Helvetica", fontsize="9")
    dot.node("users", "Clients", shape="ellipse", fillcolor="#ffffff")

    web_acls = run.of_type("aws:wafv2/webAcl:WebAcl")
    with dot.subgraph(name="cluster_edge") as edge:
        edge.attr(label="Global edge (WAF, certificate, logs in us-east-1)", style="dashed")
        for acl in web_acls:
            rules = len(acl.inputs.get("rules", []))
            edge.node("waf", f"WAF web ACL\n{rules} rules (rate limit + managed)", fillcolor="#fff4e5")
        for dist in run.of_type("aws:cloudfront/distribution:Distribution"):
            aliases = ", ".join(dist.inputs.get("aliases") or []) or "*.cloudfront.net"
            edge.node("cdn", f"CloudFront\n{aliases}\n{dist.inputs.get('priceClass', '')}", fillcolor="#f3e8fd")

    subnets: dict[str, dict[str, ResourceRecord]] = defaultdict(dict)
    for subnet in run.of_type("aws:ec2/subnet:Subnet"):
        subnets[_zone_of(run, subnet)][subnet.inputs["tags"]["Tier"]] = subnet
    nat_subnets = {n.inputs["subnetId"] for n in run.of_type("aws:ec2/natGateway:NatGateway")}
    instances_by_zone: dict[str, list[ResourceRecord]] = defaultdict(list)
    for instance in run.of_type("aws:rds/clusterInstance:ClusterInstance"):
        instances_by_zone[str(instance.inputs.get("availabilityZone", ""))].append(instance)

    vpc = run.one("aws:ec2/vpc:Vpc")
    with dot.subgraph(name="cluster_region") as reg:
        reg.attr(label=f"AWS region {region}", style="solid")
        listeners = sorted(int(x.inputs["port"]) for x in run.of_type("aws:lb/listener:Listener"))
        ports = ", ".join(map(str, listeners))
        reg.node("alb", f"Application Load Balancer\nlisteners {ports}\nCloudFront prefix list only")
        asg = run.one("aws:autoscaling/group:Group")
        template = run.one("aws:ec2/launchTemplate:LaunchTemplate")
        reg.node(
            "asg",
            f"Auto Scaling Group\n{template.inputs['instanceType']} x {int(asg.inputs['minSize'])}"
            f"-{int(asg.inputs['maxSize'])}"
            f"\nIMDSv2, encrypted gp3",
        )
        cluster = run.one("aws:rds/cluster:Cluster")
        reg.node(
            "aurora",
            f"Aurora MySQL {cluster.inputs['engineVersion'].split('mysql_aurora.')[-1]}"
            f"\n{len(run.of_type('aws:rds/clusterInstance:ClusterInstance'))} instance(s), TLS only, KMS",
            fillcolor="#fdf0e6",
        )
        reg.node("secret", "Secrets Manager\napp credential (30-day rotation)", fillcolor="#fffbe6")
        reg.node("rotation", "Rotation Lambda\n(alternating users)", fillcolor="#fffbe6")
        buckets = run.of_type("aws:s3/bucket:Bucket")
        for bucket in buckets:
            purpose = (bucket.inputs.get("tags") or {}).get("Purpose", "bucket")
            lock = " + Object Lock" if bucket.inputs.get("objectLockEnabled") else ""
            reg.node(f"s3-{purpose}", f"S3 {purpose}{lock}", shape="cylinder", fillcolor="#eef2f7")
        reg.node("alarms", f"CloudWatch alarms\n{len(run.of_type('aws:cloudwatch/metricAlarm:MetricAlarm'))} -> SNS")

        with reg.subgraph(name="cluster_vpc") as net:
            net.attr(label=f"VPC {vpc.inputs['cidrBlock']}", style="rounded", color="#5b8def")
            for zone in sorted(subnets):
                with net.subgraph(name=f"cluster_{zone}") as az:
                    az.attr(label=zone, style="dashed", color="#999999")
                    for tier in ("public", "private", "database"):
                        cell = subnets[zone].get(tier)
                        if cell is None:
                            continue
                        extra = ""
                        if tier == "public" and cell.id in nat_subnets:
                            extra = "\nNAT gateway"
                        if tier == "database" and instances_by_zone.get(zone):
                            extra = f"\nAurora instance x{len(instances_by_zone[zone])}"
                        az.node(
                            f"{zone}-{tier}",
                            f"{tier} {cell.inputs['cidrBlock']}{extra}",
                            fillcolor=TIER_COLOURS[tier],
                        )
                    # Stack the tiers of each zone, top to bottom.
                    az.edge(f"{zone}-public", f"{zone}-private", style="invis")
                    az.edge(f"{zone}-private", f"{zone}-database", style="invis")

    dot.edge("users", "cdn", label="HTTPS")
    if web_acls:
        dot.edge("waf", "cdn", label="filters", style="dashed")
    origin = "HTTPS" if 443 in listeners else "HTTP"
    dot.edge("cdn", "alb", label=f"{origin} + X-Origin-Verify")
    dot.edge("alb", "asg", label=f"app port {int(run.one('aws:lb/targetGroup:TargetGroup').inputs['port'])}")
    dot.edge("asg", "aurora", label="MySQL/TLS")
    dot.edge("asg", "secret", label="read credential", style="dashed")
    dot.edge("rotation", "secret", label="rotate", style="dashed")
    dot.edge("rotation", "aurora", label="ALTER USER", style="dashed")
    dot.edge("alb", "s3-logs", label="access logs", style="dashed")
    return dot


def render(run: StackRun, out_dir: Path) -> tuple[Path, Path]:
    """Writes ``architecture.svg`` and ``architecture.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dot = build(run)
    svg = Path(dot.render(filename="architecture", directory=str(out_dir), format="svg", cleanup=True))
    png = Path(dot.render(filename="architecture", directory=str(out_dir), format="png", cleanup=True))
    return svg, png
