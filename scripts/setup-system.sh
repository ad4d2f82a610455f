#!/usr/bin/env bash
# Installs the Debian packages the offline checks use, when they are missing. Name what you need
# (no argument: both):
#   graphviz   `dot`, which draws the architecture pictures of the offline plan (`make plan` needs only this)
#   mariadb    mariadb-server, the real MySQL-protocol server the rotation tests start on loopback (`make test`)
# The tests start and stop their own server; this script only puts the binaries on the machine.
set -euo pipefail
[ $# -eq 0 ] && set -- graphviz mariadb
missing=()
for want in "$@"; do
  case "$want" in
    graphviz) command -v dot >/dev/null 2>&1 || missing+=(graphviz) ;;
    mariadb) command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server) ;;
    *) echo "setup-system: unknown component '$want' (graphviz, mariadb)" >&2; exit 2 ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: no apt-get here; install ${missing[*]} yourself" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "setup-system: installing ${missing[*]} (Debian packages)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
