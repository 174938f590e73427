#!/usr/bin/env bash
# Scale: a release `warren` driven by `warren-perf` from another process.
# - As many idle connections as the machine's open-file limit allows, up
#   to 100,000 (each side raises its soft limit to the hard one, as
#   operators do with `ulimit -n`; above ~28,000 the client spreads over
#   several loopback source addresses): all open, and under 10 KiB of
#   the broker's resident memory each.
# - 100,000 queues, transient then durable: declared, all listed by the
#   management API (whole, and one page), deleted.
# - 100 publishers x 100 consumers on 100 queues: no queue starved.
# Prints each run's JSON line (rates, memory per connection and queue).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release -p warren-server --bin warren -p warren-perf --bin warren-perf
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
api_port=$(free_port)
data=$(mktemp -d)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
limit=$(ulimit -n)
connections=$(( limit > 100500 ? 100000 : limit - 500 ))
target/release/warren --bind 127.0.0.1 --port "$port" --management-port "$api_port" --prometheus-port 0 \
  --max-connections $((connections + 100)) --data-dir "$data" --log-level warn >"$data/warren.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break
  sleep 0.1
done
uri="amqp://guest:guest@127.0.0.1:$port/%2f"
perf() { target/release/warren-perf "$@" --uri "$uri" --broker-pid "$pid" --timeout 120; }
# A JSON field of the line in $1, by a Python expression on `d`.
field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }

echo "== $connections idle connections (open-file limit $limit)"
sources=$(python3 -c "print(','.join(f'127.0.0.{i}' for i in range(2, 2 + $connections // 25000 + 1)))")
line=$(perf connections --count "$connections" --parallel 64 --hold 3 --sources "$sources")
echo "$line"
per=$(field "$line" 'round(d["rss_per_connection"])')
if [ "$per" -ge 10240 ]; then
  echo "FAIL: $per bytes of resident memory per idle connection (limit 10 KiB)"
  exit 1
fi

api() { curl -sf -u guest:guest "http://127.0.0.1:$api_port$1"; }
for durable in "" --durable; do
  echo "== 100000 queues $durable"
  perf queues --count 100000 $durable --hold 15 --prefix "scale${durable}" >"$data/queues.json" &
  queues=$!
  for _ in $(seq 1 1200); do
    n=$(api /api/overview | python3 -c 'import json,sys; print(json.load(sys.stdin)["object_totals"]["queues"])')
    [ "$n" = 100000 ] && break
    sleep 0.25
  done
  listed=$(api /api/queues | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  page=$(api "/api/queues?page=500&page_size=100" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["filtered_count"], len(d["items"]))')
  wait "$queues"
  cat "$data/queues.json"
  left=$(api /api/overview | python3 -c 'import json,sys; print(json.load(sys.stdin)["object_totals"]["queues"])')
  echo "listed $listed, page 500: $page, left after delete: $left"
  if [ "$listed" != 100000 ] || [ "$page" != "100000 100" ] || [ "$left" != 0 ]; then
    echo "FAIL: 100000 queues expected listed and then gone"
    exit 1
  fi
done

echo "== 100 publishers x 100 consumers on 100 queues"
line=$(perf throughput --producers 100 --consumers 100 --queues 100 --duration 5)
echo "$line"
starved=$(field "$line" 'd["fairness"]["queues"]["starved"] + d["fairness"]["consumers"]["starved"]')
if [ "$starved" != 0 ]; then
  echo "FAIL: $starved queues or consumers got nothing in 5 s"
  exit 1
fi
echo "scale tests passed"
