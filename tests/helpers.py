"""Small readers over recorded graphs, shared by the test modules."""

import json
from typing import Any

from offline.harness import ResourceRecord, StackRun


def doc(record: ResourceRecord, key: str = "policy") -> dict[str, Any]:
    """A JSON policy document input, parsed."""
    value = record.inputs[key]
    parsed: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return parsed


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def record_by_output(run: StackRun, value: str) -> ResourceRecord:
    """The resource whose id or ARN is ``value`` (how inputs reference other resources)."""
    for r in run.resources:
        if r.custom and value in (r.id, r.state.get("arn")):
            return r
    raise LookupError(value)


# No password of the app's database user passes through Pulumi (the rotation function's
# bootstrap generates it in AWS): tests that need one use this sample.
SAMPLE_APP_DB_PASSWORD = "Sample-App-Db-Pw-0123456789"


def secret_values(run: StackRun) -> list[str]:
    """Every value the plan holds as a secret (secret inputs, generated passwords), as text."""
    values = [
        v if isinstance(v, str) else json.dumps(v)
        for r in run.resources
        for k, v in r.inputs.items()
        if k in r.secret_inputs
    ]
    return values + [str(r.state["result"]) for r in run.of_type("random:index/randomPassword:RandomPassword")]


def named(run: StackRun, type_: str, suffix: str) -> ResourceRecord:
    """The one resource of ``type_`` whose logical name ends with ``suffix``."""
    (found,) = [r for r in run.of_type(type_) if r.name.endswith(suffix)]
    return found


def settings_error_of_a_real_run(monkeypatch: Any, stack: str, config: dict[str, str]) -> Any:
    """The SettingsError ``load_settings`` raises outside Pulumi's mocks (as in `pulumi up`) with
    ``config`` as the engine's configuration."""
    import pulumi
    import pytest

    from components import settings

    monkeypatch.setattr(pulumi, "get_project", lambda: "payments-platform")
    monkeypatch.setattr(pulumi, "get_stack", lambda: stack)
    monkeypatch.setattr(settings, "_under_mocks", lambda: False)
    pulumi.runtime.set_all_config(config, [])
    try:
        with pytest.raises(settings.SettingsError) as excinfo:
            settings.load_settings()
    finally:
        pulumi.runtime.set_all_config({}, [])
    return excinfo.value
