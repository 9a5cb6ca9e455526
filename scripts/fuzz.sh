#!/usr/bin/env bash
# Fuzz kefu's importers and rule-pack loader with cargo-fuzz (libFuzzer).
# Usage: scripts/fuzz.sh [TARGET|all] [SECONDS]   (default: all, 300 s each)
# Targets: `cargo fuzz list` in fuzz/. Seeds come from fuzz/corpus/TARGET
# (committed, read only); what the fuzzer grows goes to fuzz/work/TARGET and
# crashes to fuzz/artifacts/TARGET (both ignored by git). Only the stable
# toolchain is needed: RUSTC_BOOTSTRAP=1 lets it accept cargo-fuzz's -Z flags.
# Debug assertions (and so overflow checks) are on: an overflow is a crash.
# A crash: minimise it (cargo fuzz tmin), copy it to the importer's
# tests/data/fuzz/ folder (see docs/fuzzing.md) and fix it.
# FUZZ_SANITIZER=none drops AddressSanitizer and builds with optimisations
# (debug assertions stay on): several times more executions per second, for
# long campaigns. FUZZ_MAX_LEN caps the input size (-max_len); FUZZ_RUNS
# stops a target after that many executions (-runs), SECONDS still caps it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
TARGET=${1:-all}; SECS=${2:-300}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
if [ "$TARGET" = all ]; then
  TARGETS=$(cargo fuzz list)
else
  TARGETS=$TARGET
fi
SAN_FLAGS=()
if [ "${FUZZ_SANITIZER:-address}" = none ]; then
  SAN_FLAGS=(-s none --release)
fi
LEN_FLAGS=()
if [ -n "${FUZZ_MAX_LEN:-}" ]; then
  LEN_FLAGS+=(-max_len="$FUZZ_MAX_LEN")
fi
if [ -n "${FUZZ_RUNS:-}" ]; then
  LEN_FLAGS+=(-runs="$FUZZ_RUNS")
fi
for t in $TARGETS; do
  mkdir -p "work/$t" "artifacts/$t"
  echo "== $t: ${SECS}s"
  nice -n "${FUZZ_NICE:-10}" cargo fuzz run "${SAN_FLAGS[@]}" --debug-assertions "$t" "work/$t" "corpus/$t" -- \
    -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 "${LEN_FLAGS[@]}"
done
