#!/usr/bin/python3
"""Closed-loop HTTP load for the routing benchmarks: N workers, each with a keep-alive connection,
post one small chat completion after another for a duration and record every request as a JSON
line: start (seconds since the run began), latency (ms), status (0 = no answer), and which
deployment served it (x-switchyard-upstream, or x-served-by from bench/naive_balancer.py).

  loadgen.py --port 8080 --model m --concurrency 12 --duration 30 --out run.jsonl

Python's asyncio and only the standard library (the benchmark machines have no PyPI); a few
thousand requests per second is plenty for these scenarios, which run a few hundred."""
import argparse
import asyncio
import json
import time


async def read_response(reader):
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def worker(args, deadline, start, records):
    body = json.dumps({"model": args.model, "messages": [{"role": "user", "content": "hello"}],
                       "max_tokens": args.max_tokens}).encode()
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    reader = writer = None
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        record = {"t": round(t0 - start, 4), "status": 0, "by": ""}
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", args.port), args.timeout)
            writer.write(request)
            status, headers, _ = await asyncio.wait_for(read_response(reader), args.timeout)
            record["status"] = status
            record["by"] = headers.get("x-switchyard-upstream") or headers.get("x-served-by", "")
            if headers.get("connection", "").lower() == "close":
                writer.close()
                writer = None
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError) as e:
            record["error"] = type(e).__name__
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
        record["ms"] = round((time.monotonic() - t0) * 1000, 2)
        records.append(record)
    if writer is not None:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--out", required=True)
    parser.add_argument("--start-file", help="write the wall-clock start time (Unix seconds) here")
    args = parser.parse_args()
    records = []
    start = time.monotonic()
    if args.start_file:
        with open(args.start_file, "w") as f:
            f.write(f"{time.time():.6f}\n")
    deadline = start + args.duration
    await asyncio.gather(*(worker(args, deadline, start, records) for _ in range(args.concurrency)))
    with open(args.out, "w") as out:
        for record in sorted(records, key=lambda r: r["t"]):
            out.write(json.dumps(record) + "\n")


asyncio.run(main())
