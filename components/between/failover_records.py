"""The failover record, kept in every site's region: what ``./deploy switchover|failover`` read.

A failover reads the copy in the region it moves to, so it needs nothing from the lost region, not
even the Pulumi state backend (which lives in the stack's region). The record's format is
components/failover_record.py; components/site/across_sites.py builds it from the sites.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.failover_record import parameter_name
from components.settings import Settings


@dataclass(frozen=True)
class FailoverRecordsArgs:
    env_suffix: str
    record: pulumi.Input[str]
    """The record's JSON (``FailoverRecord.to_json``)."""
    regions: Sequence[str]
    """Every site's region: each holds a copy."""

    @classmethod
    def of(cls, settings: Settings, record: pulumi.Input[str]) -> FailoverRecordsArgs:
        """The stack's record, kept in its region and its standby's."""
        return cls(settings.env_suffix, record, [r for r in (settings.region, settings.standby_region) if r])

    def __post_init__(self) -> None:
        if len(set(self.regions)) != len(self.regions) or len(self.regions) < 2:
            raise ValueError(f"a failover record is kept in each of two or more sites' regions, got {self.regions}")


class FailoverRecords(pulumi.ComponentResource):
    """One SSM parameter per site's region, all holding the same record, rewritten by every ``up``."""

    def __init__(self, name: str, args: FailoverRecordsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:ops:FailoverRecords", name, None, opts)
        for region in args.regions:
            aws.ssm.Parameter(
                f"{name}-{region}",
                region=region,
                name=parameter_name(args.env_suffix),
                description="What ./deploy switchover/failover read (components/failover_record.py)",
                # A String of the Standard tier: the record is ~1.6 KB of the tier's 4 KB (PutParameter Value).
                type="String",
                tier="Standard",
                value=args.record,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"regions": list(args.regions)})
