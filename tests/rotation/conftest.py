"""Real MySQL-protocol servers (MariaDB on loopback) and Secrets Manager faked by moto.

Two servers are started per test session, each in a temporary data directory, and stopped at
the end; nothing is left running. `scripts/setup-system.sh` (run by `make test`) installs them.

- ``mariadb``: plain TCP, for the tests of the rotation logic (``DB_TLS=disabled``).
- ``tls_mariadb``: like Aurora with ``require_secure_transport=ON``, a server certificate for
  ``localhost`` only, issued by a CA made here. Connections to 127.0.0.1 present the same
  certificate for a name that is not theirs, which hostname verification must refuse.

Shared by the test modules: `SecretsManagerService` (what Secrets Manager does around the
function), the ``aws``/``service``/``app_secret``/``tls`` fixtures, the secrets' makers, RDS faked
for one global database (`FakeRds`), and failure injection.
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pymysql
import pytest
import rotation  # lambdas/rotation is on the test path: the handler as Lambda imports it
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from moto import mock_aws
from moto.secretsmanager.models import secretsmanager_backends

MASTER_USER = "master"
MASTER_PASSWORD = "Master-Pw-0123456789"
TLS_HOSTNAME = "localhost"


@dataclass(frozen=True)
class MariaDB:
    host: str
    port: int
    master_user: str
    master_password: str
    ca_file: str | None = None
    """The test CA the server's certificate chains to; None for the plain server."""

    def connect(self, user: str, password: str, database: str | None = None) -> pymysql.connections.Connection:
        tls: dict[str, object] = {}
        if self.ca_file is not None:
            tls = {"ssl_ca": self.ca_file, "ssl_verify_cert": True, "ssl_verify_identity": True}
        return pymysql.connect(host=self.host, port=self.port, user=user, password=password, database=database, **tls)


@dataclass(frozen=True)
class CertAuthority:
    """A certificate authority made for the session, and the files the server uses."""

    ca_file: Path
    server_cert: Path
    server_key: Path


def _binary(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(directory: Path, common_name: str = "Rotation test CA") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed root, RSA 2048 like rds-ca-rsa2048-g1; its PEM is written to ``directory``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(_pem(cert))
    return key, cert


def issue_server_cert(
    ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, dns_names: list[str], ip_addresses: list[str]
) -> tuple[bytes, bytes]:
    """A server certificate (PEM) and its key (PEM) for exactly the given names."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns_names or ip_addresses)[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return _pem(cert), key_pem


def _start_server(root: Path, extra_args: list[str]) -> Iterator[int]:
    """Run a MariaDB server in ``root`` with a ``master`` user; yields its TCP port."""
    server, installer = _binary("mariadbd"), _binary("mariadb-install-db")
    if server is None or installer is None:
        message = "MariaDB server not installed: run scripts/setup-system.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    datadir, sock = root / "data", root / "mysqld.sock"
    user_args = ["--user=root"] if os.geteuid() == 0 else []
    # mariadb-install-db has been seen to fail now and then on a machine oversubscribed by parallel
    # test workers (no reason in its output): a second try on a clean data directory succeeds.
    for attempt in range(3):
        shutil.rmtree(datadir, ignore_errors=True)
        installed = subprocess.run(
            [installer, "--no-defaults", f"--datadir={datadir}", "--auth-root-authentication-method=socket",
             "--skip-test-db", *user_args],
            # Never the worker's stdin: under pytest-xdist it is the channel to the controller.
            check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if installed.returncode == 0:
            break
        time.sleep(1 + attempt)
    else:
        pytest.fail(
            f"mariadb-install-db failed ({installed.returncode}):\n{(installed.stdout + installed.stderr)[:3000]}"
        )
    port = _free_port()
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", "--skip-name-resolve", f"--pid-file={root / 'mysqld.pid'}",
         f"--log-error={root / 'error.log'}", *user_args, *extra_args],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # The socket is a secure transport to MariaDB: no certificate needed to set up.
                admin = pymysql.connect(unix_socket=str(sock), user="root")
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline or process.poll() is not None:
                    log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
                    pytest.fail(f"MariaDB did not start:\n{log[-2000:]}")
                time.sleep(0.2)
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE USER '{MASTER_USER}'@'%%' IDENTIFIED BY %s", (MASTER_PASSWORD,))
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{MASTER_USER}'@'%' WITH GRANT OPTION")
        admin.commit()
        admin.close()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    for port in _start_server(tmp_path_factory.mktemp("mariadb"), []):
        yield MariaDB("127.0.0.1", port, MASTER_USER, MASTER_PASSWORD)


@pytest.fixture(scope="session")
def session_ca(tmp_path_factory: pytest.TempPathFactory) -> CertAuthority:
    directory = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = make_ca(directory)
    cert, key = issue_server_cert(ca_key, ca_cert, [TLS_HOSTNAME], [])
    (directory / "server.pem").write_bytes(cert)
    (directory / "server-key.pem").write_bytes(key)
    return CertAuthority(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")


@pytest.fixture(scope="session")
def tls_mariadb(tmp_path_factory: pytest.TempPathFactory, session_ca: CertAuthority) -> Iterator[MariaDB]:
    """Aurora's TLS settings (require_secure_transport, TLS 1.2+) on a second server."""
    tls_args = [
        f"--ssl-ca={session_ca.ca_file}",
        f"--ssl-cert={session_ca.server_cert}",
        f"--ssl-key={session_ca.server_key}",
        "--require-secure-transport=ON",
        "--tls-version=TLSv1.2,TLSv1.3",
    ]
    for port in _start_server(tmp_path_factory.mktemp("mariadb-tls"), tls_args):
        yield MariaDB(TLS_HOSTNAME, port, MASTER_USER, MASTER_PASSWORD, ca_file=str(session_ca.ca_file))


# --------------------------------------------------------------------------- Secrets Manager, faked by moto


REGION = "eu-west-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's account
LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:rotation"
BOOTSTRAP_STAGE = "PULUMI_BOOTSTRAP"  # the label components/between/secrets.py puts on the version it writes
_counter = itertools.count()


class SecretsManagerService:
    """What the Secrets Manager service does around a rotation Lambda."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _secret(self, arn: str) -> Any:
        return secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets[arn]

    def enable_rotation(self, arn: str, days: int = 30) -> None:
        secret = self._secret(arn)
        secret.rotation_requested = True
        secret.rotation_enabled = True
        secret.rotation_lambda_arn = LAMBDA_ARN
        secret.auto_rotate_after_days = days

    def start(self, arn: str) -> str:
        """A new rotation: AWSPENDING is attached to a new version id that has no value yet."""
        token = str(uuid.uuid4())
        secret = self._secret(arn)
        secret.remove_version_stages_from_old_versions(["AWSPENDING"])
        secret.versions[token] = {"createdate": int(time.time()), "version_id": token, "version_stages": ["AWSPENDING"]}
        return token

    def run(self, arn: str, token: str, steps: tuple[str, ...] = rotation.STEPS, **clients: Any) -> None:
        """Invoke the function for ``steps``; ``clients`` are its other test seams (``rds``, ``peer``)."""
        for step in steps:
            event = {"SecretId": arn, "ClientRequestToken": token, "Step": step}
            rotation.lambda_handler(event, None, self.client, **clients)
        if steps and steps[-1] == "finishSecret":
            stages = self._secret(arn).versions[token]["version_stages"]
            if "AWSPENDING" in stages:
                stages.remove("AWSPENDING")

    def rotate(self, arn: str, **clients: Any) -> str:
        token = self.start(arn)
        self.run(arn, token, **clients)
        return token

    def current(self, arn: str) -> dict[str, Any]:
        # By stage: moto's default version does not follow update_secret_version_stage.
        return dict(json.loads(self.client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]))

    def stages(self, arn: str) -> dict[str, list[str]]:
        return dict(self.client.describe_secret(SecretId=arn)["VersionIdsToStages"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)  # Lambda sets it: the function's own region
    monkeypatch.delenv("PEER_REGION", raising=False)  # a one-region stack unless a test sets it
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("DB_TLS", "disabled")  # the loopback test server has no certificate
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def service(aws: Any) -> SecretsManagerService:
    return SecretsManagerService(aws)


def new_app_secret(
    aws: Any, db: MariaDB, *, password: str | None = None, host: str | None = None, master_arn: str | None = None
) -> str:
    """An app credential secret as the program writes it: connection fields only, labelled
    PULUMI_BOOTSTRAP. ``password`` makes one like stacks created before that rule (Pulumi's
    state holds it); ``host`` overrides where the secret says the database is; ``master_arn``
    names the master secret (default: a new RDS-managed-style one for ``db``'s master user)."""
    n = next(_counter)
    master = (
        master_arn
        or aws.create_secret(
            Name=f"rds-master-{n}",
            SecretString=json.dumps({"username": db.master_user, "password": db.master_password}),
        )["ARN"]
    )
    value: dict[str, Any] = {
        "engine": "mysql",
        "host": host or db.host,
        "port": db.port,
        "username": f"app{n}",
        "dbname": f"payments{n}",
        "masterarn": master,
    }
    if password is not None:
        value["password"] = password
    created = aws.create_secret(Name=f"app-db-{n}", SecretString=json.dumps(value))
    aws.update_secret_version_stage(
        SecretId=created["ARN"], VersionStage=BOOTSTRAP_STAGE, MoveToVersionId=created["VersionId"]
    )
    return str(created["ARN"])


@pytest.fixture
def app_secret(aws: Any, mariadb: MariaDB) -> str:
    return new_app_secret(aws, mariadb)


def can_login(db: MariaDB, secret: dict[str, Any]) -> bool:
    try:
        conn = db.connect(secret["username"], secret["password"], secret.get("dbname"))
    except pymysql.err.OperationalError:
        return False
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True


def bootstrap(aws: Any, arn: str) -> Any:
    return rotation.lambda_handler({"action": "bootstrap", "SecretId": arn}, None, aws)


# --------------------------------------------------------------------------- single-user secrets


def single_user_secret(aws: Any, value: dict[str, Any]) -> str:
    """A secret as the data tier writes it, its first version labelled like the app secret's."""
    created = aws.create_secret(Name=f"master-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(value))
    aws.update_secret_version_stage(
        SecretId=created["ARN"], VersionStage=BOOTSTRAP_STAGE, MoveToVersionId=created["VersionId"]
    )
    return str(created["ARN"])


def new_admin(db: MariaDB) -> dict[str, str]:
    """A user with the master's privileges (all, with grant option, as Aurora's master user)."""
    admin = {"username": f"admin_{uuid.uuid4().hex[:12]}", "password": f"Initial-{uuid.uuid4().hex}"}
    with db.connect(db.master_user, db.master_password) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (admin["username"], admin["password"]))
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (admin["username"],))
        conn.commit()
    return admin


def new_master_secret(aws: Any, db: MariaDB, *, host: str | None = None) -> str:
    """A master-like user and its secret holding the first password (the one Pulumi's state holds)."""
    value = {"engine": "mysql", "host": host or db.host, "port": db.port, **new_admin(db)}
    return single_user_secret(aws, value)


# --------------------------------------------------------------------------- RDS, faked: one global database


GLOBAL_ID = "fintech-prod-global"
GLOBAL_WRITER_ENDPOINT = f"{GLOBAL_ID}.global-a1b2c3d4e5f6.global.rds.amazonaws.com"
HOME_ARN = "arn:aws:rds:eu-west-1:123456789012:cluster:fintech-prod-cluster"
STANDBY_ARN = "arn:aws:rds:eu-central-1:123456789012:cluster:fintech-prod-standby-cluster"


class FakeRds:
    """DescribeGlobalClusters and DescribeDBClusters as RDS answers them, for one global database."""

    def __init__(self, members: list[dict[str, Any]], endpoints: dict[str, str]) -> None:
        self.members, self.endpoints = members, endpoints
        self.calls: list[tuple[str, str]] = []

    def describe_global_clusters(self, GlobalClusterIdentifier: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("DescribeGlobalClusters", GlobalClusterIdentifier))
        if GlobalClusterIdentifier != GLOBAL_ID:
            error = {"Error": {"Code": "GlobalClusterNotFoundFault", "Message": "not found"}}
            raise ClientError(error, "DescribeGlobalClusters")
        return {"GlobalClusters": [{"GlobalClusterIdentifier": GLOBAL_ID, "GlobalClusterMembers": self.members}]}

    def describe_db_clusters(self, DBClusterIdentifier: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("DescribeDBClusters", DBClusterIdentifier))
        if DBClusterIdentifier not in self.endpoints:
            error = {"Error": {"Code": "DBClusterNotFoundFault", "Message": "not found"}}
            raise ClientError(error, "DescribeDBClusters")
        return {"DBClusters": [{"DBClusterArn": DBClusterIdentifier, "Endpoint": self.endpoints[DBClusterIdentifier]}]}


def members(writer: str) -> list[dict[str, Any]]:
    return [
        {"DBClusterArn": arn, "IsWriter": arn == writer, "Readers": [], "GlobalClusterMemberRole": "x"}
        for arn in (HOME_ARN, STANDBY_ARN)
    ]


ENDPOINTS = {
    HOME_ARN: "fintech-prod-cluster.cluster-c1.eu-west-1.rds.amazonaws.com",
    STANDBY_ARN: "fintech-prod-standby-cluster.cluster-c2.eu-central-1.rds.amazonaws.com",
}


class FailOnce:
    """Wraps a callable so its first call raises after (or instead of) doing the work."""

    def __init__(self, target: Callable[..., Any], *, after: bool) -> None:
        self.target, self.after, self.failed = target, after, False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.failed:
            return self.target(*args, **kwargs)
        self.failed = True
        if self.after:
            self.target(*args, **kwargs)
        raise ConnectionError("injected failure")


class FlakyClient:
    """A Secrets Manager client one of whose operations fails once."""

    def __init__(self, client: Any, operation: str, *, after: bool) -> None:
        self._client = client
        self._failing = {operation: FailOnce(getattr(client, operation), after=after)}

    def __getattr__(self, name: str) -> Any:
        return self._failing.get(name) or getattr(self._client, name)


SHIPPED_BUNDLE = Path(__file__).resolve().parents[2] / "lambdas" / "rotation" / "rds-ca-bundle.pem"


@pytest.fixture
def tls(aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, session_ca: CertAuthority) -> Path:
    """The handler as deployed (TLS required), trusting the shipped RDS bundle plus the test CA."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(SHIPPED_BUNDLE.read_bytes() + session_ca.ca_file.read_bytes())
    monkeypatch.setenv("DB_TLS", "required")
    monkeypatch.setenv("DB_CA_BUNDLE", str(bundle))
    return bundle
