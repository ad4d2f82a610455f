"""The instance bootstrap and health service, run for real on this machine.

The user data recorded in the plan runs in a scratch root with fake ``dnf``, ``systemctl``,
``sleep`` and CloudWatch agent on PATH (the real ``openssl`` makes the certificate). The health
service it installs then runs in a subprocess, with a fake ``aws`` CLI, and is asked exactly what
the recorded target group's health check asks.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from offline.harness import ResourceRecord, StackRun
from tests.helpers import SAMPLE_APP_DB_PASSWORD

HEALTH_SERVER = Path(__file__).resolve().parents[2] / "components" / "site" / "templates" / "health_server.py"

FAKE_DNF = """#!/bin/bash
echo "dnf $*" >>"$FAKE_LOG"
count=$(($(cat "$FAKE_STATE/dnf" 2>/dev/null || echo 0) + 1))
echo "$count" >"$FAKE_STATE/dnf"
if [ "$FAKE_DNF_FAILURES" = always ] || [ "$count" -le "$FAKE_DNF_FAILURES" ]; then
  echo "Error: Failed to download metadata for repo 'amazonlinux'" >&2
  exit 1
fi
# What installing amazon-cloudwatch-agent provides.
ctl="$FINTECH_ROOT/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
mkdir -p "$(dirname "$ctl")"
printf '#!/bin/bash\\necho "amazon-cloudwatch-agent-ctl $*" >>"$FAKE_LOG"\\n[ -z "$FAKE_AGENT_FAILS" ]\\n' >"$ctl"
chmod +x "$ctl"
"""
FAKE_SYSTEMCTL = """#!/bin/bash
echo "systemctl $*" >>"$FAKE_LOG"
[ "$FAKE_SYSTEMCTL_FAILS" != "$1" ]
"""
FAKE_SLEEP = """#!/bin/bash
echo "sleep $*" >>"$FAKE_LOG"
"""
# The AWS CLI as the health service calls it: the secret's value, or the error a regional
# Secrets Manager/KMS problem gives; metric data appended to a file.
FAKE_AWS = """#!/bin/bash
case "$1 $2" in
  "secretsmanager get-secret-value")
    if [ -f "$FAKE_SECRET" ]; then cat "$FAKE_SECRET"; exit 0; fi
    echo "An error occurred (InternalServiceError) when calling the GetSecretValue operation" >&2
    exit 254 ;;
  "cloudwatch put-metric-data")
    echo "$*" >>"$FAKE_METRICS" ;;
  *) exit 2 ;;
esac
"""


def _write_tool(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def recorded_user_data(run: StackRun) -> str:
    return base64.b64decode(run.one("aws:ec2/launchTemplate:LaunchTemplate").inputs["userData"]).decode()


@dataclass
class Bootstrap:
    root: Path
    returncode: int
    events: list[str]
    console: str
    stderr: str

    def env_file(self) -> dict[str, str]:
        lines = (self.root / "etc/fintech.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line)


def run_bootstrap(script: str, workdir: Path, **fakes: str) -> Bootstrap:
    root, tools, state = workdir / "root", workdir / "bin", workdir / "state"
    for directory in (root, tools, state):
        directory.mkdir(parents=True)
    for name, body in (("dnf", FAKE_DNF), ("systemctl", FAKE_SYSTEMCTL), ("sleep", FAKE_SLEEP)):
        _write_tool(tools, name, body)
    bash = shutil.which("bash")
    assert bash is not None
    assert shutil.which("openssl") is not None, "the bootstrap makes its certificate with the real openssl"
    log, console = workdir / "events.log", workdir / "console.log"
    env = {
        "PATH": f"{tools}:{os.environ['PATH']}",
        "FINTECH_ROOT": str(root),
        "FINTECH_CONSOLE": str(console),
        "FAKE_LOG": str(log),
        "FAKE_STATE": str(state),
        "FAKE_DNF_FAILURES": "0",
        "FAKE_AGENT_FAILS": "",
        "FAKE_SYSTEMCTL_FAILS": "",
        **fakes,
    }
    done = subprocess.run([bash, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False)
    return Bootstrap(
        root=root,
        returncode=done.returncode,
        events=log.read_text().splitlines() if log.exists() else [],
        console=console.read_text() if console.exists() else "",
        stderr=done.stderr,
    )


_bootstrapped: dict[str, Bootstrap] = {}


@pytest.fixture
def bootstrapped(stack_run: StackRun, tmp_path_factory: pytest.TempPathFactory) -> Bootstrap:
    """The stack's recorded user data, run once per stack with every step succeeding."""
    if stack_run.stack not in _bootstrapped:
        workdir = tmp_path_factory.mktemp(f"bootstrap-{stack_run.stack}")
        _bootstrapped[stack_run.stack] = run_bootstrap(recorded_user_data(stack_run), workdir)
    return _bootstrapped[stack_run.stack]


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_installs_everything_then_starts_the_health_service_last(bootstrapped: Bootstrap) -> None:
    assert bootstrapped.returncode == 0, bootstrapped.stderr
    commands = [e.split()[0] for e in bootstrapped.events]
    assert commands == ["dnf", "amazon-cloudwatch-agent-ctl", "systemctl", "systemctl"], bootstrapped.events
    assert bootstrapped.events[0] == "dnf install -y openssl amazon-cloudwatch-agent"
    assert bootstrapped.events[-1] == "systemctl enable --now fintech-health.service"
    assert (bootstrapped.root / "opt/fintech/health_server.py").read_bytes() == HEALTH_SERVER.read_bytes()
    unit = (bootstrapped.root / "etc/systemd/system/fintech-health.service").read_text()
    assert "ExecStart=/usr/bin/python3 /opt/fintech/health_server.py" in unit
    assert "EnvironmentFile=/etc/fintech.env" in unit
    key = bootstrapped.root / "etc/fintech/tls/key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "complete" in bootstrapped.console


def test_package_installs_are_retried_with_backoff(stack_run: StackRun, tmp_path: Path) -> None:
    done = run_bootstrap(recorded_user_data(stack_run), tmp_path, FAKE_DNF_FAILURES="2")
    assert done.returncode == 0, done.stderr
    assert [e for e in done.events if e.startswith(("dnf", "sleep"))] == [
        "dnf install -y openssl amazon-cloudwatch-agent",
        "sleep 5",
        "dnf install -y openssl amazon-cloudwatch-agent",
        "sleep 10",
        "dnf install -y openssl amazon-cloudwatch-agent",
    ]
    assert done.events[-1] == "systemctl enable --now fintech-health.service"


@pytest.mark.parametrize(
    ("fakes", "reason"),
    [
        ({"FAKE_DNF_FAILURES": "always"}, "dnf install"),
        ({"FAKE_AGENT_FAILS": "1"}, "CloudWatch agent"),
        ({"FAKE_SYSTEMCTL_FAILS": "daemon-reload"}, "systemctl daemon-reload"),
    ],
)
def test_a_failed_bootstrap_never_starts_the_health_service_and_says_so(
    stack_run: StackRun, tmp_path: Path, fakes: dict[str, str], reason: str
) -> None:
    done = run_bootstrap(recorded_user_data(stack_run), tmp_path, **fakes)
    assert done.returncode != 0
    assert "systemctl enable --now fintech-health.service" not in done.events
    assert "FAILED" in done.console
    assert reason in done.console, done.console
    assert "health service was not started" in done.console


def test_package_install_retries_are_bounded(stack_run: StackRun, tmp_path: Path) -> None:
    done = run_bootstrap(recorded_user_data(stack_run), tmp_path, FAKE_DNF_FAILURES="always")
    assert [e for e in done.events if e.startswith("sleep")] == ["sleep 5", "sleep 10", "sleep 20", "sleep 40"]
    assert sum(e.startswith("dnf") for e in done.events) == 5


# --------------------------------------------------------------------------- health service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Service:
    port: int
    metrics: Path
    log: Path


@pytest.fixture
def database() -> Iterator[int]:
    """A listening TCP port standing in for Aurora (the check only connects)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port: int = server.getsockname()[1]
        yield port


def accepts_connections(port: int) -> bool:
    """Whether something listens on ``port`` of this machine (a TCP connection is accepted)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:  # ConnectionRefusedError until the server listens
        return False


def wait_until_serving(process: subprocess.Popen[bytes], port: int, metrics: Path, timeout: float = 15) -> None:
    """Until the service has published its first metric and accepts connections on ``port``.

    The service starts its checks before it listens (health_server.main): its first metric can be
    written while the port still refuses connections, so the metric alone does not mean "serving".
    Bounded: the process dying or ``timeout`` seconds passing fails the test, saying which."""
    deadline = time.monotonic() + timeout
    published = listening = False
    while not (published and listening):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, (
            f"after {timeout} s the health service {'has published a metric' if published else 'published no metric'}"
            f" and {'listens' if listening else 'does not listen'} on port {port}"
        )
        published = published or bool(metrics.exists() and metrics.read_text())
        listening = listening or accepts_connections(port)
        if not (published and listening):
            time.sleep(0.05)


@contextmanager
def start_service(
    bootstrapped: Bootstrap, tmp_path: Path, secret: dict[str, object] | None, port: int
) -> Iterator[Service]:
    """The health service the bootstrap installed, run as its unit would, on ``port``."""
    tools = tmp_path / "aws-bin"
    tools.mkdir()
    _write_tool(tools, "aws", FAKE_AWS)
    secret_file, metrics, log = tmp_path / "secret.json", tmp_path / "metrics.log", tmp_path / "health.log"
    if secret is not None:
        secret_file.write_text(json.dumps(secret))
    unit_env = bootstrapped.env_file()
    env = {
        **unit_env,
        # Where the unit's paths are in the scratch root, and the port the test can have.
        "APP_PORT": str(port),
        "TLS_CERT_FILE": str(bootstrapped.root / unit_env["TLS_CERT_FILE"].lstrip("/")),
        "TLS_KEY_FILE": str(bootstrapped.root / unit_env["TLS_KEY_FILE"].lstrip("/")),
        "LOG_FILE": str(log),
        "PATH": f"{tools}:{os.environ['PATH']}",
        "FAKE_SECRET": str(secret_file),
        "FAKE_METRICS": str(metrics),
    }
    process = subprocess.Popen(
        [sys.executable, str(bootstrapped.root / "opt/fintech/health_server.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_serving(process, port, metrics)
        yield Service(port=port, metrics=metrics, log=log)
    finally:
        process.terminate()
        process.wait(timeout=10)


def request(service: Service, protocol: str, path: str, timeout: float = 5) -> int:
    """GET ``path`` from the service as the load balancer would, in ``protocol``; the status."""
    if protocol == "HTTPS":
        # The load balancer does not validate target certificates (self-signed is fine).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", service.port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def health_check_request(run: StackRun, service: Service, bootstrapped: Bootstrap) -> tuple[int, set[int]]:
    """What the recorded target group's health check gets from the service, and what it accepts."""
    group: ResourceRecord = run.one("aws:lb/targetGroup:TargetGroup")
    check = group.inputs["healthCheck"]
    # "traffic-port": the port the targets receive traffic on, the target group's port.
    target_port = int(group.inputs["port"]) if check["port"] == "traffic-port" else int(check["port"])
    assert int(bootstrapped.env_file()["APP_PORT"]) == target_port, "the service listens where the check goes"
    status = request(service, check["protocol"], check["path"], timeout=check["timeout"])
    return status, matcher_codes(check["matcher"])


def matcher_codes(matcher: str) -> set[int]:
    """ELB matcher syntax: "200", "200,202" or "200-299"."""
    codes: set[int] = set()
    for part in matcher.split(","):
        low, _, high = part.partition("-")
        codes.update(range(int(low), int(high or low) + 1))
    return codes


def ready_status(service: Service) -> int:
    return request(service, "HTTPS", "/ready")


def the_secret(run: StackRun, database_port: int) -> dict[str, object]:
    return {
        "engine": "mysql",
        "host": "127.0.0.1",
        "port": database_port,
        "username": "payments_app",
        "password": SAMPLE_APP_DB_PASSWORD,
        "dbname": "payments",
    }


def published(service: Service) -> list[str]:
    return service.metrics.read_text().splitlines()


def test_health_service_passes_the_target_groups_health_check(
    stack_run: StackRun, bootstrapped: Bootstrap, tmp_path: Path, database: int
) -> None:
    with start_service(bootstrapped, tmp_path, the_secret(stack_run, database), _free_port()) as service:
        status, accepted = health_check_request(stack_run, service, bootstrapped)
        assert status in accepted
        # Traffic reaches the port in the target group's own protocol too.
        traffic = stack_run.one("aws:lb/targetGroup:TargetGroup").inputs["protocol"]
        assert request(service, traffic, "/health") == 200
        assert ready_status(service) == 200
        assert published(service)[0].endswith("--value 1 --unit Count --region eu-west-1")


@pytest.mark.parametrize("failure", ["secret unreadable", "database unreachable"])
def test_a_dependency_failure_does_not_fail_the_health_check(
    stack_run: StackRun, bootstrapped: Bootstrap, tmp_path: Path, failure: str
) -> None:
    closed_port = _free_port()
    secret = None if failure == "secret unreadable" else the_secret(stack_run, closed_port)
    with start_service(bootstrapped, tmp_path, secret, _free_port()) as service:
        status, accepted = health_check_request(stack_run, service, bootstrapped)
        assert status in accepted, "replacing the instance would not fix its dependencies"
        assert ready_status(service) == 503
        assert "--value 0" in published(service)[0]
        log = service.log.read_text()
        assert ("not readable" if secret is None else "not reachable") in log
        assert SAMPLE_APP_DB_PASSWORD not in log


def test_the_published_metric_is_the_one_the_alarm_watches(
    stack_run: StackRun, bootstrapped: Bootstrap, tmp_path: Path, database: int
) -> None:
    (alarm,) = [a for a in stack_run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if "app-dependencies" in a.name]
    with start_service(bootstrapped, tmp_path, the_secret(stack_run, database), _free_port()) as service:
        words = published(service)[0].split()
        sent = {words[i]: words[i + 1] for i in range(2, len(words) - 1, 2)}
        assert words[:2] == ["cloudwatch", "put-metric-data"]
        assert sent["--namespace"] == alarm.inputs["namespace"]
        assert sent["--metric-name"] == alarm.inputs["metricName"]
        assert dict(d.split("=", 1) for d in sent["--dimensions"].split(",")) == alarm.inputs["dimensions"]


# What health_server.main does, slowed down: the first metric is written, then (argv[3] seconds
# later) the port listens.
PUBLISHES_BEFORE_LISTENING = """
import socket, sys, time
from pathlib import Path
Path(sys.argv[1]).write_text("cloudwatch put-metric-data --value 1\\n")
time.sleep(float(sys.argv[3]))
server = socket.create_server(("127.0.0.1", int(sys.argv[2])))
time.sleep(60)
"""


@contextmanager
def publishing_before_listening(tmp_path: Path, delay: float) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    metrics, port = tmp_path / "metrics.log", _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", PUBLISHES_BEFORE_LISTENING, str(metrics), str(port), str(delay)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, port, metrics
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_service_counts_as_started_once_it_listens_not_once_it_published(tmp_path: Path) -> None:
    with publishing_before_listening(tmp_path, delay=1.0) as (process, port, metrics):
        wait_until_serving(process, port, metrics)
        assert metrics.read_text()
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass  # no ConnectionRefusedError: the first request finds the port open


def test_waiting_for_the_service_is_bounded(tmp_path: Path) -> None:
    with publishing_before_listening(tmp_path, delay=60) as (process, port, metrics):
        started = time.monotonic()
        with pytest.raises(AssertionError, match=r"has published a metric and does not listen"):
            wait_until_serving(process, port, metrics, timeout=0.5)
        assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- the module on its own


@pytest.fixture
def health_server(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("health_server_under_test", HEALTH_SERVER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "publish", lambda settings, healthy: None)
    return module


def test_nothing_counts_as_ready_before_a_check_has_succeeded(
    health_server: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The monotonic clock starts near zero at boot: 5 s after boot, no check has run yet.
    assert not health_server.dependencies_ready(now=5.0)
    monkeypatch.setattr(health_server, "check_dependencies", lambda settings: False)
    monkeypatch.setattr(health_server, "time", SimpleNamespace(monotonic=lambda: 5.0))
    health_server.check_once(settings=None)
    assert not health_server.dependencies_ready(now=6.0), "a failed check is not a success"


def test_a_success_counts_until_it_is_stale(health_server: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health_server, "check_dependencies", lambda settings: True)
    monkeypatch.setattr(health_server, "time", SimpleNamespace(monotonic=lambda: 100.0))
    health_server.check_once(settings=None)
    assert health_server.dependencies_ready(now=130.0)
    assert not health_server.dependencies_ready(now=100.0 + 91), "three missed checks (90 s) and it is stale"


def test_route_53_and_its_listener_rule_probe_the_path_that_means_reaches_the_writer(
    health_server: ModuleType,
) -> None:
    """Traffic follows the writer: Route 53 checks each site on the path the service answers 200 only
    while the database the secret names accepts connections (a passive site cannot reach a writer in
    the other region), not on liveness, which the target group keeps."""
    from components.between.origin_dns import OriginHealthCheck
    from components.site.load_balancer import HEALTH_PATH, READY_PATH

    assert OriginHealthCheck().path == READY_PATH == health_server.READY_PATH
    assert HEALTH_PATH == health_server.HEALTH_PATH != READY_PATH
