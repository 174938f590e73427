#!/usr/bin/env bash
# Interop suites: start the real `warren` binary and drive it with pika
# and aio-pika (Python), amqplib (Node), RabbitMQ's rabbitmqadmin and the
# prometheus_client parser. Installs what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

python3 -c 'import pika' 2>/dev/null || python3 -m pip install --quiet 'pika==1.3.2'
python3 -c 'import aio_pika' 2>/dev/null || python3 -m pip install --quiet 'aio-pika==10.2.1'
python3 -c 'import prometheus_client' 2>/dev/null || python3 -m pip install --quiet 'prometheus-client==0.21.1'
# The web UI's browser tests: Playwright's Python package drives Debian's
# Chromium (no browser download).
python3 -c 'import playwright' 2>/dev/null || python3 -m pip install --quiet 'playwright==1.49.1'
if ! command -v chromium >/dev/null; then
  { apt-get install -y -qq chromium >/dev/null 2>&1; } || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
fi

# RabbitMQ's rabbitmqadmin v1 (a Python script): the installed one, else
# extracted from the Debian rabbitmq-server package without installing it.
rabbitmqadmin=$(command -v rabbitmqadmin || true)
if [ -z "$rabbitmqadmin" ]; then
  cache="$here/.cache"
  rabbitmqadmin="$cache/usr/bin/rabbitmqadmin"
  if [ ! -f "$rabbitmqadmin" ]; then
    mkdir -p "$cache"
    (cd "$cache" && { apt-get download rabbitmq-server 2>/dev/null || { apt-get update -qq && apt-get download rabbitmq-server; }; } \
      && dpkg -x rabbitmq-server_*.deb . && rm -f rabbitmq-server_*.deb)
  fi
fi
export RABBITMQADMIN=$rabbitmqadmin
if [ ! -d "$here/node_modules/amqplib" ]; then
  (cd "$here" && npm install --silent --no-audit --no-fund)
fi

cargo build --quiet -p warren-server --bin warren -p warren-cli --bin warrenctl -p warren-tests --bin test-pki
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
api_port=$(free_port)
metrics_port=$(free_port)
amqps_port=$(free_port)
https_port=$(free_port)
prometheus_tls_port=$(free_port)
data=$(mktemp -d)
log="$data/warren.log"
# Certificates made now: a CA, the server's, and clients' (good, expired,
# another CA's). AMQPS asks for client certificates (EXTERNAL as the CN)
# without requiring them.
pki="$data/pki"
target/debug/test-pki "$pki"
target/debug/warren --bind 127.0.0.1 --port "$port" --management-port "$api_port" --prometheus-port "$metrics_port" \
  --amqps-port "$amqps_port" --management-tls-port "$https_port" --prometheus-tls-port "$prometheus_tls_port" \
  --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --tls-ca "$pki/ca.pem" --tls-verify-peer \
  --tls-cert-login-from common_name \
  --data-dir "$data" --log-level warn >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break
  sleep 0.1
done

export WARREN_PORT_UNDER_TEST=$port
export WARREN_AMQPS_PORT_UNDER_TEST=$amqps_port WARREN_PKI_UNDER_TEST=$pki
echo "== pika against warren on port $port"
python3 "$here/pika_suite.py"
echo "== aio-pika against warren on port $port"
python3 "$here/aio_pika_suite.py"
echo "== amqplib against warren on port $port"
node "$here/amqplib_suite.js"
echo "== rabbitmqadmin and prometheus_client against warren's HTTP ports $api_port, $metrics_port"
WARREN_MANAGEMENT_PORT_UNDER_TEST=$api_port WARREN_PROMETHEUS_PORT_UNDER_TEST=$metrics_port \
  python3 "$here/management_suite.py"

echo "== the web UI in Chromium against warren's HTTP port $api_port"
WARREN_MANAGEMENT_PORT_UNDER_TEST=$api_port python3 "$here/ui_suite.py"
echo "== TLS: pika, warrenctl and prometheus_client against warren's TLS ports $amqps_port, $https_port, $prometheus_tls_port"
WARREN_HTTPS_PORT_UNDER_TEST=$https_port WARREN_PROMETHEUS_TLS_PORT_UNDER_TEST=$prometheus_tls_port \
  WARREN_PID_UNDER_TEST=$pid WARRENCTL_UNDER_TEST="$root/target/debug/warrenctl" TEST_PKI_UNDER_TEST="$root/target/debug/test-pki" \
  python3 "$here/tls_suite.py"

# SIGTERM stops the broker cleanly.
kill -TERM "$pid"
wait "$pid"
echo "interop suites passed"
