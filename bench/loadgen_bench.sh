#!/usr/bin/env bash
# `switchyard bench` as a load generator: requests/s on one core against switchyard-sim at zero
# latency, beside wrk on the same simulator in the same run.
#
#   bench/loadgen_bench.sh          # about 1.5 minutes; rewrites the loadgen_bench section of bench/RESULTS.md
#
# What it measures:
#   1. small non-streaming chat completions, `switchyard bench --no-stream -c CONNS --threads 1` and
#      `wrk -t1 -cCONNS -s bench/wrk_chat.lua` (the same body size and max_tokens 8), each pinned to
#      GEN_CPU, against one switchyard-sim thread pinned to SIM_CPU; interleaved rounds, medians;
#   2. the CPU time each generator spent (user + system, from getrusage of the child), per request:
#      what one fully busy core could generate, independent of whether the simulator or the
#      generator was the limit in a given round;
#   3. for information: the same with streaming (`--tokens 8`, usage chunk), switchyard bench only
#      (wrk cannot parse SSE without a Lua script that costs more than the parsing).
#
# Knobs (environment): ROUNDS=3 DURATION=8 WARMUP=2 CONNS=64 GEN_CPU=0 SIM_CPU=1 SKIP_BUILD=0
#   RESULTS=bench/RESULTS.md
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
SWITCHYARD="$BUILD/src/switchyard"
SIM="$BUILD/src/sim/switchyard-sim"
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.md}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
GEN_CPU=${GEN_CPU:-0}
SIM_CPU=${SIM_CPU:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
PYTHON=${PYTHON:-/usr/bin/python3}

COMMAND_LINE="ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS GEN_CPU=$GEN_CPU SIM_CPU=$SIM_CPU bench/loadgen_bench.sh"

BENCH_NAME=loadgen_bench
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in wrk taskset "$PYTHON"; do command -v "$tool" >/dev/null || die "$tool is required"; done

if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building (release preset, -j2)"
    [[ -f "$BUILD/build.ninja" ]] || (cd "$ROOT" && cmake --preset release >/dev/null)
    ninja -j2 -C "$BUILD" switchyard switchyard-sim >/dev/null || die "build failed"
fi
for bin in "$SWITCHYARD" "$SIM"; do [[ -x "$bin" ]] || die "$bin is missing"; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-loadgen-bench.XXXXXX")
trap_cleanup

taskset -c "$SIM_CPU" "$SIM" --port 0 --ready-file "$WORK/sim.port" --threads 1 --tokens 8 --ttft-ms 0 \
    --itl-ms 0 --log-level warn >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
PIDS+=("$SIM_PID")
wait_for_file "$WORK/sim.port" "$SIM_PID"
PORT=$(head -n1 "$WORK/sim.port")
URL="http://127.0.0.1:$PORT"

# cpu_of OUT -- CMD...: runs CMD pinned to GEN_CPU, its stdout to OUT; prints its CPU seconds.
cpu_of() {
    local out=$1
    shift 2
    "$PYTHON" - "$out" "$GEN_CPU" "$@" <<'PY'
import resource, subprocess, sys
out, cpu, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "w") as f:
    code = subprocess.run(["taskset", "-c", cpu] + cmd, stdout=f, stderr=subprocess.STDOUT).returncode
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{u.ru_utime + u.ru_stime:.4f}")
sys.exit(code)
PY
}

RAW="$WORK/raw.tsv"
: >"$RAW"
LOAD_BEFORE=$(loadavg)
START_EPOCH=$(date +%s)
log "machine: $(nproc) CPUs, load $LOAD_BEFORE; simulator :$PORT on CPU $SIM_CPU, generators on CPU $GEN_CPU"

for ((round = 1; round <= ROUNDS; round++)); do
    for tool in bench wrk; do
        [[ $((round % 2)) == 0 ]] && tool=$([[ $tool == bench ]] && echo wrk || echo bench)  # alternate the order
        if [[ $tool == bench ]]; then
            cpu=$(cpu_of "$WORK/bench.out" -- "$SWITCHYARD" bench -u "$URL" -m bench --no-stream -c "$CONNS" \
                --threads 1 -d "$DURATION" --warmup "${WARMUP}s" --input-len 1 --output-len 8 --no-progress \
                --json "$WORK/bench.json") || { cat "$WORK/bench.out" >&2; die "switchyard bench failed"; }
            read -r rps total failed < <("$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
print(r["request_throughput"], r["completed"] + r["failed"] + r["warmup"], r["failed"])' "$WORK/bench.json")
            [[ "$failed" == 0 ]] || die "switchyard bench saw $failed failed requests"
        else
            cpu=$(cpu_of "$WORK/wrk.out" -- wrk -t1 -c"$CONNS" -d"$((DURATION + WARMUP))s" -s "$ROOT/bench/wrk_chat.lua" "$URL/") ||
                { cat "$WORK/wrk.out" >&2; die "wrk failed"; }
            grep -q -E "Non-2xx|Socket errors" "$WORK/wrk.out" && { cat "$WORK/wrk.out" >&2; die "wrk saw errors"; }
            rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out")
            total=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
        fi
        us=$(awk -v c="$cpu" -v n="$total" 'BEGIN { printf "%.3f", c * 1e6 / n }')
        printf 'chat\t%s\t%d\t%s\t%s\t%s\n' "$tool" "$round" "$rps" "$us" "$total" >>"$RAW"
        log "round $round $tool: $rps req/s, ${us} us CPU per request ($total requests incl. warm-up)"
    done
done

# Streaming, for information (switchyard bench only).
cpu=$(cpu_of "$WORK/stream.out" -- "$SWITCHYARD" bench -u "$URL" -m bench -c "$CONNS" --threads 1 -d "$DURATION" \
    --warmup "${WARMUP}s" --input-len 1 --output-len 8 --no-progress --json "$WORK/stream.json") ||
    { cat "$WORK/stream.out" >&2; die "switchyard bench (streaming) failed"; }
read -r srps stotal sfailed < <("$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
print(r["request_throughput"], r["completed"] + r["failed"] + r["warmup"], r["failed"])' "$WORK/stream.json")
sus=$(awk -v c="$cpu" -v n="$stotal" 'BEGIN { printf "%.3f", c * 1e6 / n }')
printf 'stream\tbench\t1\t%s\t%s\t%s\n' "$srps" "$sus" "$stotal" >>"$RAW"
log "streaming: $srps responses/s, ${sus} us CPU per response ($sfailed failed)"

LOAD_AFTER=$(loadavg)
ELAPSED=$(($(date +%s) - START_EPOCH))
export RAW RESULTS COMMAND_LINE LOAD_BEFORE LOAD_AFTER ELAPSED ROUNDS DURATION WARMUP CONNS GEN_CPU SIM_CPU
export_git_info
export LSCPU=$(lscpu 2>/dev/null | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|CPU max MHz|L3 cache)' | sed 's/  */ /g' | paste -sd ';' -)
export NPROC=$(nproc)
"$PYTHON" - <<'PY'
import os, re, statistics, datetime, subprocess
env = os.environ
rows = [l.rstrip("\n").split("\t") for l in open(env["RAW"]) if l.strip()]
chat = {}
stream = None
for kind, tool, rnd, rps, us, total in rows:
    if kind == "chat":
        chat.setdefault(tool, []).append((float(rps), float(us)))
    else:
        stream = (float(rps), float(us))
med = statistics.median
wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
wrk_version = (wrk_version.stdout + wrk_version.stderr).strip().splitlines()[0]
L = []
L.append("<!-- loadgen_bench:begin (generated by bench/loadgen_bench.sh; edits here are overwritten) -->")
L.append("## Load generator: `switchyard bench` vs wrk")
L.append("")
L.append(f"- **Date:** {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}; switchyard at "
         f"`{env['GIT_REV']}`{env.get('GIT_DIRTY', '')}; whole run {env['ELAPSED']} s")
L.append(f"- **Command:** `{env['COMMAND_LINE']}`")
L.append(f"- **Machine:** `nproc` {env['NPROC']}; lscpu: {env['LSCPU']}; load average before {env['LOAD_BEFORE']}, "
         f"after {env['LOAD_AFTER']} (the machine is shared)")
L.append(f"- **Tools:** {wrk_version}; build: release preset (RelWithDebInfo)")
L.append(f"- **Placement:** switchyard-sim (1 thread, `--tokens 8 --ttft-ms 0 --itl-ms 0`) alone on CPU {env['SIM_CPU']}; "
         f"the generator under test alone on CPU {env['GEN_CPU']} (`taskset`).")
L.append("")
L.append(f"`switchyard bench --no-stream -c {env['CONNS']} --threads 1 -d {env['DURATION']} --warmup {env['WARMUP']}s "
         "--input-len 1 --output-len 8` against "
         f"`wrk -t1 -c{env['CONNS']} -d{int(env['DURATION']) + int(env['WARMUP'])}s -s bench/wrk_chat.lua` (same body size, "
         "`max_tokens` 8, keep-alive). Requests/s: switchyard bench's measured window (after its warm-up), wrk's whole "
         "run. CPU µs/request: user + system time of the generator process over every request it made (getrusage), "
         "so requests per CPU-second = 1e6 / that: what one fully busy core generates, whichever side was the "
         f"limit. Median of {env['ROUNDS']} interleaved rounds (per-round values in brackets).")
L.append("")
L.append("| generator | requests/s | CPU µs/request | requests per CPU-second |")
L.append("| --- | ---: | ---: | ---: |")
def rounds(vals, f):
    return " [" + ", ".join(f(v) for v in vals) + "]"
for tool, name in (("bench", "switchyard bench"), ("wrk", "wrk")):
    v = chat.get(tool, [])
    if not v:
        continue
    rps = [x[0] for x in v]; us = [x[1] for x in v]
    L.append(f"| {name} | {med(rps):,.0f}{rounds(rps, lambda x: f'{x:,.0f}')} | {med(us):.2f}{rounds(us, lambda x: f'{x:.2f}')} | {1e6 / med(us):,.0f} |")
b_rps = med([x[0] for x in chat["bench"]]); w_rps = med([x[0] for x in chat["wrk"]])
b_us = med([x[1] for x in chat["bench"]]); w_us = med([x[1] for x in chat["wrk"]])
L.append("")
verdict = "meets" if b_rps >= 20000 else "**misses**"
L.append(f"**switchyard bench / wrk:** requests/s **{b_rps / w_rps:.2f}×**, CPU per request {b_us / w_us:.2f}× "
         f"(requests per CPU-second {w_us / b_us:.2f}×). switchyard bench: {b_rps:,.0f} requests/s on one core, "
         f"{verdict} the ≥ 20,000 target; it times every request (TTFT, E2EL), reads the usage of each response with "
         "simdjson and keeps every record, which wrk does not.")
if stream:
    L.append("")
    L.append(f"Streaming, for information: `switchyard bench -c {env['CONNS']}` (streamed, usage chunk, 8 tokens = 12 SSE "
             f"events per response, each timed): {stream[0]:,.0f} responses/s, {stream[1]:.2f} µs CPU per response.")
L.append("<!-- loadgen_bench:end -->")
section = "\n".join(L) + "\n"
path = env["RESULTS"]
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmark results\n\n"
m = re.search(r"<!-- loadgen_bench:begin.*?<!-- loadgen_bench:end -->\n?", text, re.S)
text = text[:m.start()] + section + text[m.end():] if m else text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
log "wrote $RESULTS"
