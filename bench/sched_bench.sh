#!/usr/bin/env bash
# Scheduling for local engines (issue 25): real llama-server replicas behind switchyard.
#
#  1. Strategies: round-robin, least-outstanding, latency and prefix-affinity side by side on the
#     same multi-turn workload (`switchyard bench --turns`: each turn resends the conversation so
#     far; a system prompt shared by every session), replicas restarted between strategies so each
#     starts cold. Reported: TTFT p50/p99, requests/s, and the cache hit ratio (cached prompt tokens
#     / prompt tokens, as llama-server reported them in each answer's usage).
#  2. Fairness: a heavy key with 10x the sessions of a light key into a saturated tier that queues
#     (`overflow: queue`): each key's share of the tokens served, and the light key's TTFT against
#     its uncontended figure; then the same load as one key (the queue is then first come, first
#     served) for comparison.
#
#   nice -n 10 bench/sched_bench.sh     # a few minutes; SKIP_BUILD=1 to use build/release as it is
#
# The model: models/bench-llama.gguf, a random-weight llama of about 10M parameters written by
# scripts/make_tiny_model.py when missing (prefill then costs real time on a CPU).
# Knobs: REPLICAS=2 SLOTS=2 CACHE_RAM=256 SESSIONS=8 TURNS=4 PREFIX_LEN=20 INPUT_LEN=120 OUTPUT_LEN=8 REQUESTS=40
#        THREADS=1 (per llama-server) FAIR_DURATION=30 LIGHT=1 FAIRNESS=1 (0: strategies only)
#        CTX_PER_SLOT=2048 RESULTS=bench/RESULTS.md
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
SWITCHYARD="$BUILD/src/switchyard"
LLAMA_SERVER=${LLAMA_SERVER:-$ROOT/third_party/llama.cpp/build/bin/llama-server}
GGUF_PY=${GGUF_PY:-$(dirname "$(dirname "$(dirname "$LLAMA_SERVER")")")/gguf-py}
MODEL=${MODEL:-$ROOT/models/bench-llama.gguf}
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.md}
REPLICAS=${REPLICAS:-2}
SLOTS=${SLOTS:-2}
CTX_PER_SLOT=${CTX_PER_SLOT:-2048}
SESSIONS=${SESSIONS:-8}
TURNS=${TURNS:-4}
PREFIX_LEN=${PREFIX_LEN:-20}
INPUT_LEN=${INPUT_LEN:-120}
OUTPUT_LEN=${OUTPUT_LEN:-8}
REQUESTS=${REQUESTS:-40}
THREADS=${THREADS:-1}
CACHE_RAM=${CACHE_RAM:-256}
FAIR_DURATION=${FAIR_DURATION:-30}
LIGHT=${LIGHT:-1}
FAIRNESS=${FAIRNESS:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
STRATEGIES=(${STRATEGIES:-round-robin least-outstanding latency prefix-affinity})
export SESSIONS REPLICAS SLOTS CACHE_RAM TURNS REQUESTS CTX_PER_SLOT

BENCH_NAME=sched_bench
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap_cleanup

[[ -x $LLAMA_SERVER ]] || die "no llama-server at $LLAMA_SERVER (set LLAMA_SERVER)"
if [[ $SKIP_BUILD != 1 ]]; then
    log "building switchyard (release preset)"
    cmake --build "$BUILD" --target switchyard >/dev/null
fi
if [[ ! -s $MODEL ]]; then
    log "writing $MODEL"
    PYTHONPATH="$GGUF_PY" "$PYTHON" "$ROOT/scripts/make_tiny_model.py" --arch llama --out "$MODEL" \
        --embd 384 --layers 6 --ff 1024 --ctx 4096
fi

WORK=$(mktemp -d /tmp/sched_bench.XXXXXX)
log_machine
export_git_info

LLAMA_PIDS=()
LLAMA_PORTS=()
start_replicas() {  # cold replicas: llama-server with its slots and a RAM prompt cache of CACHE_RAM MiB
    LLAMA_PIDS=()
    LLAMA_PORTS=()
    local i port
    for ((i = 0; i < REPLICAS; i++)); do
        port=$(free_port)
        "$LLAMA_SERVER" -m "$MODEL" --host 127.0.0.1 --port "$port" -c $((SLOTS * CTX_PER_SLOT)) -np "$SLOTS" \
            -t "$THREADS" --cache-ram "$CACHE_RAM" --no-webui >"$WORK/llama-$i.log" 2>&1 &
        PIDS+=($!)
        LLAMA_PIDS+=($!)
        LLAMA_PORTS+=("$port")
    done
    for port in "${LLAMA_PORTS[@]}"; do
        for ((i = 0; i < 600; i++)); do
            curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
            sleep 0.1
        done
    done
}
stop_replicas() {
    local pid
    for pid in "${LLAMA_PIDS[@]}"; do stop_pid "$pid"; done
}

GATEWAY_PID=""
GATEWAY_PORT=""
start_gateway() {  # start_gateway CONFIG
    rm -f "$WORK/gw.ready"
    "$SWITCHYARD" serve --config "$1" --ready-file "$WORK/gw.ready" >"$WORK/gw.log" 2>&1 &
    GATEWAY_PID=$!
    PIDS+=("$GATEWAY_PID")
    wait_for_file "$WORK/gw.ready" "$GATEWAY_PID"
    GATEWAY_PORT=$(head -1 "$WORK/gw.ready")
}

gateway_config() {  # gateway_config STRATEGY [MODEL-EXTRA] [TOP-EXTRA]
    echo "listeners: [{address: 127.0.0.1, port: 0}]"
    echo "server: {io_threads: 1}"
    echo "${3:-}"
    echo "upstreams:"
    local i
    for ((i = 0; i < REPLICAS; i++)); do
        echo "  - {name: r$i, type: llama-server, base_url: \"http://127.0.0.1:${LLAMA_PORTS[$i]}\", timeouts: {first_byte: 600s}}"
    done
    echo "models:"
    echo "  - name: m"
    echo "    strategy: $1"
    echo "${2:-}"
    echo "    deployments:"
    for ((i = 0; i < REPLICAS; i++)); do
        echo "      - {upstream: r$i, model: bench, max_concurrency: $SLOTS}"
    done
}

bench_args=(--model m --turns "$TURNS" --prefix-len "$PREFIX_LEN" --input-len "$INPUT_LEN" --output-len "$OUTPUT_LEN"
    --seed 7 --no-progress)

for strategy in "${STRATEGIES[@]}"; do
    log "strategy $strategy: $REPLICAS replicas x $SLOTS slots, $SESSIONS sessions x $TURNS turns, $REQUESTS requests"
    start_replicas
    gateway_config "$strategy" "    queue: {size: 100, timeout: 300s}" >"$WORK/$strategy.yaml"
    start_gateway "$WORK/$strategy.yaml"
    "$SWITCHYARD" bench --base-url "http://127.0.0.1:$GATEWAY_PORT/v1" "${bench_args[@]}" -c "$SESSIONS" \
        -n "$REQUESTS" --json "$WORK/$strategy.json" >"$WORK/$strategy.out" 2>&1 || die "bench failed: $(tail -5 "$WORK/$strategy.out")"
    curl -s "http://127.0.0.1:$GATEWAY_PORT/metrics" >"$WORK/$strategy.metrics"
    stop_pid "$GATEWAY_PID"
    stop_replicas
done

# Fairness: both keys' sessions into one saturated, queueing tier.
HEAVY=$((LIGHT * 10))
fair_keys() {  # fair_keys LIGHT-KEY-ENV: the keys section (the light key may share the heavy key's secret)
    echo "auth: {required: true}"
    echo "keys:"
    echo "  - {name: heavy, key: \"\${HEAVY_KEY}\"}"
    [[ $1 == LIGHT_KEY ]] && echo "  - {name: light, key: \"\${LIGHT_KEY}\"}"
    return 0
}
export HEAVY_KEY=sk-heavy-bench LIGHT_KEY=sk-light-bench
fair_run() {  # fair_run NAME LIGHT-KEY-ENV HEAVY(0: none)
    local name=$1 light_env=$2 heavy=$3
    start_replicas
    gateway_config least-outstanding "    overflow: queue
    queue: {size: 1000, timeout: 600s}
    limits: {tpm: 1000000000}" "$(fair_keys "$light_env")" >"$WORK/$name.yaml"
    start_gateway "$WORK/$name.yaml"
    local heavy_pid=""
    if ((heavy > 0)); then
        "$SWITCHYARD" bench --base-url "http://127.0.0.1:$GATEWAY_PORT/v1" "${bench_args[@]}" --api-key-env HEAVY_KEY \
            -c "$heavy" -d "$((FAIR_DURATION + 10))" --json "$WORK/$name-heavy.json" >"$WORK/$name-heavy.out" 2>&1 &
        heavy_pid=$!
        PIDS+=("$heavy_pid")
        sleep 5  # the heavy key fills the tier and its queue first
    fi
    "$SWITCHYARD" bench --base-url "http://127.0.0.1:$GATEWAY_PORT/v1" "${bench_args[@]}" --api-key-env "$light_env" \
        -c "$LIGHT" -d "$FAIR_DURATION" --json "$WORK/$name-light.json" >"$WORK/$name-light.out" 2>&1 || true
    curl -s "http://127.0.0.1:$GATEWAY_PORT/metrics" >"$WORK/$name.metrics"
    [[ -z $heavy_pid ]] || stop_pid "$heavy_pid"
    stop_pid "$GATEWAY_PID"
    stop_replicas
}
if [[ $FAIRNESS == 1 ]]; then
    log "fairness: light key alone ($LIGHT sessions)"
    fair_run alone LIGHT_KEY 0
    log "fairness: heavy key ($HEAVY sessions) and light key ($LIGHT), fair queue"
    fair_run fair LIGHT_KEY "$HEAVY"
    log "fairness: the same load as one key (first come, first served)"
    fair_run fifo HEAVY_KEY "$HEAVY"
fi

"$PYTHON" - "$WORK" "$RESULTS" "$(machine_desc)" "$GIT_REV$GIT_DIRTY" "${STRATEGIES[*]}" <<'PY'
import json, os, re, sys, time
work, results, machine, rev, strategies = sys.argv[1:6]
strategies = strategies.split()

def run(path):
    try:
        return json.load(open(path))["runs"][0]
    except Exception:
        return None

def metrics(path, name):
    total = {}
    for line in open(path):
        m = re.match(name + r'\{(.*)\} ([0-9.e+]+)$', line.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        for k in ("deployment", "key"):
            total.setdefault((k, labels.get(k, "")), 0.0)
            total[(k, labels.get(k, ""))] += float(m.group(2))
    return total

def by(total, kind):
    return {v: n for (k, v), n in total.items() if k == kind and v}

rows = []
base = None
for s in strategies:
    r = run(f"{work}/{s}.json")
    if r is None:
        rows.append(f"| {s} | failed | | | | |")
        continue
    # As llama-server reported them to the client (usage.prompt_tokens_details.cached_tokens).
    prompt = r["input_tokens"]
    cached = r["cached_tokens"]
    ttft = r["ttft_ms"] or {}
    if s == "least-outstanding":
        base = ttft.get("median")
    rows.append((s, ttft.get("median", 0), ttft.get("p99", 0), r["request_throughput"], cached / prompt if prompt else 0,
                 r["completed"], r["failed"]))
lines = ["| strategy | TTFT p50 ms | TTFT p99 ms | requests/s | cache hit ratio | completed / failed | TTFT p50 vs least-outstanding |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
for row in rows:
    if isinstance(row, str):
        lines.append(row)
        continue
    s, p50, p99, rps, hit, ok, bad = row
    ratio = f"{base / p50:.2f}x lower" if base and p50 else ""
    lines.append(f"| {s} | {p50:.0f} | {p99:.0f} | {rps:.2f} | {hit:.1%} | {ok} / {bad} | {ratio} |")

fair = []
fairness_ran = os.path.exists(f"{work}/alone-light.json")
alone = run(f"{work}/alone-light.json")
alone_p50 = (alone or {}).get("ttft_ms", {}) or {}
alone_p50 = alone_p50.get("median")
for name in ("fair", "fifo") if fairness_ran else ():
    light = run(f"{work}/{name}-light.json")
    m_prompt = by(metrics(f"{work}/{name}.metrics", "switchyard_prompt_tokens_total"), "key")
    m_compl = by(metrics(f"{work}/{name}.metrics", "switchyard_completion_tokens_total"), "key")
    tokens = {k: m_prompt.get(k, 0) + m_compl.get(k, 0) for k in set(m_prompt) | set(m_compl)}
    total = sum(tokens.values()) or 1
    lp50 = ((light or {}).get("ttft_ms") or {}).get("median")
    share = ", ".join(f"{k} {v / total:.1%}" for k, v in sorted(tokens.items()))
    lreq = (light or {}).get("completed", 0)
    vs = f"{lp50 / alone_p50:.2f}x" if lp50 and alone_p50 else "n/a"
    fair.append(f"| {name} | {share} | {lreq} | {lp50 or 0:.0f} | {vs} |")

fairness_text = f"""**Fairness** (one queueing tier, least-outstanding; the light key's sessions against 10x as many of
the heavy key's; token shares by key from /metrics; light key TTFT against its uncontended p50 of
{alone_p50 or 0:.0f} ms):

| queue order | share of tokens served | light key requests | light key TTFT p50 ms | vs uncontended |
| --- | --- | ---: | ---: | ---: |
{chr(10).join(fair)}

(In `fifo` both loads are sent with one key, so the share column has one row: the queue is then
first come, first served.)
""" if fairness_ran else "**Fairness:** not run (FAIRNESS=0).\n"
env = {k: v for k, v in (a.split("=", 1) for a in sys.argv[6:])} if len(sys.argv) > 6 else {}
section = f"""## sched_bench

Scheduling for local engines (issue 25): `bench/sched_bench.sh`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},
revision {rev}.

**Machine:** {machine}; shared with other jobs while it ran (the load average is in the log), so
absolute times are noisy: compare the rows of one run.

**Strategies** ({os.environ.get("SESSIONS")} sessions in flight over {os.environ.get("REPLICAS")} replicas of
{os.environ.get("SLOTS")} slots of {os.environ.get("CTX_PER_SLOT")} tokens, each with a {os.environ.get("CACHE_RAM")} MiB RAM prompt cache; replicas restarted cold
for each strategy; {os.environ.get("TURNS")} turns a session, {os.environ.get("REQUESTS")} requests):

{chr(10).join(lines)}

{fairness_text}"""
text = open(results).read() if results and __import__("os").path.exists(results) else ""
start = text.find("## sched_bench")
if start >= 0:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
else:
    text = text.rstrip("\n") + "\n\n" + section
open(results, "w").write(text)
print(section)
PY
