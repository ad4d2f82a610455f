"""Secrets tier: the app's database credential, rotated every 30 days by the home site's rotation function.

Rotation uses alternating users (``<user>`` and ``<user>_clone``), so the credential the app
holds keeps working until the rotation after next. The master credential is RDS-managed
(see ``database.py``); this tier only reads it to create and update the app users. In a global
database RDS cannot manage it: the data tier creates it, and the same function also rotates it
(single user), starting at once. The function is the home site's (``site/rotation.py``): each site
has one, in its region, and the standby's takes over the copies there only after a region-loss
failover promoted them (``docs/standby-region.md``).

No password passes through Pulumi: the version the program writes holds connection fields
only, and the function's bootstrap generates the first password (Secrets Manager
``GetRandomPassword``), sets it on the database and publishes it as AWSCURRENT. Nothing in
Pulumi's state is ever a valid login.

The bootstrap's input names the host and port the secret must point to (and its triggers the host):
a changed ``db_host`` reaches the secret through the function, never through the version Pulumi
wrote, which ignores changes. Where the host is an Aurora global database's writer endpoint, the
function connects to the writer cluster's endpoint, found through the RDS API (site/rotation.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import pulumi
import pulumi_aws as aws

from components.site.database import PERMANENT_STAGE
from components.site.rotation import ROTATION_DAYS, copy_arn

# A permanent label on the first version: after two rotations AWS would otherwise strip its
# last label and delete it, and the next `pulumi up` would recreate it (and bootstrap again).
BOOTSTRAP_STAGE = PERMANENT_STAGE


@dataclass(frozen=True)
class SecretReplica:
    region: str
    key_arn: pulumi.Input[str]
    """A CMK of ``region``: Secrets Manager re-encrypts the replica with it."""


@dataclass(frozen=True)
class SecretsArgs:
    secret_name_prefix: str
    """The app secret's name starts with this; the app role may read exactly this prefix."""
    secrets_key_arn: pulumi.Input[str]
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_name: str
    master_secret_arn: pulumi.Input[str]
    db_instance_ids: Sequence[pulumi.Input[str]]
    """Every instance of the cluster: the bootstrap runs only once all of them exist."""
    rotation_function_name: pulumi.Input[str]
    """The home site's rotation function (``site/rotation.py``): bootstraps and rotates the secrets."""
    rotation_function_arn: pulumi.Input[str]
    """Its ARN, resolving once Secrets Manager may invoke it for each secret (a schedule starts at once)."""
    recovery_window_days: int
    """Days a deleted secret can be restored; 0 deletes at once (disposable stacks)."""
    rotate_master: bool = False
    """Also rotate the master secret (single-user) with the function: a self-managed master
    secret (global database) whose first password passed through Pulumi's state."""
    replica: SecretReplica | None = None
    """A read-only copy of the app secret in the standby region (rotations propagate to it)."""
    app_username: str = "payments_app"
    rotation_days: int = ROTATION_DAYS


class Secrets(pulumi.ComponentResource):
    """App credential secret (and its replica), its first-run bootstrap and rotation schedules."""

    app_secret_arn: pulumi.Output[str]
    """Resolves only once the bootstrap has published the first password: consumers never read
    a secret without one."""
    replica_secret_arn_or_none: pulumi.Output[str] | None
    """The app secret's replica in ``replica.region`` (same name, that region in its ARN); None without one."""
    secret_arn: pulumi.Output[str]
    """The app secret, resolving as soon as it exists (``copy_in`` its copies): what a site's rotation
    function may rotate, the home one before the bootstrap it runs."""

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fintech:data:Secrets", name, None, opts)
        _validate(args)

        secret, initial = self._secret(name, args)
        bootstrap = self._bootstrap(name, args, args.rotation_function_name, secret.arn, initial.version_id)
        self._rotation_schedule(f"{name}-app-db-rotation", args, secret.id, ready=[bootstrap])
        if args.rotate_master:
            # The master's first password passed through Pulumi's state: the first rotation, at
            # once, makes it useless. The app secret's bootstrap (which logs in as master) goes first.
            self._rotation_schedule(f"{name}-master-rotation", args, args.master_secret_arn, ready=[bootstrap])

        self.app_secret_arn = pulumi.Output.all(secret.arn, bootstrap.id).apply(lambda v: str(v[0]))
        self.replica_secret_arn_or_none = (
            self.app_secret_arn.apply(partial(copy_arn, region=args.replica.region)) if args.replica else None
        )
        self.secret_arn = secret.arn
        self.register_outputs(
            {
                "app_secret_arn": self.app_secret_arn,
                "replica_secret_arn": self.replica_secret_arn_or_none,
            }
        )

    def copy_in(self, region: str) -> pulumi.Output[str]:
        """The app secret's copy in ``region`` (the secret itself in its own), as soon as the secret exists."""
        return self.secret_arn.apply(lambda arn: copy_arn(arn, region))

    @property
    def replica_secret_arn(self) -> pulumi.Output[str]:
        if self.replica_secret_arn_or_none is None:
            raise ValueError("the app secret has no replica")
        return self.replica_secret_arn_or_none

    def _secret(
        self, name: str, args: SecretsArgs
    ) -> tuple[aws.secretsmanager.Secret, aws.secretsmanager.SecretVersion]:
        """The app secret and its first version, which holds connection fields only."""
        secret = aws.secretsmanager.Secret(
            f"{name}-app-db",
            name_prefix=f"{args.secret_name_prefix}db-",
            description="App tier MySQL credential (alternating users, rotated by Lambda)",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            replicas=[aws.secretsmanager.SecretReplicaArgs(region=r.region, kms_key_id=r.key_arn)]
            if (r := args.replica)
            else None,
            # After a region-loss failover promoted the replica, `./deploy failover --rejoin-secrets`
            # carries its value home and replicates over it; without this, re-adding fails on the name.
            force_overwrite_replica_secret=True if args.replica else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        initial = aws.secretsmanager.SecretVersion(
            f"{name}-app-db-initial",
            secret_id=secret.id,
            # Where to connect, never a password: this value lives in Pulumi's state.
            secret_string=pulumi.Output.json_dumps(
                {
                    "engine": "mysql",
                    "host": args.db_host,
                    "port": args.db_port,
                    "username": args.app_username,
                    "dbname": args.db_name,
                    "masterarn": args.master_secret_arn,
                }
            ),
            version_stages=["AWSCURRENT", BOOTSTRAP_STAGE],
            # Bootstrap and rotation move AWSCURRENT and write new values: Pulumi must not move them back.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString", "versionStages"]),
        )
        return secret, initial

    def _bootstrap(
        self,
        name: str,
        args: SecretsArgs,
        function_name: pulumi.Input[str],
        secret_arn: pulumi.Output[str],
        initial_version_id: pulumi.Output[str],
    ) -> aws.lambda_.Invocation:
        """The first password: generated, set on the database and published by the function."""
        return aws.lambda_.Invocation(
            f"{name}-app-db-bootstrap",
            function_name=function_name,
            # Where the secret must point: the version Pulumi wrote ignores changes, the function
            # publishes one that names this host (same user and password once bootstrapped).
            input=pulumi.Output.json_dumps(
                {"action": "bootstrap", "SecretId": secret_arn, "host": args.db_host, "port": args.db_port}
            ),
            # Runs again if the initial version is replaced, the instances or the host change; the
            # handler is idempotent. Naming every instance makes the invocation wait for all of them.
            triggers={
                "initial_version": initial_version_id,
                "instances": pulumi.Output.all(*args.db_instance_ids).apply(lambda ids: ",".join(map(str, ids))),
                "host": pulumi.Output.all(args.db_host, args.db_port).apply(lambda v: f"{v[0]}:{int(v[1])}"),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _rotation_schedule(
        self,
        resource_name: str,
        args: SecretsArgs,
        secret_id: pulumi.Input[str],
        ready: Sequence[pulumi.Resource],
    ) -> None:
        aws.secretsmanager.SecretRotation(
            resource_name,
            secret_id=secret_id,
            # Resolves once Secrets Manager may invoke the function for this secret (site/rotation.py).
            rotation_lambda_arn=args.rotation_function_arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                automatically_after_days=args.rotation_days
            ),
            # The first rotation starts at once: the app user must already exist (bootstrap).
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(ready)),
        )


def _validate(args: SecretsArgs) -> None:
    """Reject arguments that cannot work, before any child resource is declared."""
    if not 1 <= args.rotation_days <= 365:
        raise ValueError(f"rotation_days must be from 1 to 365, got {args.rotation_days}")
    if args.recovery_window_days != 0 and not 7 <= args.recovery_window_days <= 30:
        raise ValueError(f"recovery_window_days must be 0 or 7-30, got {args.recovery_window_days}")
    if not args.db_instance_ids:
        raise ValueError("db_instance_ids must name at least one instance (the bootstrap connects to it)")
