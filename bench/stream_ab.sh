#!/usr/bin/env bash
# Streaming relay, before and after: two switchyard binaries on the same simulator, alternating
# rounds, proxy CPU per relayed SSE event (perf stat's task-clock of the proxy over each round).
#
#   BASELINE=/path/to/old/switchyard bench/stream_ab.sh        # about 2 minutes
#
# Placement as in core_bench.sh: the proxies on CPU 0, switchyard-sim and wrk on CPU 1. Prints one
# line per round and the medians; the ratio is the figure (perf's window is a little longer than
# the load, so the absolute values overstate the CPU per event).
# Knobs: ROUNDS=5 STREAM_CONNS=64 STREAM_TOKENS=500 DURATION=5
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${BASELINE:?set BASELINE to the other switchyard binary}"
ROUNDS=${ROUNDS:-5} STREAM_CONNS=${STREAM_CONNS:-64} STREAM_TOKENS=${STREAM_TOKENS:-500} DURATION=${DURATION:-5}
AFTER="$ROOT/build/release/src/switchyard"
SIM="$ROOT/build/release/src/sim/switchyard-sim"
for tool in wrk perf taskset; do command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }; done
W=$(mktemp -d "${TMPDIR:-/tmp}/stream-ab.XXXXXX")
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$W"' EXIT

wait_file() { for _ in $(seq 200); do [[ -s $1 ]] && return; sleep 0.05; done; echo "no $1" >&2; exit 1; }
taskset -c 1 "$SIM" --port 0 --ready-file "$W/sim.port" --threads 1 --tokens 8 --ttft-ms 0 --itl-ms 0 \
    --log-level warn >"$W/sim.log" 2>&1 &
PIDS+=($!)
wait_file "$W/sim.port"
SIM_PORT=$(head -1 "$W/sim.port")
start() {  # name binary
    cat >"$W/$1.yaml" <<YAML
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 1}
upstreams: [{name: sim, type: openai, base_url: "http://127.0.0.1:$SIM_PORT", max_connections: 100000,
             max_idle_connections: 64, health: {enabled: false}}]
models: [{name: bench, deployments: [{upstream: sim, model: sim-model}]}]
YAML
    taskset -c 0 "$2" serve --config "$W/$1.yaml" --ready-file "$W/$1.port" --log-level warn >"$W/$1.log" 2>&1 &
    PIDS+=($!)
    echo $! >"$W/$1.pid"
    wait_file "$W/$1.port"
}
start after "$AFTER"
start before "$BASELINE"
for ((round = 1; round <= ROUNDS; round++)); do
    for name in after before; do
        port=$(head -1 "$W/$name.port")
        pid=$(cat "$W/$name.pid")
        STREAM_TOKENS=$STREAM_TOKENS taskset -c 1 wrk -t1 -c"$STREAM_CONNS" -d1s --timeout 30s \
            -s "$ROOT/bench/wrk_stream.lua" "http://127.0.0.1:$port/" >/dev/null
        perf stat -x, -e task-clock -p "$pid" -o "$W/perf.csv" -- sleep $((DURATION + 1)) &
        perf_pid=$!
        sleep 0.2
        STREAM_TOKENS=$STREAM_TOKENS taskset -c 1 wrk -t1 -c"$STREAM_CONNS" -d"${DURATION}s" --timeout 30s \
            -s "$ROOT/bench/wrk_stream.lua" "http://127.0.0.1:$port/" >"$W/wrk.out"
        wait "$perf_pid" || true
        events=$(awk '$1 == "SSE_EVENTS" {print $2}' "$W/wrk.out")
        awk -F, -v e="$events" -v n="$name" -v r="$round" \
            '/task-clock/ {printf "round %d %-6s %8d events  %6.0f ns of proxy CPU per event\n", r, n, e, $1 * 1e6 / e}' \
            "$W/perf.csv" | tee -a "$W/rounds.txt"
    done
done
for name in after before; do
    awk -v n="$name" '$3 == n {print $6}' "$W/rounds.txt" | sort -n |
        awk -v n="$name" '{ v[NR] = $1 } END { printf "median %-6s %6.0f ns per event\n", n, v[int((NR + 1) / 2)] }'
done
