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


def app_db_password(run: StackRun) -> str:
    """The generated initial password of the app's database user."""
    (password,) = [
        r for r in run.of_type("random:index/randomPassword:RandomPassword") if r.name.endswith("-app-db-password")
    ]
    return str(password.state["result"])


def named(run: StackRun, type_: str, suffix: str) -> ResourceRecord:
    """The one resource of ``type_`` whose logical name ends with ``suffix``."""
    (found,) = [r for r in run.of_type(type_) if r.name.endswith(suffix)]
    return found
