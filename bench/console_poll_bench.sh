#!/usr/bin/env bash
# Does a polling web console cost the request path anything? The gateway (1 I/O thread, console
# samples every second) in front of switchyard-sim, loaded by `switchyard bench` (non-streaming,
# 8 tokens), in rounds that alternate: nobody polling, and a poller fetching the console's data
# (GET /admin/overview, /admin/models and a console file) 10 times a second each - about 20 times
# a console's own rate - and a control with the same curl processes polling the simulator instead
# (the machine's CPUs are shared by everything). Prints requests/s and p99 per round and the
# medians' ratio.
#   ROUNDS=3 DURATION=8 CONNS=16 bench/console_poll_bench.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/build/release/src/switchyard}
SIM=${SIM:-$ROOT/build/release/src/sim/switchyard-sim}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-16}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

"$SIM" --port 0 --ready-file "$dir/sim.ready" --ttft-ms 0 --tokens 8 --log-level warn &
pids+=($!)
until [[ -s $dir/sim.ready ]]; do sleep 0.05; done
sim_port=$(head -1 "$dir/sim.ready")
cat >"$dir/gw.yaml" <<YAML
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 1}
auth: {master_key: bench-master-key-0001}
console: {sample_interval: 1s}
keys: [{name: bench, key: bench-caller-key-0001}]
upstreams: [{name: sim, type: openai, base_url: "http://127.0.0.1:$sim_port/v1"}]
models: [{name: bench, deployments: [{upstream: sim}]}]
YAML
"$BIN" serve --config "$dir/gw.yaml" --ready-file "$dir/gw.ready" --log-level warn &
pids+=($!)
until [[ -s $dir/gw.ready ]]; do sleep 0.05; done
port=$(head -1 "$dir/gw.ready")
export BENCH_KEY=bench-master-key-0001 BENCH_CALLER=bench-caller-key-0001

run() {  # prints "requests/s p99_ms"
    "$BIN" bench -u "http://127.0.0.1:$port/v1" -m bench --api-key-env BENCH_CALLER --no-stream -c "$CONNS" -d "$DURATION" --warmup 1s \
        --input-len 8 --output-len 8 --json "$dir/out.json" >/dev/null 2>&1
    python3 - "$dir/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
run = r["runs"][0] if "runs" in r else r
def find(d, *names):
    for n in names:
        if n in d: return d[n]
    for v in d.values():
        if isinstance(v, dict):
            x = find(v, *names)
            if x is not None: return x
    return None
rps = find(run, "request_throughput", "requests_per_s", "rps")
e2e = find(run, "e2el_ms", "e2el", "latency_ms")
p99 = e2e.get("p99") if isinstance(e2e, dict) else None
print(f"{rps:.1f} {p99 if p99 is not None else float('nan'):.2f}")
PY
}

# The same poller against the gateway, or (the control: the same curl processes on the same CPUs)
# against the simulator's own stats page.
poll() {
    local target=$1
    while :; do
        if [[ $target == gateway ]]; then
            curl -s -o /dev/null -H "Authorization: Bearer $BENCH_KEY" "http://127.0.0.1:$port/admin/overview"
            curl -s -o /dev/null -H "Authorization: Bearer $BENCH_KEY" "http://127.0.0.1:$port/admin/models"
            curl -s -o /dev/null "http://127.0.0.1:$port/ui/app.js"
        else
            for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$sim_port/sim/stats"; done
        fi
        sleep 0.1
    done
}

quiet=() polled=()
for ((i = 1; i <= ROUNDS; i++)); do
    poll sim & poller=$!
    a=$(run); kill "$poller"; wait "$poller" 2>/dev/null || true
    quiet+=("$a"); echo "round $i  control    : $a (req/s, p99 ms)"
    poll gateway & poller=$!
    b=$(run); kill "$poller"; wait "$poller" 2>/dev/null || true
    polled+=("$b"); echo "round $i  polled     : $b"
done
python3 - "${quiet[@]}" -- "${polled[@]}" <<'PY'
import statistics, sys
args = sys.argv[1:]
cut = args.index("--")
q = [tuple(map(float, s.split())) for s in args[:cut]]
p = [tuple(map(float, s.split())) for s in args[cut + 1:]]
mq, mp = statistics.median(x[0] for x in q), statistics.median(x[0] for x in p)
lq, lp = statistics.median(x[1] for x in q), statistics.median(x[1] for x in p)
print(f"median requests/s: control {mq:.0f}, polled {mp:.0f} (ratio {mp / mq:.3f}); "
      f"median p99: {lq:.2f} vs {lp:.2f} ms (ratio {lp / lq:.3f})")
PY
