#!/usr/bin/env bash
# `switchyard cost` and the console's GET /admin/cost on a large ledger: a SQLite ledger of ROWS
# request rows (default 1,000,000) spread over the last 30 days - 50 keys with a `team` label, four
# models, local and cloud tiers, streamed and not, some errors - written by sqlite3 into the schema
# the gateway itself creates. Then, each timed with its wall time and peak RSS (/usr/bin/time):
#   1. `switchyard cost -c CONFIG --from <30 days ago> --format json` (every grouping);
#   2. the same with `--by model`;
#   3. GET /admin/cost?hours=720 on a running gateway over the same ledger, twice (the second is
#      answered from the console's report cache), and the gateway's RSS after.
#   ROWS=1000000 bench/ledger_bench.sh
set -euo pipefail
BENCH_NAME=ledger_bench
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
BIN=${BIN:-$ROOT/build/release/src/switchyard}
ROWS=${ROWS:-1000000}
WORK=$(mktemp -d)
trap_cleanup
[[ -x "$BIN" ]] || die "no $BIN: build first (cmake --build build/release)"
command -v sqlite3 >/dev/null || die "sqlite3 is needed (apt-get install sqlite3)"

ledger="$WORK/ledger.db"
cat >"$WORK/gw.yaml" <<YAML
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 1}
auth: {master_key: bench-master-key-0001}
ledger: {url: "sqlite:$ledger"}
upstreams:
  - {name: local, type: llama-server, base_url: "http://127.0.0.1:9/v1", health: {enabled: false}}
  - {name: cloud, type: openai, base_url: "http://127.0.0.1:9/v1", health: {enabled: false}}
models:
  - name: chat
    deployments: [{upstream: local, model: llama-3.1-8b, tier: 1}, {upstream: cloud, model: gpt-4.1-mini, tier: 2}]
YAML

start_gateway() {  # starts the gateway on $WORK/gw.yaml; its pid in GW_PID, its port in PORT
    rm -f "$WORK/gw.ready"
    "$BIN" serve --config "$WORK/gw.yaml" --ready-file "$WORK/gw.ready" --log-level warn &
    GW_PID=$!
    PIDS+=("$GW_PID")
    wait_for_file "$WORK/gw.ready" "$GW_PID"
    PORT=$(head -1 "$WORK/gw.ready")
}

log_machine
start_gateway  # creates the ledger's schema
stop_pid "$GW_PID"

now_ms=$(($(date +%s) * 1000))
span_ms=$((30 * 86400 * 1000))
log "writing $ROWS rows into $ledger"
t0=$(date +%s.%N)
sqlite3 "$ledger" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS - 1)
INSERT INTO requests (ts_ms, request_id, key_name, labels, model, served_model, deployment, upstream, tier, local,
                      status, stream, prompt_tokens, cached_tokens, completion_tokens, usage_estimated, cost_usd,
                      ttft_ms, total_ms, retries, fallback, error, overhead_ms, uid)
SELECT $now_ms - $span_ms + (i * $span_ms) / $ROWS,
       'req-' || i,
       'key-' || (i % 50),
       '{"team":"team-' || (i % 7) || '"}',
       'chat',
       CASE WHEN i % 3 = 0 THEN 'gpt-4.1-mini' ELSE 'llama-3.1-8b' END,
       CASE WHEN i % 3 = 0 THEN 'chat/cloud' ELSE 'chat/local' END,
       CASE WHEN i % 3 = 0 THEN 'cloud' ELSE 'local' END,
       CASE WHEN i % 3 = 0 THEN 2 ELSE 1 END,
       CASE WHEN i % 3 = 0 THEN 0 ELSE 1 END,
       CASE WHEN i % 97 = 0 THEN 503 ELSE 200 END,
       i % 2,
       200 + (i * 7919) % 3000,
       (i * 104729) % 200,
       20 + (i * 31) % 400,
       0,
       CASE WHEN i % 3 = 0 THEN ((200 + (i * 7919) % 3000) * 0.4 + (20 + (i * 31) % 400) * 1.6) / 1e6 ELSE 0 END,
       50 + (i * 13) % 700,
       300 + (i * 17) % 5000,
       0, 0,
       CASE WHEN i % 97 = 0 THEN 'upstream 503' ELSE '' END,
       0.05,
       'uid-' || i
FROM n;
COMMIT;
SQL
t1=$(date +%s.%N)
log "written in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s; file $(du -m "$ledger" | cut -f1) MiB"

from=$(date -u -d "@$(((now_ms - span_ms) / 1000 - 60))" +%Y-%m-%dT%H:%M:%SZ)
timed() {  # timed LABEL CMD...: runs CMD, logs its wall time and peak RSS
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; die "$label failed"; }
    read -r wall rss_kb <"$WORK/time"
    log "$label: ${wall} s, peak RSS $((rss_kb / 1024)) MiB, output $(wc -c <"$WORK/out") bytes"
}
timed "cost --format json (all groupings)" "$BIN" cost -c "$WORK/gw.yaml" --from "$from" --format json
grep -q '"requests": '"$ROWS" "$WORK/out" || log "warning: the report does not count $ROWS requests"
timed "cost --by model (table)" "$BIN" cost -c "$WORK/gw.yaml" --from "$from" --by model

start_gateway
rss_before=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW_PID/status")
for round in first cached; do
    t0=$(date +%s.%N)
    code=$(curl -s -o "$WORK/admin.json" -w '%{http_code}' -H "Authorization: Bearer bench-master-key-0001" \
        "http://127.0.0.1:$PORT/admin/cost?hours=720")
    t1=$(date +%s.%N)
    [[ "$code" == 200 ]] || die "GET /admin/cost answered $code: $(head -c 300 "$WORK/admin.json")"
    log "GET /admin/cost?hours=720 ($round): $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}') s, $(wc -c <"$WORK/admin.json") bytes"
done
rss_after=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW_PID/status")
log "gateway RSS: $((rss_before / 1024)) MiB before, $((rss_after / 1024)) MiB after"
