#!/bin/bash
# App instance bootstrap (Amazon Linux 2023). Rendered by components/compute.py.
set -euo pipefail

install -d -m 0755 /opt/fintech /var/log/fintech

# The health endpoint the load balancer checks: 200 only when the database secret is readable.
base64 -d > /opt/fintech/health_server.py <<'PY'
${health_server_b64}
PY

cat > /etc/fintech.env <<'ENV'
SECRET_ARN=${secret_arn}
AWS_REGION=${region}
APP_PORT=${app_port}
ENV

cat > /etc/systemd/system/fintech-health.service <<'UNIT'
[Unit]
Description=Payments platform health endpoint
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=/etc/fintech.env
ExecStart=/usr/bin/python3 /opt/fintech/health_server.py
Restart=always
RestartSec=2
DynamicUser=no
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable --now fintech-health.service

# Ship the instance's logs to the stack's log group.
dnf install -y amazon-cloudwatch-agent
cat > /opt/aws/amazon-cloudwatch-agent/etc/fintech.json <<'CW'
{
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          {"file_path": "/var/log/fintech/*.log", "log_group_name": "${log_group}", "log_stream_name": "{instance_id}/app"}
        ]
      }
    }
  }
}
CW
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
  -c file:/opt/aws/amazon-cloudwatch-agent/etc/fintech.json
