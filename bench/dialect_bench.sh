#!/usr/bin/env bash
# Translated streams against passthrough, through the whole gateway (issue 21's speed goal measured
# end to end, beside translate_bench's translator-only figures): one switchyard on CPU 0 in front of
# switchyard-sim playing Anthropic's Messages API (CPU 1, with wrk), and callers of each dialect
# asking model "m" for the same stream: a Messages caller's goes through untranslated, a
# Responses or chat caller's is translated messages -> responses / chat event by event. The figure
# is the gateway's CPU per stream (utime + stime from /proc over each wrk run) divided by the events
# the upstream sent (what a Messages caller receives), and its ratio to passthrough, per round.
#
#   bench/dialect_bench.sh            # about 2 minutes; SKIP_BUILD=1 to use build/release as it is
#
# Knobs: ROUNDS=5 CONNS=32 DURATION=5 STREAM_TOKENS=200 (text streams) ARGS_BYTES=1400 (tool
# streams: one call whose arguments arrive in 8-byte slices)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5} CONNS=${CONNS:-32} DURATION=${DURATION:-5} STREAM_TOKENS=${STREAM_TOKENS:-200}
ARGS_BYTES=${ARGS_BYTES:-1400} SKIP_BUILD=${SKIP_BUILD:-0}
SWITCHYARD=${SWITCHYARD:-$ROOT/build/release/src/switchyard}
SIM="$ROOT/build/release/src/sim/switchyard-sim"
for tool in wrk taskset; do command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }; done
if [[ $SKIP_BUILD != 1 ]]; then
    cmake --build "$ROOT/build/release" --target switchyard switchyard-sim >/dev/null
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/dialect-bench.XXXXXX")
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$W"' EXIT
wait_file() { for _ in $(seq 200); do [[ -s $1 ]] && return; sleep 0.05; done; echo "no $1" >&2; exit 1; }

taskset -c 1 "$SIM" --port 0 --ready-file "$W/sim.port" --threads 1 --ttft-ms 0 --itl-ms 0 --log-level warn \
    >"$W/sim.log" 2>&1 &
PIDS+=($!)
wait_file "$W/sim.port"
cat >"$W/gw.yaml" <<YAML
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 1}
keys: [{name: bench, key: sk-bench-caller-0001}]
upstreams:
  - {name: claude, type: anthropic, api_key: sk-ant-bench, base_url: "http://127.0.0.1:$(head -1 "$W/sim.port")/v1",
     max_connections: 100000, max_idle_connections: 64, health: {enabled: false}}
models: [{name: m, deployments: [{upstream: claude, model: sim-messages}]}]
YAML
taskset -c 0 "$SWITCHYARD" serve --config "$W/gw.yaml" --ready-file "$W/gw.port" --log-level warn >"$W/gw.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
wait_file "$W/gw.port"
URL="http://127.0.0.1:$(head -1 "$W/gw.port")/"
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }

run() {  # run DIALECT TOOL SECONDS -> "requests events ticks"
    local before after
    before=$(cpu_ticks)
    DIALECT=$1 TOOL=$2 STREAM_TOKENS=$STREAM_TOKENS ARGS_BYTES=$ARGS_BYTES taskset -c 1 wrk -t1 -c"$CONNS" -d"${3}s" \
        --timeout 30s -s "$ROOT/bench/wrk_dialect.lua" "$URL" >"$W/wrk.out"
    after=$(cpu_ticks)
    if [[ $(awk '$1 == "BAD" {print $2}' "$W/wrk.out") != 0 ]]; then
        echo "some answers were not 200: $(cat "$W/wrk.out")" >&2
        exit 1
    fi
    echo "$(awk '$1 == "REQUESTS" {print $2}' "$W/wrk.out") $(awk '$1 == "SSE_EVENTS" {print $2}' "$W/wrk.out") $((after - before))"
}

printf '%s\n' "stream caller round requests upstream_events/stream cpu_us/stream ns/upstream_event ratio" >"$W/rows"
for stream in text tool; do
    tool=0
    [[ $stream == tool ]] && tool=1
    for dialect in messages responses chat; do run "$dialect" "$tool" 1 >/dev/null; done  # warm up
    for ((round = 1; round <= ROUNDS; round++)); do
        per_stream=""
        for dialect in messages responses chat; do
            read -r requests events ticks < <(run "$dialect" "$tool" "$DURATION")
            # The upstream's events per stream: what the Messages caller, whose stream is not
            # translated, received.
            [[ $dialect == messages ]] && per_stream=$(awk -v e="$events" -v r="$requests" 'BEGIN {printf "%.1f", e / r}')
            awk -v s="$stream" -v d="$dialect" -v round="$round" -v r="$requests" -v t="$ticks" -v hz="$TICKS" \
                -v u="$per_stream" 'BEGIN {
                    us = t / hz * 1e6 / r
                    printf "%s %s %d %d %s %.1f %.0f\n", s, d, round, r, u, us, us * 1000 / u }' >>"$W/rows"
        done
    done
done
# The ratio of each translated run to the passthrough run of its round, then medians.
awk 'NR == 1 {print; next}
     $2 == "messages" {base[$1, $3] = $7}
     {printf "%s %s\n", $0, ($2 == "messages") ? "peer" : sprintf("%.2f", $7 / base[$1, $3])}' "$W/rows" >"$W/table"
column -t "$W/table"
echo
for stream in text tool; do
    for dialect in messages responses chat; do
        awk -v s="$stream" -v d="$dialect" '$1 == s && $2 == d {print $7, $8}' "$W/table" | sort -n |
            awk -v s="$stream" -v d="$dialect" '{ v[NR] = $1; q[NR] = $2 }
                END { m = int((NR + 1) / 2); printf "median %-4s %-9s %6.0f ns of gateway CPU per upstream event  %s\n", s, d, v[m], q[m] }'
    done
done
