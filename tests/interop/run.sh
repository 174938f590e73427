#!/usr/bin/env bash
# Interop suites: start the real `warren` binary and drive it with pika
# (Python) and amqplib (Node). Installs pika and amqplib when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

python3 -c 'import pika' 2>/dev/null || python3 -m pip install --quiet 'pika==1.3.2'
if [ ! -d "$here/node_modules/amqplib" ]; then
  (cd "$here" && npm install --silent --no-audit --no-fund)
fi

cargo build --quiet -p warren-server --bin warren
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
log="$data/warren.log"
target/debug/warren --bind 127.0.0.1 --port "$port" --management-port 0 --prometheus-port 0 --data-dir "$data" --log-level warn >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break
  sleep 0.1
done

export WARREN_PORT_UNDER_TEST=$port
echo "== pika against warren on port $port"
python3 "$here/pika_suite.py"
echo "== amqplib against warren on port $port"
node "$here/amqplib_suite.js"

# SIGTERM stops the broker cleanly.
kill -TERM "$pid"
wait "$pid"
echo "interop suites passed"
