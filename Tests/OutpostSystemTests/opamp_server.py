#!/usr/bin/env python3
"""A small OpAMP server (HTTP transport) built from the official messages (the opamp.proto that the
opentelemetry-opamp-client package on PyPI ships as opamp_pb2), for Outpost's tests and the README's Fleet section.

usage: opamp_server.py PORT [CERT KEY]
  PORT 0 picks a free one (printed on stdout); CERT KEY serve HTTPS
  POST /v1/opamp   an AgentToServer (application/x-protobuf); answered with a ServerToAgent that carries the
                   configuration pushed last, until the agent reports on it
  POST /config     the body is a whole outpost.toml: push it to every agent (its hash is the SHA-256 of the text)
  GET  /agents     what each agent reported last, as JSON: description, capabilities, health, effective
                   configuration and its remote configuration status (APPLIED, FAILED and the error)
  GET  /received   every AgentToServer so far, as JSON, oldest first
"""
import hashlib
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry._opamp.proto import opamp_pb2

lock = threading.Lock()
received = []
agents = {}
pushed = {"text": None, "hash": b""}


def summary(message):
    """The parts of an AgentToServer a test or a person looks at."""
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    entry = {"instance_uid": message.instance_uid.hex(), "sequence_num": message.sequence_num,
             "capabilities": message.capabilities,
             "capability_names": [name for name, value in opamp_pb2.AgentCapabilities.items()
                                  if value and message.capabilities & value == value]}
    if message.HasField("agent_description"):
        entry["description"] = {kv.key: kv.value.string_value for kv in
                                list(message.agent_description.identifying_attributes)
                                + list(message.agent_description.non_identifying_attributes)}
    if message.HasField("health"):
        entry["health"] = data["health"]
    if message.HasField("effective_config"):
        files = message.effective_config.config_map.config_map
        entry["effective_config"] = {name: file.body.decode() for name, file in files.items()}
    if message.HasField("remote_config_status"):
        status = message.remote_config_status
        entry["remote_config_status"] = {"hash": status.last_remote_config_hash.hex(),
                                         "status": opamp_pb2.RemoteConfigStatuses.Name(status.status),
                                         "error_message": status.error_message}
    if message.HasField("agent_disconnect"):
        entry["disconnect"] = True
    return entry


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            body = json.dumps(agents if self.path == "/agents" else received, indent=1).encode()
        self.reply(200, body)

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/config":
            with lock:
                pushed["text"] = data
                pushed["hash"] = hashlib.sha256(data).digest()
            return self.reply(200, json.dumps({"hash": pushed["hash"].hex()}).encode())
        if self.headers.get("Content-Type") != "application/x-protobuf":
            return self.reply(415, b"OpAMP over HTTP is application/x-protobuf")
        message = opamp_pb2.AgentToServer()
        message.ParseFromString(data)
        entry = summary(message)
        answer = opamp_pb2.ServerToAgent(instance_uid=message.instance_uid)
        with lock:
            received.append(entry)
            agent = agents.setdefault(entry["instance_uid"], {})
            agent.update({key: value for key, value in entry.items() if key != "sequence_num"})
            reported = message.remote_config_status.last_remote_config_hash
            # Sent until the agent reports on this hash (APPLIED or FAILED), as an OpAMP server does.
            if pushed["text"] is not None and reported != pushed["hash"]:
                answer.remote_config.config_hash = pushed["hash"]
                answer.remote_config.config.config_map["outpost.toml"].body = pushed["text"]
                answer.remote_config.config.config_map["outpost.toml"].content_type = "text/toml"
            if message.sequence_num == 1:
                answer.flags = opamp_pb2.ServerToAgentFlags_ReportFullState
        self.reply(200, answer.SerializeToString(), content_type="application/x-protobuf")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if len(sys.argv) > 3:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
