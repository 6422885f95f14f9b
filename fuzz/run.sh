#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20) from its seed corpus; fails on the first crash.
#   bash fuzz/run.sh 20
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Crashes are written to
# fuzz/artifacts/<target>/; the corpus libFuzzer grows goes to a scratch copy, so the checked-in seeds stay small.
set -euo pipefail
SECONDS_EACH="${1:-20}"
cd "$(dirname "$0")/.."
# Safe-Rust targets run without a sanitizer (it adds little there; -s none builds and runs faster; panics still
# crash). c_abi drives the unsafe C ABI, so it runs under AddressSanitizer, from its own target directory (the
# sanitizer changes every crate's flags).
TARGETS=(trace_csv model_file consent_record session dataset_lines c_abi)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/fuzz/target}"
sanitizer() { if [ "$1" = c_abi ]; then echo address; else echo none; fi; }
target_dir() { if [ "$1" = c_abi ]; then echo "$CARGO_TARGET_DIR-asan"; else echo "$CARGO_TARGET_DIR"; fi; }
for t in "${TARGETS[@]}"; do
  CARGO_TARGET_DIR="$(target_dir "$t")" cargo +nightly fuzz build -s "$(sanitizer "$t")" -O -a "$t"
done
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$scratch/$t"
  cp fuzz/corpus/"$t"/* "$scratch/$t"/ 2>/dev/null || true
  echo "== $t (${SECONDS_EACH}s)"
  log="$scratch/$t.log"
  if ! CARGO_TARGET_DIR="$(target_dir "$t")" cargo +nightly fuzz run -s "$(sanitizer "$t")" -O -a "$t" "$scratch/$t" \
        -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "!! $t: crash or failure (artifacts in fuzz/artifacts/$t/)"
    status=1
    continue
  fi
  grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec" "$log" | tail -n 3 || true
done
exit "$status"
