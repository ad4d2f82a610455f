"""Run the CrossGuard policies against a recorded offline graph, as the engine would."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from offline.harness import PROJECT_DIR, ResourceRecord, StackRun
from policypack.rules import POLICIES

Policy = ResourceValidationPolicy | StackValidationPolicy


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    urn: str | None


def _options(record: ResourceRecord) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=record.protect,
        ignore_changes=list(record.ignore_changes),
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=record.parent or None,
    )


def _provider(run: StackRun, record: ResourceRecord) -> PolicyProviderResource | None:
    urn = record.provider.split("::")[0:-1]
    provider_urn = "::".join(urn)
    found = next((r for r in run.resources if r.urn == provider_urn), None)
    if found is None:
        return None
    return PolicyProviderResource(found.type, found.inputs, found.urn, found.name)


def load_policy_config(stack: str) -> dict[str, dict[str, Any]]:
    """The pack config a stack is previewed with: ``policypack/<stack>.json`` when it exists."""
    path = PROJECT_DIR / "policypack" / f"{stack}.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def stack_resources(run: StackRun) -> list[PolicyResource]:
    by_urn: dict[str, PolicyResource] = {}
    records = [r for r in run.resources if r.custom]
    for record in records:
        by_urn[record.urn] = PolicyResource(
            resource_type=record.type,
            props=record.inputs,
            urn=record.urn,
            name=record.name,
            opts=_options(record),
            provider=_provider(run, record),
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
    for record in records:
        resource = by_urn[record.urn]
        resource.dependencies = [by_urn[u] for u in record.dependencies if u in by_urn]
        resource.property_dependencies = {
            prop: [by_urn[u] for u in urns if u in by_urn] for prop, urns in record.property_dependencies.items()
        }
    return list(by_urn.values())


def evaluate(
    run: StackRun,
    policies: Sequence[Policy] = POLICIES,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Violation]:
    """Every violation the policies report against ``run``'s resources."""
    config = config if config is not None else load_policy_config(run.stack)
    violations: list[Violation] = []
    resources = stack_resources(run)
    for policy in policies:
        policy_settings = dict(config.get(policy.name, {}))

        def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
            violations.append(Violation(name, message, urn))

        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                policy.validate(
                    ResourceValidationArgs(
                        resource.resource_type,
                        resource.props,
                        resource.urn,
                        resource.name,
                        resource.opts,
                        resource.provider,
                        policy_settings,
                    ),
                    report,
                )
        else:
            policy.validate(StackValidationArgs(resources, policy_settings), report)
    return violations
