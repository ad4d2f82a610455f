"""Run the CrossGuard policies against a recorded offline graph, as the engine would."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
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


class PolicyConfigError(ValueError):
    """A policy pack config the policies cannot take; ``lines`` holds one line per problem."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = tuple(lines)


# The only enforcement level the offline check applies: every policy is mandatory.
_LEVEL = "mandatory"
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "boolean": bool,
    "string": str,
    "integer": int,
    "number": (int, float),
    "array": list,
    "object": dict,
}


def _config_problems(where: str, config: Any, policies: Sequence[Policy]) -> Iterator[str]:
    if not isinstance(config, dict):
        yield f"{where}: expected a JSON object keyed by policy name, found {type(config).__name__}"
        return
    by_name = {p.name: p for p in policies}
    for name, value in config.items():
        policy = by_name.get(name)
        if policy is None:
            close = difflib.get_close_matches(name, by_name, n=1)
            yield f"{where}: the policy pack has no policy {name!r}" + (
                f" (did you mean {close[0]!r}?)" if close else f" (it has: {', '.join(sorted(by_name))})"
            )
            continue
        settings = {"enforcementLevel": value} if isinstance(value, str) else value
        if not isinstance(settings, dict):
            yield f"{where}: {name}: expected an object of settings, found {json.dumps(settings)}"
            continue
        schema = policy.config_schema.properties if policy.config_schema else {}
        for key, setting in settings.items():
            if key == "enforcementLevel":
                if setting != _LEVEL:
                    yield (
                        f"{where}: {name}: enforcementLevel {json.dumps(setting)} is not applied offline "
                        f"(the plan checks every policy as {_LEVEL})"
                    )
            elif key not in schema:
                takes = ", ".join(sorted(schema)) or "no settings"
                yield f"{where}: {name} does not take {key!r} (it takes {takes})"
            else:
                expected = _JSON_TYPES.get(str(schema[key].get("type")))
                wrong_bool = isinstance(setting, bool) and expected is not bool and expected != _JSON_TYPES["object"]
                if expected is not None and (not isinstance(setting, expected) or wrong_bool):
                    yield f"{where}: {name}.{key} must be a {schema[key]['type']}, found {json.dumps(setting)}"


def load_policy_config(
    stack: str, path: str | Path | None = None, policies: Sequence[Policy] = POLICIES
) -> dict[str, dict[str, Any]]:
    """The pack config a stack is previewed with: ``path``, else ``policypack/<stack>.json`` when it exists.

    Raises ``PolicyConfigError`` (one line per problem) for a missing or unreadable file, invalid
    JSON, a policy the pack does not have, or a setting a policy does not take.
    """
    if path is None:
        default = PROJECT_DIR / "policypack" / f"{stack}.json"
        if not default.exists():
            return {}
        source, where = default, f"policypack/{stack}.json"
    else:
        source, where = Path(path), f"--policy-config {path}"
    try:
        config = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyConfigError([f"{where}: no such file"]) from None
    except IsADirectoryError:
        raise PolicyConfigError([f"{where}: is a folder, not a JSON file"]) from None
    except OSError as exc:
        raise PolicyConfigError([f"{where}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise PolicyConfigError([f"{where}: not UTF-8 text"]) from None
    except json.JSONDecodeError as exc:
        raise PolicyConfigError([f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]) from None
    problems = list(_config_problems(where, config, policies))
    if problems:
        raise PolicyConfigError(problems)
    return {
        name: {k: v for k, v in value.items() if k != "enforcementLevel"} if isinstance(value, dict) else {}
        for name, value in config.items()
    }


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
