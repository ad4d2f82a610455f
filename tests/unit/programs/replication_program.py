"""A stack holding only the replication tier, between literal buckets and keys in two regions.

Run by tests/unit/test_replication.py through ``offline.harness.run_stack(..., program=...)``. The
config key ``replicationCase`` picks a broken variant; the component sits under a provider of a
third region, so anything that does not name its own region shows up there.
"""

import pulumi
import pulumi_aws as aws

from components.between.replication import ReplicatedBucket, Replication, ReplicationArgs, SiteArchives

ACCOUNT = "123456789012"
HOME, STANDBY, ELSEWHERE = "eu-west-1", "eu-central-1", "us-east-2"


def site(region: str, purposes: tuple[str, ...] = ("data", "audit"), key_region: str | None = None) -> SiteArchives:
    return SiteArchives(
        region=region,
        buckets={
            purpose: ReplicatedBucket(
                arn=f"arn:aws:s3:::fintech-{purpose}-{region}",
                key_arn=f"arn:aws:kms:{key_region or region}:{ACCOUNT}:key/{purpose}-{region}",
            )
            for purpose in purposes
        },
        reports_bucket_arn=f"arn:aws:s3:::fintech-logs-{region}",
    )


def sites(case: str) -> tuple[SiteArchives, SiteArchives]:
    if case == "same-region":
        return site(HOME), site(HOME)
    if case == "mismatched-purposes":
        return site(HOME), site(STANDBY, purposes=("data",))
    if case == "foreign-key":
        return site(HOME), site(STANDBY, key_region=HOME)
    return site(HOME), site(STANDBY)


case = pulumi.Config().get("replicationCase") or "ok"
minutes = 60 if case == "rtc-60" else 15
replication = Replication(
    "fintech-prod-replication",
    ReplicationArgs(sites=sites(case), minutes=minutes),
    opts=pulumi.ResourceOptions(provider=aws.Provider("elsewhere", region=ELSEWHERE)),
)
pulumi.export("rules", [vars(rule) for rule in replication.rules])
pulumi.export("role_arns", replication.role_arns)
