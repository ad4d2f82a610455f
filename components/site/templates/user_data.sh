#!/bin/bash
# App instance bootstrap (Amazon Linux 2023). Rendered by components/compute.py, which fills in
# the double-at-sign placeholders (bash keeps the dollar sign for its own variables).
#
# Order matters: packages are installed (with bounded retries), the certificate made and the log
# agent started first; the health service, which answers the load balancer's /health, starts
# last. A bootstrap that fails part-way exits before that, so the instance never passes the
# check half set up: the load balancer keeps it out of service and the Auto Scaling group
# replaces it once the grace period ends.
set -Eeuo pipefail

# Empty on an instance. Tests run this script in a scratch root with fake dnf and systemctl.
root="${FINTECH_ROOT:-}"
console="${FINTECH_CONSOLE:-/dev/console}"

log() {
  # stderr reaches /var/log/cloud-init-output.log; the console copy shows in
  # `aws ec2 get-console-output` without logging in to the instance.
  echo "fintech-bootstrap: $*" >&2
  { echo "fintech-bootstrap: $*" >>"$console"; } 2>/dev/null || true
}

fail() {
  log "FAILED: $*. The health service was not started: the load balancer keeps this instance out of service and the Auto Scaling group replaces it."
  exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

# retry ATTEMPTS COMMAND...: runs COMMAND up to ATTEMPTS times, waiting 5, 10, 20 ... seconds between.
retry() {
  local attempts=$1 delay=5 n=1
  shift
  until "$@"; do
    if ((n >= attempts)); then
      return 1
    fi
    log "attempt $n of $attempts failed: $*; retrying in ${delay}s"
    sleep "$delay"
    n=$((n + 1))
    delay=$((delay * 2))
  done
}

log "starting"

# 1. Packages: the CloudWatch agent, and openssl for the certificate (a no-op where the AMI has it).
retry 5 dnf install -y openssl amazon-cloudwatch-agent || fail "dnf install openssl amazon-cloudwatch-agent (5 attempts)"

# 2. Files: the health service, its settings and unit, the agent's configuration.
install -d -m 0755 "$root/opt/fintech" "$root/var/log/fintech" "$root/etc/systemd/system" \
  "$root/opt/aws/amazon-cloudwatch-agent/etc"
install -d -m 0700 "$root/etc/fintech/tls"

# Shipped gzip-compressed: user data is limited to 16 KB before base64 encoding.
base64 -d <<'PY' | gunzip >"$root/opt/fintech/health_server.py"
@@{health_server_gz_b64}
PY

cat >"$root/etc/fintech.env" <<'ENV'
SECRET_ARN=@@{secret_arn}
AWS_REGION=@@{region}
APP_PORT=@@{app_port}
TLS_CERT_FILE=/etc/fintech/tls/cert.pem
TLS_KEY_FILE=/etc/fintech/tls/key.pem
METRIC_NAMESPACE=@@{metric_namespace}
SERVICE_NAME=@@{service}
LOG_FILE=/var/log/fintech/health.log
ENV

cat >"$root/etc/systemd/system/fintech-health.service" <<'UNIT'
[Unit]
Description=Payments platform health endpoint (HTTPS)
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=/etc/fintech.env
ExecStart=/usr/bin/python3 /opt/fintech/health_server.py
Restart=always
RestartSec=2
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
UNIT

cat >"$root/opt/aws/amazon-cloudwatch-agent/etc/fintech.json" <<'CW'
{
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          {"file_path": "/var/log/fintech/*.log", "log_group_name": "@@{log_group}", "log_stream_name": "{instance_id}/app"}
        ]
      }
    }
  }
}
CW

# 3. The instance's own certificate for HTTPS from the load balancer, which does not validate it.
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=fintech-app" \
  -keyout "$root/etc/fintech/tls/key.pem" -out "$root/etc/fintech/tls/cert.pem" 2>/dev/null ||
  fail "openssl could not make the TLS certificate"
chmod 0600 "$root/etc/fintech/tls/key.pem"

# 4. Ship the instance's logs to the stack's log group.
retry 3 "$root/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s \
  -c "file:$root/opt/aws/amazon-cloudwatch-agent/etc/fintech.json" || fail "the CloudWatch agent did not start"

# 5. Last: the health service. From here on the load balancer may send traffic.
systemctl daemon-reload
systemctl enable --now fintech-health.service || fail "the health service did not start"
log "complete: health service started on port @@{app_port} (HTTPS)"
