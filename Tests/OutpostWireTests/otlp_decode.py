#!/usr/bin/env python3
"""Decodes an Outpost batch with the official OTLP schema (opentelemetry-proto from PyPI) and prints it as JSON.

usage: otlp_decode.py SIGNAL ENCODING COMPRESSION FILE
  SIGNAL metrics|logs, ENCODING protobuf|json, COMPRESSION gzip|zstd|identity (zstd through `zstandard`, a
  binding of the reference library)
  FILE `-`: standard input holds one batch per line, in hex (mosquitto_sub -F %x); prints a JSON list
The printed JSON uses proto field names (snake_case) and integer enums, so the test compares field by field.
"""
import gzip
import json
import sys

import zstandard

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest


def decode(data):
    if compression == "gzip":
        data = gzip.decompress(data)
    elif compression == "zstd":
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    message = ExportMetricsServiceRequest() if signal == "metrics" else ExportLogsServiceRequest()
    if encoding == "protobuf":
        message.ParseFromString(data)
    else:
        # Parse rejects unknown fields and wrong types: the OTLP/JSON must match the schema exactly.
        json_format.Parse(data.decode("utf-8"), message)
    return json_format.MessageToDict(message, preserving_proto_field_name=True, use_integers_for_enums=True)


signal, encoding, compression, path = sys.argv[1:5]
if path == "-":
    print(json.dumps([decode(bytes.fromhex(line.strip())) for line in sys.stdin if line.strip()]))
else:
    print(json.dumps(decode(open(path, "rb").read())))
