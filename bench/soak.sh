#!/usr/bin/env bash
# The soak benchmark: tests/integration/soak_test.cpp (mixed traffic in all three dialects through
# a translated local tier and an Anthropic cloud tier, with engine faults, resets, health flaps,
# reloads, keys made and revoked, callers hanging up, unknown models) run for SECONDS instead of the
# suite's 45, the gateway's resident memory sampled every half second. Writes the samples to
# bench/out/soak.csv, a picture of RSS and requests over time to bench/out/soak.svg, and prints
# the summary line for bench/RESULTS.md.
#
#   bench/soak.sh                 # 30 minutes; SECONDS_TO_RUN=600 for ten
#   SKIP_BUILD=1 bench/soak.sh    # use build/release as it is
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
SECONDS_TO_RUN=${SECONDS_TO_RUN:-1800}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT="$ROOT/bench/out"

BENCH_NAME=soak
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $SKIP_BUILD != 1 ]]; then
    log "building (release preset)"
    cmake --preset release >/dev/null
    cmake --build --preset release --target soak_tests switchyard switchyard-sim >/dev/null
fi
mkdir -p "$OUT"
log "soak for ${SECONDS_TO_RUN}s on $(machine_desc)"
log_machine
SWITCHYARD_SOAK_SECONDS=$SECONDS_TO_RUN SWITCHYARD_SOAK_CSV="$OUT/soak.csv" \
    "$BUILD/tests/integration/soak_tests" --gtest_brief=0 | tee "$OUT/soak.log"
"$PYTHON" "$ROOT/bench/soak_plot.py" "$OUT/soak.csv" "$OUT/soak.svg"
log "wrote $OUT/soak.csv and $OUT/soak.svg"
