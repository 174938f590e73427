#!/usr/bin/env bash
# Runs every Warren test on a fresh machine: formatting and lints, the Rust
# unit and integration tests, the interop suites (pika, aio-pika, amqplib,
# rabbitmqadmin) against a freshly built `warren` binary, then a bounded
# fuzzing run of every decoder. Installs what those need.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
rm -f target/tmp/crash-report.txt target/tmp/full-disk-report.txt
cargo test --workspace
# The crash test's totals (SIGKILL cycles, confirmed, recovered, lost) and
# the full-disk test's (offered, confirmed, nacked, recovered); the latter
# mounts a tmpfs, so it needs root, as CI has.
cat target/tmp/crash-report.txt 2>/dev/null || true
if [ "$(id -u)" = 0 ]; then
  cat target/tmp/full-disk-report.txt
else
  echo "full-disk test skipped: not root"
fi
if [ -x tests/interop/run.sh ]; then
  tests/interop/run.sh
fi
# Idle connections up to the open-file limit, 100,000 queues, 100 x 100
# publishers and consumers, on a release build.
tests/scale.sh
# Every decoder fuzzed for a bounded time (FUZZ_SECONDS per target).
tests/fuzz.sh
echo "all tests passed"
