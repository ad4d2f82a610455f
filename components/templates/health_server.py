"""Health endpoint of an app instance: 200 only while the instance can read its database secret.

Installed by user data as a systemd service. Configuration comes from the environment
(SECRET_ARN, AWS_REGION, APP_PORT). It never prints or returns the secret's value.
"""

import json
import logging
import os
import subprocess
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_ARN = os.environ["SECRET_ARN"]
REGION = os.environ["AWS_REGION"]
PORT = int(os.environ["APP_PORT"])
# The load balancer checks every few seconds; Secrets Manager need not be asked that often.
CACHE_SECONDS = 30

logging.basicConfig(
    filename="/var/log/fintech/health.log",
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(message)s",
)
_state = {"last_ok": 0.0}


def secret_readable() -> bool:
    """Reads (and decrypts) the secret, asking only for its version id back."""
    if time.monotonic() - _state["last_ok"] < CACHE_SECONDS:
        return True
    result = subprocess.run(
        ["aws", "secretsmanager", "get-secret-value", "--secret-id", SECRET_ARN, "--region", REGION,
         "--query", "VersionId", "--output", "text"],
        capture_output=True, text=True, timeout=5, check=False,
    )  # fmt: skip
    if result.returncode == 0:
        _state["last_ok"] = time.monotonic()
        return True
    logging.warning("database secret not readable: %s", result.stderr.strip()[:200])
    return False


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/health":
            self._reply(404, {"status": "not found"})
        elif secret_readable():
            self._reply(200, {"status": "ok"})
        else:
            self._reply(503, {"status": "database secret unavailable"})

    def _reply(self, status: int, body: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        logging.info("%s %s", self.address_string(), format % args)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
