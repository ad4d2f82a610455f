"""A real MySQL-protocol server (MariaDB on loopback) and Secrets Manager faked by moto.

The server is started per test session in a temporary data directory and stopped at the
end; nothing is left running. `scripts/setup-system.sh` (run by `make test`) installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest


@dataclass(frozen=True)
class MariaDB:
    host: str
    port: int
    master_user: str
    master_password: str

    def connect(self, user: str, password: str, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(host=self.host, port=self.port, user=user, password=password, database=database)


def _binary(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server, installer = _binary("mariadbd"), _binary("mariadb-install-db")
    if server is None or installer is None:
        message = "MariaDB server not installed: run scripts/setup-system.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root: Path = tmp_path_factory.mktemp("mariadb")
    datadir, sock = root / "data", root / "mysqld.sock"
    user_args = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [installer, "--no-defaults", f"--datadir={datadir}", "--auth-root-authentication-method=socket",
         "--skip-test-db", *user_args],
        check=True, capture_output=True,
    )  # fmt: skip
    port = _free_port()
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", "--skip-name-resolve", f"--pid-file={root / 'mysqld.pid'}",
         f"--log-error={root / 'error.log'}", *user_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                admin = pymysql.connect(unix_socket=str(sock), user="root")
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline or process.poll() is not None:
                    log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
                    pytest.fail(f"MariaDB did not start:\n{log[-2000:]}")
                time.sleep(0.2)
        master_password = "Master-Pw-0123456789"
        with admin.cursor() as cursor:
            cursor.execute("CREATE USER 'master'@'%%' IDENTIFIED BY %s", (master_password,))
            cursor.execute("GRANT ALL PRIVILEGES ON *.* TO 'master'@'%' WITH GRANT OPTION")
        admin.commit()
        admin.close()
        yield MariaDB("127.0.0.1", port, "master", master_password)
    finally:
        process.terminate()
        process.wait(timeout=30)
