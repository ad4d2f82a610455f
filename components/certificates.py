"""An ACM certificate validated by DNS in a Route 53 zone: shared by the ALB and CloudFront."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

# How long `up` waits for ACM to issue. The provider waits 75 minutes (terraform-provider-aws,
# internal/service/acm/certificate_validation.go); with the zone delegated (./deploy checks it
# first, ops/dns_check.py) ACM issues in minutes, and a zone the internet does not ask would keep
# three validations waiting over an hour before failing. Past this the `up` fails, the certificate
# and its record stay, and the next `up` waits again where this one stopped.
VALIDATION_TIMEOUT = "20m"


def dns_validated_certificate(
    parent: pulumi.Resource, name: str, domain: str, zone_id: str, region: str | None = None
) -> pulumi.Output[str]:
    """The certificate's ARN once ACM has issued it. ``region`` None: the stack's region."""
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
    return aws.acm.CertificateValidation(
        f"{name}-certificate-issued",
        certificate_arn=certificate.arn,
        validation_record_fqdns=[record.fqdn],
        region=region,
        opts=pulumi.ResourceOptions(parent=parent, custom_timeouts=pulumi.CustomTimeouts(create=VALIDATION_TIMEOUT)),
    ).certificate_arn
