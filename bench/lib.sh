# shellcheck shell=bash
# Shell helpers shared by the bench/*_bench.sh scripts; sourced, not run:
#
#   BENCH_NAME=core_bench                      # the prefix of log lines; set before sourcing
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Offers logging (log, die), processes started by the script and their cleanup (PIDS,
# trap_cleanup, stop_pid, wait_for_file, free_port), measurements of a process (cpu_ns) and of wrk
# (parse_wrk), and the machine and source description written into bench/RESULTS.md (loadavg,
# log_machine, machine_desc, export_git_info). Uses $PYTHON (default /usr/bin/python3) and $WORK
# (the script's scratch directory, removed on exit) when the script sets it.

PYTHON=${PYTHON:-/usr/bin/python3}
PIDS=()  # the processes started by the script: the only ones cleanup and stop_pid ever signal

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${BENCH_NAME:-bench}" -1 "$*" >&2; }  # a timestamped line to stderr
die() { log "error: $*"; exit 1; }  # log an error and exit 1

bench_cleanup() {  # kill and reap every pid in PIDS, then remove $WORK
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -z "${WORK:-}" ]] || rm -rf "$WORK"
}
trap_cleanup() { trap bench_cleanup EXIT; trap 'exit 130' INT TERM; }  # run bench_cleanup on any exit

stop_pid() {  # stop_pid PID: stop one process started here and forget it
    local pid=$1 keep=() p
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

wait_for_file() {  # wait_for_file PATH [PID]: until PATH is non-empty (dies if PID exits first), 10 s at most
    local i
    for ((i = 0; i < 200; i++)); do
        [[ -s "$1" ]] && return 0
        [[ -z "${2:-}" ]] || kill -0 "$2" 2>/dev/null || die "process $2 exited before writing $1"
        sleep 0.05
    done
    die "timed out waiting for $1"
}

free_port() {  # a TCP port on 127.0.0.1 that was free a moment ago
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cpu_ns() {  # cpu_ns PID: CPU time (user + system) of all threads of PID, in ns, from schedstat
    local total=0 f v
    for f in /proc/"$1"/task/*/schedstat; do
        read -r v _ <"$f" 2>/dev/null || continue
        total=$((total + v))
    done
    echo "$total"
}

parse_wrk() {  # parse_wrk FILE: wrk --latency output -> "rps p50_ms p99_ms errors"
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
            return v
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        /Non-2xx or 3xx responses:/ { errors += $NF }
        /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
        END { printf "%s %s %s %d\n", rps, p50, p99, errors }
    ' "$1"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }  # the 1, 5 and 15 minute load averages

log_machine() {  # log "machine: N CPUs, model, load ..."
    log "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(loadavg)"
}

machine_desc() {  # "N CPUs, model, M MiB RAM, Linux release" for the **Machine:** line of RESULTS.md
    local model mem_kb
    model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' || true)
    mem_kb=$(awk '/^MemTotal:/ {print $2; exit}' /proc/meminfo)
    echo "$(getconf _NPROCESSORS_ONLN) CPUs, ${model:-?}, $((mem_kb / 1024)) MiB RAM, Linux $(uname -r)"
}

export_git_info() {  # export GIT_REV (short HEAD of $ROOT) and GIT_DIRTY (a note when src/ has changes)
    GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    GIT_DIRTY=""
    if git -C "$ROOT" status --porcelain -- src 2>/dev/null | grep -q .; then GIT_DIRTY=" (src/ has uncommitted changes)"; fi
    export GIT_REV GIT_DIRTY
}
