"""Before a stack with a domain is deployed: is its hosted zone one the stack can write, and does the
world ask it?

Every record of the stack (three certificate validations, the origin name, the edge's alias) goes into
``hostedZoneId`` through the stack's own AWS credentials. Three things must hold before anything is
created, or the first `up` fails late:

- The zone is a public hosted zone of this account. Route 53 refuses a zone of another account (the
  usual shared-DNS account of an organization) to this account's credentials, and every record would fail
  after the rest of the stack is built. Such a zone is refused: delegate a subdomain to a zone in this
  account instead (docs/deploy.md, "DNS before the first prod `up`"). A private zone cannot answer ACM.
- It is the zone of ``domainName``: the name is the zone's or under it.
- Public DNS asks it: the closest enclosing zone of ``domainName`` in public DNS is this zone's name
  and its NS records are this zone's name servers. Otherwise ACM never sees the validation records
  and each certificate waits out its validation timeout (certificates.py) before failing.

Answers that cannot be had (no permission, no network) skip a check, like ./deploy's other account
checks: the `up` itself then finds out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import botocore.exceptions
import dns.exception
import dns.name
import dns.resolver

# Route 53 is a global service; its API lives in us-east-1 (aws partition).
ROUTE53_REGION = "us-east-1"
# A public resolver's answer within this long, or the delegation check is skipped.
DNS_LIFETIME_SECONDS = 5.0

ZoneReader = Callable[[str], Mapping[str, Any]]
"""Route 53 GetHostedZone for an id: raises botocore's ClientError like the API does."""
NameServers = Callable[[str], tuple[str, set[str]]]
"""Public DNS for a name: the closest enclosing zone's name and its NS records (lower case, no final dot)."""


def _bare(name: str) -> str:
    return name.lower().rstrip(".")


def public_name_servers(domain: str, resolver: dns.resolver.Resolver | None = None) -> tuple[str, set[str]]:
    """The zone public DNS says ``domain`` is in, and that zone's name servers (through this
    machine's resolver unless one is given)."""
    resolver = resolver or dns.resolver.Resolver()
    resolver.lifetime = DNS_LIFETIME_SECONDS
    zone = dns.resolver.zone_for_name(domain, resolver=resolver, lifetime=DNS_LIFETIME_SECONDS)
    answer = resolver.resolve(zone, "NS")
    return _bare(zone.to_text()), {_bare(record.target.to_text()) for record in answer}


def zone_problems(
    domain: str,
    zone_id: str,
    read_zone: ZoneReader,
    name_servers: NameServers = public_name_servers,
    *,
    stack_file: str,
) -> list[str]:
    """What keeps ``zone_id`` from taking ``domain``'s records; empty when nothing does or nothing can be told."""
    try:
        found = read_zone(zone_id)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        if _not_this_accounts(str(error.get("Code", "")), str(error.get("Message", ""))):
            return [
                f"hostedZoneId {zone_id} in {stack_file} is not a hosted zone of this AWS account: the stack writes "
                "its records with its own credentials, so a zone in another account (an organization's DNS account) "
                f"cannot be used. Delegate {domain} (or a parent of it) to a public hosted zone in this account and "
                "set hostedZoneId to it (docs/deploy.md, 'DNS before the first prod up')."
            ]
        return []  # this identity may not call GetHostedZone: the `up` will tell
    except botocore.exceptions.BotoCoreError:
        return []

    zone = found.get("HostedZone", {})
    zone_name = _bare(str(zone.get("Name", "")))
    problems = []
    if zone.get("Config", {}).get("PrivateZone"):
        problems.append(
            f"hostedZoneId {zone_id} ({zone_name}) is a private hosted zone: ACM validates certificates through "
            "public DNS and CloudFront's name must resolve on the internet. Use the public zone."
        )
    if domain != zone_name and not domain.endswith(f".{zone_name}"):
        problems.append(
            f"domainName {domain} is not in hostedZoneId {zone_id}, the zone of {zone_name}: set the zone that "
            f"holds {domain} in {stack_file}."
        )
    if problems:
        return problems
    return _delegation_problems(domain, zone_id, zone_name, found, name_servers)


def _not_this_accounts(code: str, message: str) -> bool:
    """Route 53's answer for a zone id this account does not hold: ``NoSuchHostedZone`` (none such
    anywhere) or, for another account's zone, ``AccessDenied`` "... is not authorized to access this
    resource" (as reported in hashicorp/terraform-provider-aws#12570) — unlike an IAM denial of the
    caller, which says "is not authorized to perform: route53:GetHostedZone"."""
    if code in ("NoSuchHostedZone", "InvalidInput"):
        return True
    return code == "AccessDenied" and "not authorized to access this resource" in message


def _delegation_problems(
    domain: str, zone_id: str, zone_name: str, found: Mapping[str, Any], name_servers: NameServers
) -> list[str]:
    ours = {_bare(server) for server in found.get("DelegationSet", {}).get("NameServers", [])}
    try:
        answering_zone, answering = name_servers(domain)
    except dns.exception.DNSException:
        return []  # no resolver reachable from here: the `up` will tell
    if answering_zone == zone_name and answering == ours:
        return []
    if answering_zone != zone_name:
        why = f"public DNS puts {domain} in the zone {answering_zone or '(root)'}, not {zone_name}"
    else:
        why = f"public DNS answers {zone_name} from {_listed(answering)}, not this zone's {_listed(ours)}"
    return [
        f"hostedZoneId {zone_id} ({zone_name}) is not what the internet asks: {why}. ACM could not see the "
        "certificates' validation records, and each would wait out its timeout before failing. Delegate "
        f"{zone_name} to this zone's name servers at its parent (an NS record set, or the registrar), wait for "
        "it to answer, then run ./deploy again (docs/deploy.md, 'DNS before the first prod up')."
    ]


def _listed(servers: Iterable[str]) -> str:
    return ", ".join(sorted(servers)) or "nothing"
