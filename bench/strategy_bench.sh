#!/usr/bin/env bash
# Balancing strategies side by side: one tier of three fast simulators and one slow one, the same
# closed-loop load through switchyard with each strategy in turn (round-robin first, the
# baseline); bench/strategy_report.py writes requests/s, p50/p90/p99 latency and the slow
# engine's share into the strategy_bench section of bench/RESULTS.md, with ratios to round-robin.
#
#   bench/strategy_bench.sh     # about 80 s; SKIP_BUILD=1 to use build/release as it is
#
# Knobs: DURATION=15 CONCURRENCY=16 FAST_TTFT_MS=20 SLOW_TTFT_MS=200 RESULTS=bench/RESULTS.md
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
SWITCHYARD="$BUILD/src/switchyard"
SIM="$BUILD/src/sim/switchyard-sim"
PYTHON=${PYTHON:-/usr/bin/python3}
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.md}
DURATION=${DURATION:-15}
CONCURRENCY=${CONCURRENCY:-16}
FAST_TTFT_MS=${FAST_TTFT_MS:-20}
SLOW_TTFT_MS=${SLOW_TTFT_MS:-200}
SKIP_BUILD=${SKIP_BUILD:-0}
STRATEGIES=(round-robin weighted least-outstanding latency)

BENCH_NAME=strategy_bench
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $SKIP_BUILD != 1 ]]; then
    log "building (release preset)"
    cmake --preset release >/dev/null
    cmake --build --preset release --target switchyard switchyard-sim >/dev/null
fi

WORK=$(mktemp -d /tmp/strategy_bench.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ports=()
for name in fast-1 fast-2 fast-3 slow; do
    ttft=$FAST_TTFT_MS
    [[ $name == slow ]] && ttft=$SLOW_TTFT_MS
    "$SIM" --port 0 --ttft-ms "$ttft" --itl-ms 2 --tokens 16 --ready-file "$WORK/$name.ready" >"$WORK/$name.log" 2>&1 &
    pids+=($!)
    wait_for_file "$WORK/$name.ready" "${pids[-1]}"
    ports+=("$(head -1 "$WORK/$name.ready")")
done

runs=()
for strategy in "${STRATEGIES[@]}"; do
    {
        echo "listeners: [{address: 127.0.0.1, port: 0}]"
        echo "server: {io_threads: 1}"
        echo "upstreams:"
        i=0
        for name in fast-1 fast-2 fast-3 slow; do
            echo "  - {name: $name, base_url: \"http://127.0.0.1:${ports[$i]}\", health: {interval: 1s}}"
            i=$((i + 1))
        done
        echo "models:"
        echo "  - name: bench"
        echo "    strategy: $strategy"
        # Weights (used by the weighted strategy only) as an operator would set them: by capacity.
        echo "    deployments: [{upstream: fast-1, weight: 4}, {upstream: fast-2, weight: 4}, {upstream: fast-3, weight: 4}, {upstream: slow, weight: 1}]"
    } >"$WORK/$strategy.yaml"
    rm -f "$WORK/gateway.ready"
    "$SWITCHYARD" serve --config "$WORK/$strategy.yaml" --ready-file "$WORK/gateway.ready" >"$WORK/$strategy.log" 2>&1 &
    gateway=$!
    pids+=("$gateway")
    wait_for_file "$WORK/gateway.ready" "$gateway"
    port=$(head -1 "$WORK/gateway.ready")
    log "$strategy: $DURATION s at concurrency $CONCURRENCY"
    "$PYTHON" "$ROOT/bench/loadgen.py" --port "$port" --model bench --concurrency "$CONCURRENCY" --duration 2 \
        --out "$WORK/warmup.jsonl"  # the latency strategy learns here, as it would in production
    "$PYTHON" "$ROOT/bench/loadgen.py" --port "$port" --model bench --concurrency "$CONCURRENCY" \
        --duration "$DURATION" --out "$WORK/$strategy.jsonl"
    kill "$gateway"
    wait "$gateway" 2>/dev/null || true
    runs+=("$strategy" "$WORK/$strategy.jsonl")
done

COMMAND="DURATION=$DURATION CONCURRENCY=$CONCURRENCY FAST_TTFT_MS=$FAST_TTFT_MS SLOW_TTFT_MS=$SLOW_TTFT_MS bench/strategy_bench.sh"
"$PYTHON" "$ROOT/bench/strategy_report.py" --results "$RESULTS" --command "$COMMAND" \
    --commit "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes')" \
    --concurrency "$CONCURRENCY" --fast-ttft-ms "$FAST_TTFT_MS" --slow-ttft-ms "$SLOW_TTFT_MS" --duration "$DURATION" \
    "${runs[@]}"
