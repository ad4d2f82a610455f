"""Financial transaction processing platform: reads the stack's settings and wires the tiers."""

import pulumi
import pulumi_aws as aws

from components.network import INTERFACE_ENDPOINT_SERVICES, Network, NetworkArgs, lookup_zones
from components.security import Security, SecurityArgs
from components.security_groups import SecurityGroups, SecurityGroupsArgs
from components.settings import load_settings

# Validates everything first: a bad config declares nothing.
settings = load_settings()
prefix = settings.name_prefix

# Every AWS resource is created through this provider, so every taggable one carries the
# standard tags; the stack config disables the untagged default provider.
provider = aws.Provider(
    f"{prefix}-aws",
    region=settings.region,
    default_tags=aws.ProviderDefaultTagsArgs(tags=settings.tags),
)
tier_opts = pulumi.ResourceOptions(providers=[provider])
# A region with too few zones fails here, before any tier is declared.
zones = lookup_zones(settings.az_count, pulumi.InvokeOptions(provider=provider))

flow_log_group_name = f"/fintech/{settings.env_suffix}/vpc-flow-logs"

security = Security(
    f"{prefix}-sec",
    SecurityArgs(
        alias_prefix=prefix,
        flow_log_group_name=flow_log_group_name,
        app_secret_name_prefix=f"{prefix}/app/",
        key_deletion_window_days=30 if settings.protect_data else 7,
        protect=settings.protect_data,
    ),
    tier_opts,
)

network = Network(
    f"{prefix}-net",
    NetworkArgs(
        vpc_cidr=settings.vpc_cidr,
        availability_zones=zones,
        nat_strategy=settings.nat_strategy,
        flow_log_group_name=flow_log_group_name,
        flow_log_retention_days=settings.flow_log_retention_days,
        flow_log_key_arn=security.key_arns["logs"],
        flow_log_role_arn=security.flow_log_role_arn,
        interface_endpoint_services=INTERFACE_ENDPOINT_SERVICES if settings.interface_endpoints else (),
    ),
    tier_opts,
)

security_groups = SecurityGroups(
    f"{prefix}-sg",
    SecurityGroupsArgs(vpc_id=network.vpc_id, app_port=settings.app_port),
    tier_opts,
)

pulumi.export("vpc_id", network.vpc_id)
pulumi.export("availability_zones", network.availability_zones)
pulumi.export("public_subnet_ids", network.public_subnet_ids)
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("database_subnet_ids", network.database_subnet_ids)
pulumi.export("nat_gateway_ids", network.nat_gateway_ids)
pulumi.export("kms_key_arns", security.key_arns)
pulumi.export("app_instance_profile_name", security.app_instance_profile_name)
pulumi.export("security_group_ids", security_groups.ids)
