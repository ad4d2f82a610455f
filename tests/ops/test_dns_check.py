"""./deploy's DNS preconditions: the hosted zone is this account's, public, the domain's, and delegated."""

from collections.abc import Mapping
from typing import Any

import botocore.exceptions
import dns.exception
import dns.resolver
import pytest

from ops.dns_check import zone_problems

ZONE = "Z0123456789ABC"
SERVERS = ["ns-1.awsdns-01.org.", "ns-2.awsdns-02.co.uk.", "ns-3.awsdns-03.com.", "ns-4.awsdns-04.net."]


def hosted_zone(name: str = "example.com.", *, private: bool = False) -> Mapping[str, Any]:
    """GetHostedZone's answer (Route 53 API reference): the zone and, for a public one, its delegation set."""
    return {
        "HostedZone": {"Id": f"/hostedzone/{ZONE}", "Name": name, "Config": {"PrivateZone": private}},
        "DelegationSet": {"NameServers": [s.rstrip(".") for s in SERVERS]},
    }


def answers(zone: str = "example.com", servers: list[str] = SERVERS) -> Any:
    return lambda domain: (zone, {s.rstrip(".") for s in servers})


def refused(code: str, message: str = "no") -> Any:
    def read(zone_id: str) -> Mapping[str, Any]:
        raise botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, "GetHostedZone")

    return read


def check(domain: str = "pay.example.com", read: Any = None, servers: Any = None) -> list[str]:
    return zone_problems(
        domain,
        ZONE,
        read or (lambda zone_id: hosted_zone()),
        servers or answers(),
        stack_file="Pulumi.prod.yaml",
    )


def test_a_delegated_public_zone_of_the_domain_passes() -> None:
    assert check() == []
    assert check("example.com") == []


ANOTHER_ACCOUNTS = "User: arn:aws:sts::111122223333:assumed-role/deploy/ci is not authorized to access this resource"
IAM_DENIAL = (
    "User: arn:aws:sts::111122223333:assumed-role/deploy/ci is not authorized to perform: route53:GetHostedZone"
)


@pytest.mark.parametrize(
    ("code", "message"), [("NoSuchHostedZone", "No hosted zone found"), ("AccessDenied", ANOTHER_ACCOUNTS)]
)
def test_a_zone_of_another_account_is_refused_in_one_line_naming_the_key(code: str, message: str) -> None:
    (problem,) = check(read=refused(code, message))
    assert problem.startswith(f"hostedZoneId {ZONE} in Pulumi.prod.yaml is not a hosted zone of this AWS account")
    assert "Delegate pay.example.com" in problem


def test_a_zone_this_identity_may_not_read_is_left_to_the_up() -> None:
    assert check(read=refused("AccessDenied", IAM_DENIAL)) == []

    def offline(zone_id: str) -> Mapping[str, Any]:
        raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://route53.amazonaws.com")

    assert check(read=offline) == []


def test_a_private_zone_is_refused() -> None:
    (problem,) = check(read=lambda zone_id: hosted_zone(private=True))
    assert "private hosted zone" in problem


@pytest.mark.parametrize("domain", ["pay.example.org", "notexample.com", "com"])
def test_a_domain_outside_the_zone_is_refused(domain: str) -> None:
    (problem,) = check(domain)
    assert problem.startswith(f"domainName {domain} is not in hostedZoneId {ZONE}, the zone of example.com")


def test_a_subdomain_zone_its_parent_never_delegated_is_refused() -> None:
    # Public DNS walks up to the parent: the validation records ACM looks for are never seen there.
    read = lambda zone_id: hosted_zone("pay.example.com.")  # noqa: E731
    (problem,) = check(read=read, servers=answers("example.com", ["ns1.registrar.example."]))
    assert "public DNS puts pay.example.com in the zone example.com, not pay.example.com" in problem
    assert "Delegate pay.example.com to this zone's name servers" in problem


def test_a_zone_the_registrar_points_elsewhere_is_refused() -> None:
    # The same name, other name servers: e.g. a deleted and recreated hosted zone gets a new set.
    (problem,) = check(servers=answers("example.com", [s.replace("awsdns-0", "awsdns-9") for s in SERVERS]))
    assert "public DNS answers example.com from ns-1.awsdns-91.org" in problem
    assert "not this zone's ns-1.awsdns-01.org" in problem


def test_no_reachable_resolver_skips_the_delegation_check() -> None:
    def unreachable(domain: str) -> tuple[str, set[str]]:
        raise dns.resolver.LifetimeTimeout(timeout=5.0, errors=[])

    assert check(servers=unreachable) == []

    def unconfigured(domain: str) -> tuple[str, set[str]]:
        raise dns.resolver.NoResolverConfiguration

    assert check(servers=unconfigured) == []
    assert issubclass(dns.resolver.NoNameservers, dns.exception.DNSException)


class FakeDns:
    """A resolver on 127.0.0.1 answering SOA and NS from ``zones`` (name -> its name servers), NXDOMAIN
    for names under a zone that it does not hold, and the zone's SOA for names it holds."""

    def __init__(self, zones: Mapping[str, list[str]], names: set[str]) -> None:
        import socket
        import threading

        self.zones, self.names = zones, names
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            response = dns.message.make_response(query)
            holding = [z for z in self.zones if name == z or name.endswith(f".{z}")]
            zone = max(holding, key=len) if holding else None  # the closest enclosing zone
            if zone is None or (name != zone and name not in self.names):
                response.set_rcode(dns.rcode.NXDOMAIN)
                if zone:
                    response.authority.append(self._soa(zone))
            elif name == zone and question.rdtype == dns.rdatatype.NS:
                response.answer.append(
                    dns.rrset.from_text_list(f"{zone}.", 300, "IN", "NS", [f"{s}." for s in self.zones[zone]])
                )
            elif name == zone and question.rdtype == dns.rdatatype.SOA:
                response.answer.append(self._soa(zone))
            else:
                response.authority.append(self._soa(zone))  # the name exists, not with this type
            self.sock.sendto(response.to_wire(), peer)

    @staticmethod
    def _soa(zone: str) -> Any:
        import dns.rrset

        return dns.rrset.from_text(
            f"{zone}.", 300, "IN", "SOA", f"ns-1.awsdns-01.org. hostmaster.{zone}. 1 7200 900 1209600 86400"
        )

    def resolver(self) -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], self.port
        return resolver


def test_public_dns_is_asked_for_the_closest_zone_and_its_name_servers() -> None:
    from ops.dns_check import public_name_servers

    servers = [s.rstrip(".") for s in SERVERS]
    fake = FakeDns({"example.com": ["ns1.registrar.example"], "pay.example.com": servers}, set())
    assert public_name_servers("pay.example.com", fake.resolver()) == ("pay.example.com", set(servers))
    assert public_name_servers("www.pay.example.com", fake.resolver()) == ("pay.example.com", set(servers))
    # Not delegated: public DNS knows the name only as (not) under the parent.
    parent_only = FakeDns({"example.com": ["ns1.registrar.example"]}, set())
    assert public_name_servers("pay.example.com", parent_only.resolver()) == ("example.com", {"ns1.registrar.example"})
