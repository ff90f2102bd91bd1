#!/usr/bin/python3
"""The load balancer of the field report (../shared/MISSION.md), rebuilt as its scripts behave, to
compare Switchyard against in bench/fault_bench.sh:

- round-robin over the local servers;
- one global requests-per-minute counter, charged before the request is served;
- a circuit breaker per local server that opens after 5 failures and never closes again (no
  cooldown, no half-open probe, no reset on success);
- the cloud as last resort: a request whose local server fails is sent to the cloud, and when every
  local breaker is open everything goes to the cloud;
- a new HTTP connection for every upstream request, a fixed 30 s timeout.

  naive_balancer.py --port 9000 --local http://127.0.0.1:9001 --local ... --cloud http://127.0.0.1:9004

It adds `x-served-by: <local-N | cloud>` to each answer so the benchmark sees where traffic went."""
import argparse
import http.client
import http.server
import threading
import time
import urllib.parse

lock = threading.Lock()
state = {"next": 0, "failures": {}, "minute": 0, "count": 0}


def forward(url, path, body, headers):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else head and body writes meet delayed ACKs: +40 ms a request

    def log_message(self, *args):
        pass

    def answer(self, status, body, served_by, headers=()):
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-served-by", served_by)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {"Content-Type": "application/json"}
        with lock:
            minute = int(time.time() // 60)
            if minute != state["minute"]:
                state["minute"], state["count"] = minute, 0
            state["count"] += 1
            if state["count"] > args.rpm:
                self.answer(429, b'{"error":"rate limit"}', "balancer")
                return
            alive = [i for i in range(len(args.local)) if state["failures"].get(i, 0) < 5]
            pick = None
            if alive:
                pick = alive[state["next"] % len(alive)]
                state["next"] += 1
        if pick is not None:
            try:
                status, response_headers, response = forward(args.local[pick], self.path, body, headers)
                if status < 500:
                    self.answer(status, response, f"local-{pick + 1}", response_headers)
                    return
            except OSError:
                pass
            with lock:
                state["failures"][pick] = state["failures"].get(pick, 0) + 1  # never reset
        try:
            status, response_headers, response = forward(args.cloud, self.path, body, headers)
            self.answer(status, response, "cloud", response_headers)
        except OSError as e:
            self.answer(502, str(e).encode(), "cloud")


parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--local", action="append", required=True)
parser.add_argument("--cloud", required=True)
parser.add_argument("--rpm", type=int, default=1_000_000)
args = parser.parse_args()
server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
server.serve_forever()
