"""CrossGuard entry point: `pulumi preview --policy-pack policypack [--policy-pack-config policypack/prod.json]`.

Never imported by the tests: constructing PolicyPack starts the analyzer's gRPC server.
"""

from pulumi_policy import PolicyPack
from rules import POLICIES

PolicyPack(name="payments-platform", policies=POLICIES)
