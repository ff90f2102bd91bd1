#!/usr/bin/env bash
# The ledger outage benchmark: tests/integration/ledger_spool_test.cpp's
# LedgerSpool.APostgresOutageUnderLoadLosesAndDoublesNoRow with PostgreSQL stopped for SECONDS
# (the suite stops it for 2) while four callers keep sending requests: every answered request must
# have exactly one ledger row afterwards. Prints the summary line for bench/RESULTS.md.
#
#   bench/outage.sh                 # 10 minutes; SECONDS_DOWN=60 for one
#   SKIP_BUILD=1 bench/outage.sh    # use build/release as it is
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
SECONDS_DOWN=${SECONDS_DOWN:-600}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT="$ROOT/bench/out"

BENCH_NAME=outage
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $SKIP_BUILD != 1 ]]; then
    log "building (release preset)"
    cmake --preset release >/dev/null
    cmake --build --preset release --target integration_tests switchyard switchyard-sim >/dev/null
fi
mkdir -p "$OUT"
log "PostgreSQL down for ${SECONDS_DOWN}s under load on $(machine_desc)"
log_machine
SWITCHYARD_OUTAGE_SECONDS=$SECONDS_DOWN \
    "$BUILD/tests/integration/integration_tests" --gtest_filter='LedgerSpool.APostgresOutageUnderLoadLosesAndDoublesNoRow' \
    | tee "$OUT/outage.log"
grep '^outage:' "$OUT/outage.log"
