"""An ACM certificate validated by DNS in a Route 53 zone: shared by the ALB and CloudFront.

ACM gives every certificate for one domain name in one account the same validation CNAME ("Each
record, created specifically for your domain and your account"; "you can request additional ACM
certificates for your fully qualified domain name (FQDN) for as long as the CNAME record remains in
place ... you can re-create the same certificate in multiple Regions": ACM User Guide, "DNS
validation", https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html). So the record
has one owner: the first certificate of a name declares it, and another certificate of that name
(a second site's, in another region) validates against it (``validation_record_fqdn``) instead of
declaring it again: with two owners, deleting either deletes the record, and ACM renews a
certificate only while its record is in place ("Renewal for domains validated by DNS").
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# How long `up` waits for ACM to issue. The provider waits 75 minutes (terraform-provider-aws,
# internal/service/acm/certificate_validation.go); with the zone delegated (./deploy checks it
# first, ops/dns_check.py) ACM issues in minutes, and a zone the internet does not ask would keep
# three validations waiting over an hour before failing. Past this the `up` fails, the certificate
# and its record stay, and the next `up` waits again where this one stopped.
VALIDATION_TIMEOUT = "20m"


@dataclass(frozen=True)
class IssuedCertificate:
    arn: pulumi.Output[str]
    """The certificate's ARN, once ACM has issued it."""
    validation_record_fqdn: pulumi.Output[str]
    """The DNS validation record it is validated (and renewed) with: another certificate of the same
    name in this account validates against it (``issue_certificate(validation_record_fqdn=...)``)."""


def dns_validated_certificate(
    parent: pulumi.Resource, name: str, domain: str, zone_id: str, region: str | None = None
) -> pulumi.Output[str]:
    """The certificate's ARN once ACM has issued it, its validation record declared here.
    ``region`` None: the stack's region."""
    return issue_certificate(parent, name, domain, zone_id, region).arn


def issue_certificate(
    parent: pulumi.Resource,
    name: str,
    domain: str,
    zone_id: str,
    region: str | None = None,
    *,
    validation_record_fqdn: pulumi.Input[str] | None = None,
) -> IssuedCertificate:
    """A DNS-validated certificate for ``domain``. Without ``validation_record_fqdn`` it declares its
    validation record in ``zone_id``; with it (the record another certificate of ``domain`` declared)
    it declares none and validates against that one, once it is sure ACM asks for that very record:
    the apply fails otherwise, naming both."""
    child = pulumi.ResourceOptions(parent=parent)
    certificate = aws.acm.Certificate(
        f"{name}-certificate",
        domain_name=domain,
        validation_method="DNS",
        key_algorithm="EC_prime256v1",
        region=region,
        opts=child,
    )
    option = certificate.domain_validation_options[0]
    if validation_record_fqdn is None:
        record = aws.route53.Record(
            f"{name}-certificate-validation",
            zone_id=zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        fqdn = record.fqdn
    else:
        fqdn = pulumi.Output.all(option.resource_record_name, validation_record_fqdn).apply(
            lambda names: same_validation_record(domain, str(names[0]), str(names[1]))
        )
    issued = aws.acm.CertificateValidation(
        f"{name}-certificate-issued",
        certificate_arn=certificate.arn,
        validation_record_fqdns=[fqdn],
        region=region,
        opts=pulumi.ResourceOptions(parent=parent, custom_timeouts=pulumi.CustomTimeouts(create=VALIDATION_TIMEOUT)),
    )
    return IssuedCertificate(arn=issued.certificate_arn, validation_record_fqdn=fqdn)


def same_validation_record(domain: str, asked: str, given: str) -> str:
    """``given``, if it is the record ACM ``asked`` for (DNS names: no trailing dot, any case)."""
    if asked.rstrip(".").lower() != given.rstrip(".").lower():
        raise ValueError(
            f"the certificate for {domain} is validated by ACM's record {asked!r}, not by {given!r}, the record "
            "it was given: ACM gives every certificate of a name in one account the same record (ACM User Guide, "
            "'DNS validation'), so the given one belongs to another name or account; give this name's record, "
            "or none to declare it here"
        )
    return given
