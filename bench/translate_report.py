#!/usr/bin/env python3
"""Markdown tables from translate_bench's JSON output (--benchmark_out=FILE --benchmark_out_format=json,
with --benchmark_repetitions=N --benchmark_report_aggregates_only=true): medians of CPU time.

usage: bench/translate_report.py FILE.json
"""
import json
import sys

GOAL_EVENTS_PER_S = 100_000
GOAL_RATIO = 1.5


def main(path):
    with open(path) as f:
        doc = json.load(f)
    med = {}
    for b in doc["benchmarks"]:
        if b.get("aggregate_name") == "median":
            med[b["run_name"]] = b
    ctx = doc["context"]
    print(f"- Google Benchmark context: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, "
          f"load average {', '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))} at the start; "
          f"library built as {ctx.get('library_build_type')}")
    print()
    print("| stream | path | events | CPU ns/event | events/s (CPU) | × passthrough | "
          "allocs/stream | allocs/event mid-stream | allocs in the last quarter + end |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in ("text", "tool"):
        for src in ("chat", "messages", "responses"):
            peer_name = f"stream/{kind}/{src}/" + ("passthrough_scanner" if src == "chat" else "passthrough_readonly")
            peer = med.get(peer_name)
            names = [n for n in med if n.startswith(f"stream/{kind}/{src}/")]
            order = sorted(names, key=lambda n: (not n.endswith("passthrough_scanner"),
                                                 not n.endswith("passthrough_readonly"), n))
            for n in order:
                b = med[n]
                events = b["events"]
                ns = b["cpu_time"] / events  # cpu_time is in ns for the stream benchmarks
                ratio = ns / (peer["cpu_time"] / peer["events"]) if peer else float("nan")
                path = n.split("/", 3)[3]
                if path.startswith("to_"):
                    path = f"{src} → {path[3:]}"
                    mark = "" if (1e9 / ns >= GOAL_EVENTS_PER_S and ratio <= GOAL_RATIO) else " ✗"
                    ratio_s = f"**{ratio:.2f}×**{mark}"
                else:
                    path = f"{src} {path.replace('_', ' ')}"
                    ratio_s = "peer" if n == peer_name else f"{ratio:.2f}×"
                print(f"| {kind} | {path} | {events:.0f} | {ns:,.0f} | {1e9 / ns:,.0f} | {ratio_s} | "
                      f"{b['allocs/stream']:.0f} | {b['mid_allocs/event']:.4f} | {b['tail_allocs']:.0f} |")
    print()
    print("| body | bytes in | bytes out | CPU µs/request | allocs/request |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for n in ("body/messages/to_chat", "body/responses/to_chat", "body/chat/to_messages"):
        b = med.get(n)
        if not b:
            continue
        us = b["cpu_time"] if b["time_unit"] == "us" else b["cpu_time"] / 1000
        _, src, to = n.split("/")
        print(f"| {src} → {to[3:]} | {b['body_bytes']:,.0f} | {b['out_bytes']:,.0f} | {us:.1f} | "
              f"{b['allocs/request']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
