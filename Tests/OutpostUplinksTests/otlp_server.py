#!/usr/bin/env python3
"""An OTLP/HTTP receiver for Outpost's tests: decodes every request with the official schema (opentelemetry-proto
from PyPI) and answers with scripted responses.

usage: otlp_server.py PORT [CERT KEY [CLIENT_CA]]
  PORT 0 picks a free one (printed on stdout); CERT KEY serve HTTPS; CLIENT_CA requires client certificates
  POST /v1/metrics, /v1/logs   decoded and recorded; answered by the next scripted response, else 200
  POST /control                JSON {"responses": [{"status": 503, "headers": {...}, "delay": 2.0,
                                                   "partial": "reason"}, ...]} queues responses;
                               {"status": 200, "content_type": "text/html", "body": "<html>"} answers a page of
                               its own (a captive portal); {"drop": true} reads the request and resets the
                               connection without an answer (a kept-alive connection the server dropped);
                               {"stall": true} reads the request and never answers on that connection (one a NAT
                               box forgot: what is sent goes nowhere);
                               {"max_body": N} answers 413 to every request larger than N bytes from then on
  GET  /received               every decoded request so far, as JSON
  GET  /wire                   {"in": bytes, "out": bytes, "exchanges": [{"path", "bytes"}]}: every HTTP byte of the
                               /v1/ exchanges (request line, headers and body in; status line, headers and body
                               out), counted on the socket
Content-Encoding gzip and zstd are decoded (zstd with the `zstandard` package, a binding of the reference library).
"""
import gzip
import io
import json
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import zstandard
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics

lock = threading.Lock()
received = []
script = []
limits = {"max_body": None}
wire = {"in": 0, "out": 0, "exchanges": []}


class Counting(io.RawIOBase):
    """Counts the bytes read from or written to a connection's file."""

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

    def close(self):
        return self.inner.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):  # a connection dropped on purpose
            pass

    def setup(self):
        super().setup()
        self.rfile = Counting(self.rfile)
        self.wfile = Counting(self.wfile)

    def handle_one_request(self):
        before_in, before_out = self.rfile.count, self.wfile.count
        super().handle_one_request()
        if getattr(self, "path", "").startswith("/v1/"):
            with lock:
                wire["in"] += self.rfile.count - before_in
                wire["out"] += self.wfile.count - before_out
                wire["exchanges"].append({"path": self.path, "bytes": self.rfile.count - before_in
                                          + self.wfile.count - before_out})

    def reply(self, status, body=b"", headers=None, content_type="application/x-protobuf"):
        if "Date" in (headers or {}):
            self.send_response_only(status)  # the script's Date replaces the server's own
        else:
            self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            body = json.dumps(wire if self.path == "/wire" else received).encode()
        self.reply(200, body, content_type="application/json")

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/control":
            control = json.loads(data)
            with lock:
                script.extend(control.get("responses", []))
                if "max_body" in control:
                    limits["max_body"] = control["max_body"]
            return self.reply(204)
        with lock:
            step = script.pop(0) if script else {}
            max_body = limits["max_body"]
        if step.get("delay"):
            time.sleep(step["delay"])
        if step.get("stall"):
            self.close_connection = True
            while self.connection.recv(4096):  # until the client gives up and closes it
                pass
            return
        if step.get("drop"):
            # An abortive close (RST), as from a NAT box that forgot the connection.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if max_body is not None and len(data) > max_body:
            return self.reply(413, b"request entity too large", content_type="text/plain")
        if "content_type" in step:
            return self.reply(step.get("status", 200), step.get("body", "").encode(), step.get("headers"),
                              content_type=step["content_type"])
        if step.get("status", 200) != 200:
            return self.reply(step["status"], step.get("body", "").encode(), step.get("headers"),
                              content_type="text/plain")
        compressed_bytes = len(data)
        if self.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        elif self.headers.get("Content-Encoding") == "zstd":
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        is_json = self.headers.get("Content-Type") == "application/json"
        request, response = ((metrics.ExportMetricsServiceRequest(), metrics.ExportMetricsServiceResponse())
                             if self.path == "/v1/metrics" else
                             (logs.ExportLogsServiceRequest(), logs.ExportLogsServiceResponse()))
        try:
            if is_json:
                json_format.Parse(data.decode(), request)
            else:
                request.ParseFromString(data)
        except Exception as error:  # the test sees a 400 and fails loudly
            return self.reply(400, str(error).encode(), content_type="text/plain")
        decoded = json_format.MessageToDict(request, preserving_proto_field_name=True, use_integers_for_enums=True)
        with lock:
            received.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                             "content_encoding": self.headers.get("Content-Encoding"),
                             "user_agent": self.headers.get("User-Agent"),
                             "authorization": self.headers.get("Authorization"),
                             "time": time.time(), "body_bytes": compressed_bytes, "request": decoded})
        if step.get("partial"):
            if self.path == "/v1/metrics":
                response.partial_success.rejected_data_points = 1
            else:
                response.partial_success.rejected_log_records = 1
            response.partial_success.error_message = step["partial"]
        body = json_format.MessageToJson(response).encode() if is_json else response.SerializeToString()
        self.reply(200, body, content_type="application/json" if is_json else "application/x-protobuf")


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
if len(sys.argv) >= 4:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    if len(sys.argv) >= 5:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
