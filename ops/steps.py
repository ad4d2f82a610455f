"""How an operator command talks to AWS and runs its changes: numbered steps that resume.

The region moves (ops/regions.py) and the credentials' take-over and rejoin (ops/credentials.py) call AWS
through one boto3 Session (the credentials ./deploy checked first) and ``Aws``: a client per service and
region with connect/read timeouts and standard retries; a failed call is an ``AwsError`` naming the
service, the operation, the region and the service's error code. They read before they change anything
(``reading``, ``refuse``: ``RefusedError``, nothing was changed), print the plan and ask (``confirm``,
unless ``--yes``), then run numbered steps (``run_steps``), waiting for AWS as ``Polling`` says (bounded).

**Resume.** Each step first asks AWS whether it is done (``Step.done``) and says "already done" instead
of doing it again, so after any interruption the same command goes on from where AWS is. A step that
fails says what is done and what to do next (``Step.if_failed``); every exit names the next command in
one line. Exit codes, passed on by ops/deploy.py: ``EXIT_STEP_FAILED`` once changes had begun,
``EXIT_INTERRUPTED`` on Ctrl-C during a step (a refusal is ./deploy's own ``EXIT_SETUP``).

AWS facts used:
- botocore ``Config(connect_timeout, read_timeout, retries={"mode": "standard", "max_attempts"})``
  (boto3 guide "Retries": standard mode retries throttling, transient and connection errors with
  backoff); errors branch on ``ClientError.response["Error"]["Code"]``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.config
import botocore.exceptions

EXIT_STEP_FAILED = 3  # a step failed or timed out once changes had begun
EXIT_INTERRUPTED = 130  # Ctrl-C during a step
CLIENT_CONFIG = botocore.config.Config(
    connect_timeout=5, read_timeout=30, retries={"mode": "standard", "total_max_attempts": 5}
)


class RefusedError(Exception):
    """Nothing was changed; one line per problem."""


class StepError(Exception):
    """A step failed after changes began; the message says what is done and what to do next."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ActionError(Exception):
    """An action of a step failed (an AWS call, the stack file, `./deploy up`)."""


class WaitTimeoutError(ActionError):
    pass


class AwsError(ActionError):
    """An AWS call failed; ``code`` is the service's error code (or botocore's exception name)."""

    def __init__(self, service: str, operation: str, region: str, code: str, message: str) -> None:
        super().__init__(f"{service} {operation} in {region}: {code}: {one_line(message) or 'no message'}")
        self.code = code


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


class Aws:
    """One boto3 Session (one set of credentials) and its clients, one per service and region."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[service, region] = self.session.client(service, region_name=region, config=CLIENT_CONFIG)
        return self._clients[service, region]

    def call(self, service: str, region: str, operation: str, **params: Any) -> dict[str, Any]:
        client = self.client(service, region)
        name = client.meta.method_to_api_mapping.get(operation, operation)
        try:
            return dict(getattr(client, operation)(**params))
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code") or "Unknown"), str(error.get("Message") or "")
            raise AwsError(service, name, region, code, message) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise AwsError(service, name, region, type(exc).__name__, str(exc)) from None

    def wait(self, service: str, region: str, waiter: str, polling: Polling, **params: Any) -> None:
        """One of the SDK's waiters, as often as ``polling`` says and no longer."""
        delay = polling.waiter_delay
        attempts = max(1, math.ceil(polling.timeout / max(delay, 1)))
        try:
            self.client(service, region).get_waiter(waiter).wait(
                **params, WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
            )
        except botocore.exceptions.WaiterError as exc:
            raise AwsError(service, waiter, region, "WaiterError", str(exc)) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise AwsError(service, waiter, region, type(exc).__name__, str(exc)) from None


@dataclass(frozen=True)
class Polling:
    """How often and how long to wait for AWS to reach a state (tests pass a fake clock)."""

    interval: float = 15.0
    timeout: float = 30 * 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    waiter_delay: int = 30  # the RDS waiters' own delay
    dns_timeout: float = 5 * 60.0  # how long traffic may take to follow the writer before we say so

    def until(self, what: str, pending: Callable[[], str | None], *, timeout: float | None = None) -> None:
        """Ask ``pending`` until it answers None (done); it otherwise describes the state, printed on change."""
        limit = self.timeout if timeout is None else timeout
        deadline = self.clock() + limit
        last = None
        while (state := pending()) is not None:
            if state != last:
                print(f"  {state}", flush=True)
                last = state
            if self.clock() >= deadline:
                raise WaitTimeoutError(f"timed out after {limit / 60:g} min waiting for {what} (last seen: {state})")
            self.sleep(self.interval)


POLLING = Polling()


# Steps


@dataclass(frozen=True)
class Step:
    title: str
    action: Callable[[], object]
    if_failed: str  # what is done and what to do next, should this step fail
    done: Callable[[], bool] | None = None  # AWS already shows the step done: skipped (a re-run resumes)
    resume: str = ""  # the command that goes on from this step, when not the move's own run again


def starting(number: int, total: int, step: Step, already: bool) -> None:
    print(f"step {number}/{total}: {step.title}{': already done' if already else ''}", flush=True)


def run_steps(steps: Sequence[Step], again: str) -> None:
    total = len(steps)
    for number, step in enumerate(steps, 1):
        try:
            already = bool(step.done and step.done())
            starting(number, total, step, already)
            if not already:
                step.action()
        except ActionError as exc:
            raise StepError(EXIT_STEP_FAILED, f"step {number}/{total} failed: {exc}. {step.if_failed}") from None
        except KeyboardInterrupt:
            command = f"`{step.resume}`" if step.resume else f"`{again}` again"
            raise StepError(
                EXIT_INTERRUPTED, f"interrupted during step {number}/{total}; run {command}: it goes on from there."
            ) from None


def confirm(headline: str, steps: Sequence[Step], *, yes: bool) -> None:
    print(headline)
    for number, step in enumerate(steps, 1):
        print(f"  {number}. {step.title}")
    if yes:
        return
    try:
        answer = input("Type yes to go ahead: ")
    except EOFError:
        raise RefusedError(
            "no answer to the confirmation (no terminal): pass --yes to go ahead without asking."
        ) from None
    if answer.strip().lower() != "yes":
        raise RefusedError("stopped at the confirmation: nothing was changed.")


def refuse(problems: Sequence[str]) -> None:
    if problems:
        raise RefusedError("\n".join(problems))


def reading(aws_reads: Callable[[], Any]) -> Any:
    """A read before any change: a failure refuses, nothing having been changed."""
    try:
        return aws_reads()
    except AwsError as exc:
        raise RefusedError(f"{exc}; nothing was changed.") from None
