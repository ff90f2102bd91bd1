#!/usr/bin/env bash
# What sharing rate limits in Redis costs one gateway instance: requests/s with a key's limits
# in-process against the same limits taken in Redis (`state: redis://...`), in one run.
#
#   bench/state_bench.sh           # about 2 minutes; rewrites the state_bench section of bench/RESULTS.md
#
# Three gateway processes run side by side on the same simulator, identical but for `state:`; a key
# with request and token limits high enough never to refuse, so every request takes its limits:
# in-process; in Redis with the default leases (one GCRA script call per up to 64 requests of an
# I/O thread); and in Redis with `max_lease: 1` (one script call awaited before every request, as
# a tight limit has). wrk
# drives small non-streaming chat completions at each in alternating rounds (the order rotates);
# medians over the rounds, and the gateway's CPU time per request (schedstat).
#
# Placement on the 2-core machine: the gateway under test alone on PROXY_CPU; switchyard-sim,
# redis-server and wrk share LOAD_CPU.
#
# Knobs (environment): ROUNDS=5 DURATION=8 WARMUP=2 CONNS=64 PROXY_CPU=0 LOAD_CPU=1 SKIP_BUILD=0
#   RESULTS=bench/RESULTS.md
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
SWITCHYARD="$BUILD/src/switchyard"
SIM="$BUILD/src/sim/switchyard-sim"
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.md}

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
PYTHON=${PYTHON:-/usr/bin/python3}

COMMAND_LINE=""
for var in ROUNDS DURATION WARMUP CONNS PROXY_CPU LOAD_CPU; do COMMAND_LINE="$COMMAND_LINE$var=${!var} "; done
COMMAND_LINE="${COMMAND_LINE}bench/state_bench.sh"

BENCH_NAME=state_bench
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in wrk redis-server redis-cli taskset curl "$PYTHON"; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building (release preset, -j2)"
    [[ -f "$BUILD/build.ninja" ]] || (cd "$ROOT" && cmake --preset release >/dev/null)
    nice ninja -j2 -C "$BUILD" switchyard switchyard-sim >/dev/null || die "build failed"
fi
for bin in "$SWITCHYARD" "$SIM"; do [[ -x "$bin" ]] || die "$bin is missing"; done

# Only the PIDs started here are ever signalled.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-state-bench.XXXXXX")
trap_cleanup

REDIS_PORT=$(free_port)
taskset -c "$LOAD_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for ((i = 0; i < 100; i++)); do
    [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] && break
    sleep 0.05
done
[[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] || die "redis-server did not start"

taskset -c "$LOAD_CPU" "$SIM" --port 0 --ready-file "$WORK/sim.port" --threads 1 --tokens 8 --ttft-ms 0 \
    --itl-ms 0 --log-level warn >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
PIDS+=("$SIM_PID")
wait_for_file "$WORK/sim.port" "$SIM_PID"
SIM_PORT=$(head -n1 "$WORK/sim.port")

declare -A GW_PID GW_PORT
start_gateway() {  # start_gateway NAME STATE_YAML
    local name=$1 state=$2
    cat >"$WORK/$name.yaml" <<EOF
# Written by bench/state_bench.sh: one I/O thread; a key whose limits never refuse.
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 1}
$state
keys:
  - name: bench
    key: sk-bench-0000000001
    limits: {rpm: 1000000000, tpm: 1000000000000}
upstreams:
  - name: sim
    type: openai
    base_url: http://127.0.0.1:$SIM_PORT
    max_connections: 100000
    max_idle_connections: 64
    health: {enabled: false}
models:
  - name: bench
    deployments: [{upstream: sim, model: sim-model}]
EOF
    taskset -c "$PROXY_CPU" "$SWITCHYARD" serve --config "$WORK/$name.yaml" --ready-file "$WORK/$name.port" \
        --log-level warn >"$WORK/$name.log" 2>&1 &
    GW_PID[$name]=$!
    PIDS+=("${GW_PID[$name]}")
    wait_for_file "$WORK/$name.port" "${GW_PID[$name]}"
    GW_PORT[$name]=$(head -n1 "$WORK/$name.port")
}

log_machine
LOAD_BEFORE=$(loadavg)
START_EPOCH=$(date +%s)

start_gateway in-process ""
start_gateway redis "state: {url: redis://127.0.0.1:$REDIS_PORT, instances: 1}"
start_gateway redis-per-request "state: {url: redis://127.0.0.1:$REDIS_PORT, instances: 1, max_lease: 1, prefix: per-request}"
AUTH='Authorization: Bearer sk-bench-0000000001'
CHAT='{"model":"bench","messages":[{"role":"user","content":"hello"}],"max_tokens":8}'
for name in in-process redis redis-per-request; do
    code=$(curl -s -o "$WORK/check.json" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' \
        -d "$CHAT" "http://127.0.0.1:${GW_PORT[$name]}/v1/chat/completions")
    [[ "$code" == 200 ]] || die "$name answered $code: $(head -c 300 "$WORK/check.json")"
done
[[ "$(redis-cli -p "$REDIS_PORT" exists switchyard:rl:key:bench)" == 1 ]] || die "the redis gateway took no limit in Redis"

RAW="$WORK/raw.tsv"
: >"$RAW"
CONFIGS=(in-process redis redis-per-request)
for ((round = 1; round <= ROUNDS; round++)); do
    for ((k = 0; k < 3; k++)); do
        name=${CONFIGS[$(((k + round - 1) % 3))]}
        port=${GW_PORT[$name]}
        pid=${GW_PID[$name]}
        taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARMUP}s" -H "$AUTH" -s "$ROOT/bench/wrk_chat.lua" \
            "http://127.0.0.1:$port/" >/dev/null
        cpu0=$(cpu_ns "$pid")
        rcpu0=$(cpu_ns "$REDIS_PID")
        calls0=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "switchyard_state_redis_calls_total" {print $2}')
        taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "$AUTH" \
            -s "$ROOT/bench/wrk_chat.lua" "http://127.0.0.1:$port/" >"$WORK/wrk.out"
        cpu1=$(cpu_ns "$pid")
        rcpu1=$(cpu_ns "$REDIS_PID")
        calls1=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "switchyard_state_redis_calls_total" {print $2}')
        read -r rps p50 p99 errors < <(parse_wrk "$WORK/wrk.out")
        [[ -n "$rps" && "$errors" == 0 ]] || { cat "$WORK/wrk.out" >&2; die "$name: wrk reported errors"; }
        requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
        cpu_us=$(awk -v d=$((cpu1 - cpu0)) -v n="$requests" 'BEGIN { printf "%.2f", d / 1000 / n }')
        calls=$(awk -v a="${calls0:-0}" -v b="${calls1:-0}" -v n="$requests" 'BEGIN { printf "%.2f", (b - a) / n }')
        redis_us=$(awk -v d=$((rcpu1 - rcpu0)) -v n="$requests" 'BEGIN { printf "%.2f", d / 1000 / n }')
        printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$rps" "$p50" "$p99" "$cpu_us" "$calls" "$redis_us" >>"$RAW"
        log "round $round $name: $rps req/s, p50 $p50 ms, p99 $p99 ms, gateway CPU $cpu_us us/req, $calls Redis calls/req, redis-server CPU $redis_us us/req"
    done
done
# Nothing fell back to in-process limits during the run.
for name in redis redis-per-request; do
    fallbacks=$(curl -s "http://127.0.0.1:${GW_PORT[$name]}/metrics" |
        awk '$1 == "switchyard_state_fallback_requests_total" {print $2}')
    [[ "$fallbacks" == 0 ]] || die "$name fell back to in-process limits $fallbacks times"
done

LOAD_AFTER=$(loadavg)
ELAPSED=$(($(date +%s) - START_EPOCH))
export RAW RESULTS COMMAND_LINE LOAD_BEFORE LOAD_AFTER ELAPSED ROUNDS DURATION CONNS PROXY_CPU LOAD_CPU
export_git_info
MACHINE=$(machine_desc)
export MACHINE
export REDIS_VERSION=$(redis-server --version | head -n1)
"$PYTHON" - <<'PY'
import os, re, statistics, datetime

env = os.environ
rows = [l.rstrip("\n").split("\t") for l in open(env["RAW"]) if l.strip()]
by = {}
for name, rnd, rps, p50, p99, cpu, calls, rcpu in rows:
    by.setdefault(name, []).append((float(rps), float(p50), float(p99), float(cpu), float(calls), float(rcpu)))
med = statistics.median

L = ["<!-- state_bench:begin (generated by bench/state_bench.sh; edits here are overwritten) -->",
     "## Shared state: rate limits in Redis vs in-process", ""]
L.append(f"- **Date:** {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}; "
         f"switchyard at `{env['GIT_REV']}`{env.get('GIT_DIRTY', '')}; whole run {env['ELAPSED']} s")
L.append(f"- **Command:** `{env['COMMAND_LINE']}`")
L.append(f"- **Machine:** {env['MACHINE']}; load average before {env['LOAD_BEFORE']}, after {env['LOAD_AFTER']} (the machine is shared)")
L.append(f"- **Tools:** {env['REDIS_VERSION']}; wrk; build: release preset (RelWithDebInfo)")
L.append(f"- **Placement:** the gateway under test (`io_threads: 1`) alone on CPU {env['PROXY_CPU']}; switchyard-sim "
         f"(1 thread), redis-server and wrk (1 thread) on CPU {env['LOAD_CPU']}.")
L.append("")
L.append(f"`wrk -t1 -c{env['CONNS']} -d{env['DURATION']}s --latency -s bench/wrk_chat.lua` with the key's "
         "`Authorization` header (after a warm-up), simulator `--tokens 8`. The key has "
         "`limits: {rpm: 1000000000, tpm: 1000000000000}`: every request takes one request and its estimated "
         "tokens, then the tokens are corrected from the usage. *in-process*: no `state:`; *redis*: "
         "`state: {url: redis://..., instances: 1}`, the default: each I/O thread leases up to 64 requests (and their "
         "tokens) from Redis per script call; *redis-per-request*: the same with `max_lease: 1`, one script call "
         "awaited before every request, which is what a tight limit (burst < 16 x instances) gets. Median of "
         f"{env['ROUNDS']} alternating rounds (per-round values in brackets).")
L.append("")
L.append("| limits | requests/s | p50 ms | p99 ms | gateway CPU µs/req | Redis calls/req | redis-server CPU µs/req |")
L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for name in ("in-process", "redis", "redis-per-request"):
    v = by[name]
    rps = [x[0] for x in v]
    L.append(f"| {name} | {med(rps):,.0f} [{', '.join(f'{x:,.0f}' for x in rps)}] | {med([x[1] for x in v]):.2f} | "
             f"{med([x[2] for x in v]):.2f} | {med([x[3] for x in v]):.1f} | {med([x[4] for x in v]):.2f} | "
             f"{med([x[5] for x in v]):.1f} |")
L.append("")
for name in ("redis", "redis-per-request"):
    ratio = med([x[0] for x in by[name]]) / med([x[0] for x in by["in-process"]])
    cpu_ratio = med([x[3] for x in by[name]]) / med([x[3] for x in by["in-process"]])
    verdict = "meets" if ratio >= 0.85 else "**misses**"
    L.append(f"- **{name} / in-process:** requests/s **{ratio:.2f}×** ({verdict} the ≥ 0.85× target, at most 15% "
             f"fewer), gateway CPU per request {cpu_ratio:.2f}×.")
L.append("")
L.append("redis-server shares the load CPU with wrk and the simulator, so every Redis call also takes CPU from the "
         "load side, and a request waiting for Redis waits for that CPU too; requests/s swing with other work on the "
         "shared machine, CPU per request is the steadier comparison.")
L.append("<!-- state_bench:end -->")
section = "\n".join(L) + "\n"
path = env["RESULTS"]
text = open(path).read()
m = re.search(r"<!-- state_bench:begin.*?<!-- state_bench:end -->\n?", text, re.S)
text = text[:m.start()] + section + text[m.end():] if m else text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
log "wrote $RESULTS"
