#!/usr/bin/python3
"""Holds COUNT idle connections open against a server for DURATION seconds: each connects and
sends nothing. A connection the server closes (shed, or answered 503 and closed) is opened again at
once, so the pressure lasts. Prints: held at the end, closed by the server, refused (read a 503),
connect failures. Used by bench/flood_bench.sh."""
import argparse
import selectors
import socket
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--duration", type=float, default=20)
    args = ap.parse_args()
    sel = selectors.DefaultSelector()
    closed = refused = failed = 0

    def open_one() -> None:
        nonlocal failed
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", args.port))
            sel.register(s, selectors.EVENT_READ)
        except OSError:
            failed += 1
            s.close()

    for _ in range(args.count):
        open_one()
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 503"):
                refused += 1
            if data and not data.startswith(b"HTTP/1.1 503"):
                continue
            closed += 1
            sel.unregister(s)
            s.close()
            open_one()
    print(f"held {len(sel.get_map())} closed_by_server {closed} refused_503 {refused} connect_failures {failed}")


if __name__ == "__main__":
    main()
