#!/usr/bin/env bash
# Installs Debian's MariaDB server for the rotation tests when it is missing.
# The tests start their own throw-away server on loopback (tests/rotation/conftest.py);
# this script only puts the binaries on the machine.
set -euo pipefail
if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-mariadb: no apt-get here; install MariaDB server yourself to run the rotation tests" >&2
  exit 0
fi
echo "setup-mariadb: installing mariadb-server (Debian package)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null
