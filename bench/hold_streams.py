#!/usr/bin/env python3
"""Hold N streaming chat completions open through a proxy and report its memory per open stream.

Used by bench/core_bench.sh. Standard library only. Each stream asks the simulator (through the
x-sim-* headers) for a long, slow completion, so it stays open while chunks keep trickling. The
script measures the proxy's VmRSS (from /proc/PID/status) once idle, after a warm-up stream, and
again while all N streams are open and have received their first SSE event; it prints one line:
    STREAMS <open> RSS_IDLE_KB <kb> RSS_OPEN_KB <kb> PER_STREAM_BYTES <bytes>
"""
import argparse
import asyncio
import sys

BODY = b'{"model":"bench","stream":true,"messages":[{"role":"user","content":"hello"}],"max_tokens":1000000}'


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def request(port: int, itl_ms: int, tokens: int) -> bytes:
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n"
        f"x-sim-itl-ms: {itl_ms}\r\nx-sim-tokens: {tokens}\r\n\r\n"
    )
    return head.encode() + BODY


async def open_stream(port: int, req: bytes, opened: asyncio.Event, counter: list, stop: asyncio.Event):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(req)
    await writer.drain()
    buf = b""
    while b"data: " not in buf:
        chunk = await reader.read(65536)
        if not chunk:
            raise RuntimeError("closed before the first event: " + buf[:200].decode(errors="replace"))
        buf += chunk
    if not buf.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("bad answer: " + buf[:200].decode(errors="replace"))
    counter[0] += 1
    if counter[0] == counter[1]:
        opened.set()
    # Keep reading (and discarding) so that the proxy's buffers are not merely backed up.
    read_task = asyncio.ensure_future(drain(reader))
    await stop.wait()
    read_task.cancel()
    writer.close()


async def drain(reader):
    while await reader.read(65536):
        pass


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="process whose VmRSS is measured")
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--itl-ms", type=int, default=200)
    ap.add_argument("--tokens", type=int, default=1000000)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds to wait once all are open")
    args = ap.parse_args()

    # Warm-up: one short stream, so that lazily allocated per-thread state is in the idle figure.
    reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
    writer.write(request(args.port, 0, 4).replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
    await writer.drain()
    while await reader.read(65536):
        pass
    writer.close()
    await asyncio.sleep(0.5)
    idle = rss_kb(args.pid)

    req = request(args.port, args.itl_ms, args.tokens)
    opened, stop = asyncio.Event(), asyncio.Event()
    counter = [0, args.streams]
    tasks = []
    for i in range(args.streams):
        tasks.append(asyncio.ensure_future(open_stream(args.port, req, opened, counter, stop)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)  # do not overflow the listen backlog
    try:
        await asyncio.wait_for(opened.wait(), timeout=60)
    except asyncio.TimeoutError:
        for t in tasks:
            if t.done() and t.exception():
                print(f"stream failed: {t.exception()}", file=sys.stderr)
                break
        print(f"only {counter[0]} of {args.streams} streams opened", file=sys.stderr)
        return 1
    await asyncio.sleep(args.settle)
    during = max(rss_kb(args.pid), 0)
    # Sample a few times and keep the largest: the streams are all open for the whole window.
    for _ in range(4):
        await asyncio.sleep(0.25)
        during = max(during, rss_kb(args.pid))
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    per_stream = (during - idle) * 1024 / args.streams
    print(f"STREAMS {counter[0]} RSS_IDLE_KB {idle} RSS_OPEN_KB {during} PER_STREAM_BYTES {per_stream:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
