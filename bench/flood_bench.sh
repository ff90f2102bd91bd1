#!/usr/bin/env bash
# A caller connection flood (issue 23): IDLE sockets that connect and say nothing, reopened as soon
# as the gateway closes them, while wrk sends small chat requests on a few connections of its own.
# The same wrk run without the flood first, as the reference.
#
#   bench/flood_bench.sh            # about a minute; prints the figures (RESULTS.md is written by hand)
#
# Knobs: IDLE=20000 (held by two bench/hold_idle.py processes, so that each stays under a
# descriptor limit of 20,000) DURATION=15 CONNS=8 IO_THREADS=2
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IDLE=${IDLE:-20000} DURATION=${DURATION:-15} CONNS=${CONNS:-8} IO_THREADS=${IO_THREADS:-2}
BENCH_NAME=flood_bench
source "$ROOT/bench/lib.sh"
SWITCHYARD=${SWITCHYARD:-$ROOT/build/release/src/switchyard}  # another build to compare: SWITCHYARD=/path/to/switchyard
SIM="$ROOT/build/release/src/sim/switchyard-sim"
for tool in wrk "$SWITCHYARD" "$SIM"; do command -v "$tool" >/dev/null || die "$tool is required"; done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/flood-bench.XXXXXX")
trap_cleanup

"$SIM" --port 0 --ready-file "$WORK/sim.port" --threads 1 --tokens 8 --ttft-ms 0 --log-level warn >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_for_file "$WORK/sim.port" "${PIDS[-1]}"
cat >"$WORK/gateway.yaml" <<YAML
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: $IO_THREADS}
upstreams: [{name: sim, type: openai, base_url: "http://127.0.0.1:$(head -1 "$WORK/sim.port")", health: {enabled: false}}]
models: [{name: bench, deployments: [{upstream: sim, model: sim-model}]}]
YAML
"$SWITCHYARD" serve --config "$WORK/gateway.yaml" --ready-file "$WORK/gateway.port" >"$WORK/gateway.log" 2>&1 &
GW=$!
PIDS+=("$GW")
wait_for_file "$WORK/gateway.port" "$GW"
PORT=$(head -1 "$WORK/gateway.port")
log_machine

run_wrk() {  # run_wrk NAME: prints "rps p50 p99 errors"
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$ROOT/bench/wrk_chat.lua" "http://127.0.0.1:$PORT/" >"$WORK/$1.wrk"
    parse_wrk "$WORK/$1.wrk"
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$GW/status"; }
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n {print $2}'; }

read -r quiet_rps quiet_p50 quiet_p99 quiet_err < <(run_wrk quiet)
log "no flood: $quiet_rps req/s, p50 $quiet_p50 ms, p99 $quiet_p99 ms"
rss_before=$(rss_kib)
lines_before=$(wc -l <"$WORK/gateway.log")

for half in 1 2; do
    "$PYTHON" "$ROOT/bench/hold_idle.py" --port "$PORT" --count $((IDLE / 2)) --duration $((DURATION + 12)) \
        >"$WORK/hold$half.out" 2>&1 &
    PIDS+=($!)
done
sleep 8  # the holders open their sockets
cpu0=$(cpu_ns "$GW")
read -r flood_rps flood_p50 flood_p99 flood_err < <(run_wrk flood)
cpu1=$(cpu_ns "$GW")
rss_flood=$(rss_kib)
open=$(metric switchyard_open_connections) max=$(metric switchyard_connections_max)
shed=$(metric switchyard_connections_shed_total) refused=$(metric switchyard_connections_refused_total)
accept_errors=$(metric switchyard_accept_errors_total)
wait "${PIDS[@]: -2}" 2>/dev/null || true
lines=$(( $(wc -l <"$WORK/gateway.log") - lines_before ))
cat <<REPORT
- idle sockets: $IDLE held by two holders ($(cat "$WORK/hold1.out"); $(cat "$WORK/hold2.out"))
- gateway: max_connections $max (descriptor limit $(ulimit -Hn)), open during the flood $open, shed $shed, refused $refused, accept errors $accept_errors
- caller without the flood: $quiet_rps req/s, p50 $quiet_p50 ms, p99 $quiet_p99 ms, errors $quiet_err
- caller during the flood: $flood_rps req/s, p50 $flood_p50 ms, p99 $flood_p99 ms, errors $flood_err
- gateway CPU during the flood run: $(awk -v c=$((cpu1 - cpu0)) -v d="$DURATION" 'BEGIN {printf "%.0f%% of a core", 100 * c / 1e9 / d}')
- gateway RSS: $rss_before KiB before, $rss_flood KiB during the flood
- gateway log lines during the flood: $lines
REPORT
