#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for FUZZ_SECONDS (default 60) each,
# starting from the seed corpus (frames captured from pika, aio-pika,
# amqplib and lapin; a message log segment). Installs cargo-fuzz if it is
# missing. Uses the nightly toolchain when rustup has one, else stable with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags for the sanitizer).
# A crash fails the run; libFuzzer leaves the input in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-60}
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz@0.13.2
"${fuzz[@]}" build -O
for target in $("${fuzz[@]}" list); do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  cp -n seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  # -rss_limit_mb: the frame splitter may buffer up to frame_max per input.
  out=$("${fuzz[@]}" run -O "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 2>&1) || {
    echo "$out" | tail -40
    echo "fuzz target $target failed"
    exit 1
  }
  runs=$(echo "$out" | grep -o 'stat::number_of_executed_units: *[0-9]*' | grep -o '[0-9]*$' || echo '?')
  echo "fuzz $target: $runs executions in ${seconds}s, no crash"
done
