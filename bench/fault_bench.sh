#!/usr/bin/env bash
# The routing fault benchmark: three local simulators (tier 1) and one cloud simulator (tier 2);
# local-1 is killed KILL_AT seconds into the run and restarted on the same port at RESTART_AT.
# The same scenario runs through switchyard and through bench/naive_balancer.py, the round-robin
# balancer of the field report, and bench/fault_report.py writes success rate, p50/p99 latency,
# the share of traffic served locally (per phase and over time) and how long the restarted
# engine waited for traffic into the fault_bench section of bench/RESULTS.md.
#
#   bench/fault_bench.sh     # about 75 s; SKIP_BUILD=1 to use build/release as it is
#
# Knobs: DURATION=30 KILL_AT=10 RESTART_AT=20 CONCURRENCY=12 LOCAL_TTFT_MS=30 CLOUD_TTFT_MS=150
#   HEALTH_INTERVAL_MS=1000 COOLDOWN_MS=2000 RESULTS=bench/RESULTS.md
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
SWITCHYARD="$BUILD/src/switchyard"
SIM="$BUILD/src/sim/switchyard-sim"
PYTHON=${PYTHON:-/usr/bin/python3}
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.md}
DURATION=${DURATION:-30}
KILL_AT=${KILL_AT:-10}
RESTART_AT=${RESTART_AT:-20}
CONCURRENCY=${CONCURRENCY:-12}
LOCAL_TTFT_MS=${LOCAL_TTFT_MS:-30}
CLOUD_TTFT_MS=${CLOUD_TTFT_MS:-150}
HEALTH_INTERVAL_MS=${HEALTH_INTERVAL_MS:-1000}
COOLDOWN_MS=${COOLDOWN_MS:-2000}
SKIP_BUILD=${SKIP_BUILD:-0}

BENCH_NAME=fault_bench
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $SKIP_BUILD != 1 ]]; then
    log "building (release preset)"
    cmake --preset release >/dev/null
    cmake --build --preset release --target switchyard switchyard-sim >/dev/null
fi

WORK=$(mktemp -d /tmp/fault_bench.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s.%N; }

# start_sim NAME PORT TTFT_MS: a simulator on PORT; its pid in SIM_PID.
start_sim() {
    local name=$1 port=$2 ttft=$3
    rm -f "$WORK/$name.ready"
    "$SIM" --port "$port" --ttft-ms "$ttft" --itl-ms 2 --tokens 16 --ready-file "$WORK/$name.ready" \
        >"$WORK/$name.log" 2>&1 &
    SIM_PID=$!
    pids+=("$SIM_PID")
    wait_for_file "$WORK/$name.ready" "$SIM_PID"
}

# scenario NAME PROXY_PORT: runs the load while killing and restarting local-1.
scenario() {
    local name=$1 port=$2
    log "$name: $DURATION s at concurrency $CONCURRENCY; local-1 killed at $KILL_AT s, back at $RESTART_AT s"
    "$PYTHON" "$ROOT/bench/loadgen.py" --port "$port" --model bench --concurrency "$CONCURRENCY" \
        --duration "$DURATION" --out "$WORK/$name.jsonl" --start-file "$WORK/$name.start" &
    local load=$!
    while [[ ! -s $WORK/$name.start ]]; do sleep 0.01; done
    local start
    start=$(cat "$WORK/$name.start")
    sleep "$(awk -v s="$start" -v n="$(now)" -v k="$KILL_AT" 'BEGIN { d = s + k - n; print (d > 0 ? d : 0) }')"
    kill -9 "${LOCAL_PIDS[0]}"
    local killed
    killed=$(now)
    sleep "$(awk -v s="$start" -v n="$(now)" -v k="$RESTART_AT" 'BEGIN { d = s + k - n; print (d > 0 ? d : 0) }')"
    start_sim "$name-local-1-again" "${LOCAL_PORTS[0]}" "$LOCAL_TTFT_MS"
    local restarted
    restarted=$(now)
    wait "$load"
    awk -v s="$start" -v k="$killed" -v r="$restarted" 'BEGIN { printf "%.3f %.3f\n", k - s, r - s }' \
        >"$WORK/$name.events"
}

# start_fleet: three local simulators and a cloud one on fresh ports.
start_fleet() {
    LOCAL_PORTS=() LOCAL_PIDS=()
    for i in 1 2 3; do
        local port
        port=$(free_port)
        start_sim "local-$i" "$port" "$LOCAL_TTFT_MS"
        LOCAL_PORTS+=("$port") LOCAL_PIDS+=("$SIM_PID")
    done
    CLOUD_PORT=$(free_port)
    start_sim cloud "$CLOUD_PORT" "$CLOUD_TTFT_MS"
}

stop_all() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}

# 1. switchyard
start_fleet
GATEWAY_PORT=$(free_port)
cat >"$WORK/switchyard.yaml" <<YAML
listeners: [{address: 127.0.0.1, port: $GATEWAY_PORT}]
server: {io_threads: 1}
upstreams:
YAML
for i in 1 2 3; do
    cat >>"$WORK/switchyard.yaml" <<YAML
  - name: local-$i
    type: llama-server
    base_url: http://127.0.0.1:${LOCAL_PORTS[$((i - 1))]}
    health: {interval: ${HEALTH_INTERVAL_MS}ms, timeout: 500ms, unhealthy_threshold: 1}
    breaker: {consecutive_failures: 3, cooldown: ${COOLDOWN_MS}ms}
YAML
done
cat >>"$WORK/switchyard.yaml" <<YAML
  - name: cloud
    base_url: http://127.0.0.1:$CLOUD_PORT/v1
models:
  - name: bench
    strategy: least-outstanding
    deployments:
      - {upstream: local-1}
      - {upstream: local-2}
      - {upstream: local-3}
      - {upstream: cloud, tier: 2}
YAML
"$SWITCHYARD" serve --config "$WORK/switchyard.yaml" --ready-file "$WORK/gateway.ready" >"$WORK/gateway.log" 2>&1 &
pids+=($!)
wait_for_file "$WORK/gateway.ready" "${pids[-1]}"
scenario switchyard "$GATEWAY_PORT"
stop_all

# 2. the field report's balancer
start_fleet
BALANCER_PORT=$(free_port)
"$PYTHON" "$ROOT/bench/naive_balancer.py" --port "$BALANCER_PORT" \
    --local "http://127.0.0.1:${LOCAL_PORTS[0]}" --local "http://127.0.0.1:${LOCAL_PORTS[1]}" \
    --local "http://127.0.0.1:${LOCAL_PORTS[2]}" --cloud "http://127.0.0.1:$CLOUD_PORT" >"$WORK/naive.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    "$PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $BALANCER_PORT), 1)" 2>/dev/null && break
    sleep 0.05
done
scenario naive "$BALANCER_PORT"
stop_all

COMMAND="DURATION=$DURATION KILL_AT=$KILL_AT RESTART_AT=$RESTART_AT CONCURRENCY=$CONCURRENCY LOCAL_TTFT_MS=$LOCAL_TTFT_MS CLOUD_TTFT_MS=$CLOUD_TTFT_MS HEALTH_INTERVAL_MS=$HEALTH_INTERVAL_MS COOLDOWN_MS=$COOLDOWN_MS bench/fault_bench.sh"
"$PYTHON" "$ROOT/bench/fault_report.py" --results "$RESULTS" --command "$COMMAND" \
    --commit "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes')" \
    --health-interval-ms "$HEALTH_INTERVAL_MS" --cooldown-ms "$COOLDOWN_MS" --concurrency "$CONCURRENCY" \
    --local-ttft-ms "$LOCAL_TTFT_MS" --cloud-ttft-ms "$CLOUD_TTFT_MS" \
    switchyard "$WORK/switchyard.jsonl" "$WORK/switchyard.events" naive "$WORK/naive.jsonl" "$WORK/naive.events"
rm -rf "$WORK"
