#!/usr/bin/env python3
"""An OTLP/HTTP receiver that only counts: every HTTP byte of each exchange on /v1/* (request line, headers and body
in; status line, headers and body out), counted on the socket, and the requests per path. Answers 200 with an empty
body and the headers a Collector sends, as a Collector answers a full success. Standard library only.

usage: receiver.py PORT          (0: a free port, printed on stdout)
  GET /count   {"in": bytes, "out": bytes, "requests": {"/v1/metrics": n, "/v1/logs": n}, "bytes": {path: bytes}}
"""
import io
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
totals = {"in": 0, "out": 0, "requests": {}, "bytes": {}}


class Counting(io.RawIOBase):
    def __init__(self, inner):
        self.inner = inner
        self.count = 0

    def write(self, data):
        self.count += len(data)
        return self.inner.write(data)

    def read(self, size=-1):
        data = self.inner.read(size)
        self.count += len(data)
        return data

    def readline(self, size=-1):
        data = self.inner.readline(size)
        self.count += len(data)
        return data

    def flush(self):
        return self.inner.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.rfile = Counting(self.rfile)
        self.wfile = Counting(self.wfile)

    def handle_one_request(self):
        before = (self.rfile.count, self.wfile.count)
        super().handle_one_request()
        path = getattr(self, "path", "")
        if path.startswith("/v1/"):
            with lock:
                totals["in"] += self.rfile.count - before[0]
                totals["out"] += self.wfile.count - before[1]
                totals["requests"][path] = totals["requests"].get(path, 0) + 1
                exchanged = self.rfile.count - before[0] + self.wfile.count - before[1]
                totals["bytes"][path] = totals["bytes"].get(path, 0) + exchanged

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        # The headers an OpenTelemetry Collector (Go's net/http) answers with: no Server header, a Date.
        self.send_response_only(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            body = json.dumps(totals).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
