"""Health service of an app instance, installed by user data as a systemd unit.

``/health`` is the load balancer's check and a liveness check only: 200 whenever this process
serves. The Auto Scaling group replaces instances that fail it, and a new instance cannot fix a
Secrets Manager, KMS, endpoint or database problem; if such a regional problem failed ``/health``
every instance would fail it and the group would replace the whole fleet again and again.

Whether the instance's dependencies work (the database secret can be read and the database
accepts TCP connections at the host and port it names) is checked in the background every
``CHECK_SECONDS``, answered on ``/ready`` and published as the CloudWatch metric
``<METRIC_NAMESPACE>/DependencyHealthy`` (1 or 0), which the monitoring tier alarms on.

Serves TLS with the instance's self-signed certificate (the load balancer connects over HTTPS
and does not validate target certificates). Configuration comes from the environment (see
user_data.sh). The secret's value is held in memory for one check and never logged or returned.
Runs on the AL2023 system Python, 3.9.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEALTH_PATH = "/health"
READY_PATH = "/ready"
METRIC_NAME = "DependencyHealthy"
# The metric's alarm looks at 1-minute periods: two checks a minute leave none empty.
CHECK_SECONDS = 30
# A success older than this (three missed checks) no longer counts as ready.
STALE_SECONDS = 90
CALL_TIMEOUT_SECONDS = 10
CONNECT_TIMEOUT_SECONDS = 5
HANDSHAKE_TIMEOUT_SECONDS = 10

# Monotonic time of the last successful dependency check. None until one has succeeded: the
# monotonic clock starts near zero at boot, so a 0.0 here would count as "just succeeded".
_state: dict[str, float | None] = {"last_ok": None}


@dataclass(frozen=True)
class Settings:
    secret_arn: str
    region: str
    port: int
    cert_file: str
    key_file: str
    metric_namespace: str
    service: str
    """Value of the metric's ``Service`` dimension (the app tier's name)."""
    log_file: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            secret_arn=env["SECRET_ARN"],
            region=env["AWS_REGION"],
            port=int(env["APP_PORT"]),
            cert_file=env["TLS_CERT_FILE"],
            key_file=env["TLS_KEY_FILE"],
            metric_namespace=env["METRIC_NAMESPACE"],
            service=env["SERVICE_NAME"],
            log_file=env.get("LOG_FILE", "/var/log/fintech/health.log"),
        )


def dependencies_ready(now: float | None = None) -> bool:
    """True only if a dependency check has succeeded, and recently."""
    last_ok = _state["last_ok"]
    if last_ok is None:
        return False
    return (time.monotonic() if now is None else now) - last_ok < STALE_SECONDS


def _aws(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["aws", *args, "--region", settings.region],
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT_SECONDS,
        check=False,
    )


def _database_address(settings: Settings) -> tuple[str, int] | None:
    """Host and port named in the secret; None (logged) if it cannot be read."""
    try:
        result = _aws(
            settings,
            "secretsmanager", "get-secret-value", "--secret-id", settings.secret_arn,
            "--query", "SecretString", "--output", "text",
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        logging.warning("database secret not readable: %s", type(exc).__name__)
        return None
    if result.returncode != 0:
        # The CLI's error names the secret and the failure, never the value.
        logging.warning("database secret not readable: %s", result.stderr.strip()[:200])
        return None
    try:
        secret: Any = json.loads(result.stdout)
        return str(secret["host"]), int(secret["port"])
    except (ValueError, TypeError, KeyError) as exc:
        # Only the exception's type: its message could quote part of the secret.
        logging.warning("database secret has no usable host and port: %s", type(exc).__name__)
        return None


def check_dependencies(settings: Settings) -> bool:
    address = _database_address(settings)
    if address is None:
        return False
    try:
        with socket.create_connection(address, timeout=CONNECT_TIMEOUT_SECONDS):
            return True
    except OSError as exc:
        logging.warning("database %s:%s not reachable: %s", address[0], address[1], exc)
        return False


def publish(settings: Settings, healthy: bool) -> None:
    try:
        result = _aws(
            settings,
            "cloudwatch", "put-metric-data", "--namespace", settings.metric_namespace,
            "--metric-name", METRIC_NAME, "--dimensions", f"Service={settings.service}",
            "--value", "1" if healthy else "0", "--unit", "Count",
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        logging.warning("could not publish %s: %s", METRIC_NAME, type(exc).__name__)
        return
    if result.returncode != 0:
        logging.warning("could not publish %s: %s", METRIC_NAME, result.stderr.strip()[:200])


def check_once(settings: Settings) -> bool:
    healthy = check_dependencies(settings)
    if healthy:
        _state["last_ok"] = time.monotonic()
    publish(settings, healthy)
    return healthy


def run_checks(settings: Settings, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            check_once(settings)
        except Exception:  # a failed check must not end the loop (and with it the metric)
            logging.exception("dependency check failed unexpectedly")
        stop.wait(CHECK_SECONDS)


class Handler(BaseHTTPRequestHandler):
    server_version = "fintech-health"

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            # Liveness only: this process answers. Dependencies are /ready's business.
            self._reply(200, {"status": "ok"})
        elif self.path == READY_PATH:
            if dependencies_ready():
                self._reply(200, {"status": "ready"})
            else:
                self._reply(503, {"status": "database secret or database unavailable"})
        else:
            self._reply(404, {"status": "not found"})

    def _reply(self, status: int, body: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logging.info("%s %s", self.address_string(), format % args)


class TLSServer(ThreadingHTTPServer):
    """HTTPS: the TLS handshake runs in the request's thread, so a slow client never blocks accept."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext) -> None:
        super().__init__(address, Handler)
        self.context = context

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, client = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), client

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
        request.do_handshake()
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logging.info("connection from %s failed", client_address, exc_info=True)


def tls_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.cert_file, settings.key_file)
    return context


def main() -> None:
    settings = Settings.from_env(os.environ)
    logging.basicConfig(filename=settings.log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    threading.Thread(target=run_checks, args=(settings, threading.Event()), daemon=True).start()
    TLSServer(("0.0.0.0", settings.port), tls_context(settings)).serve_forever()


if __name__ == "__main__":
    main()
