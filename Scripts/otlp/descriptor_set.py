#!/usr/bin/env python3
"""Writes a FileDescriptorSet of the OTLP protos from the `opentelemetry-proto` package on PyPI.

The .proto sources are not on PyPI, but the package's *_pb2 modules carry each file's serialized descriptor;
protoc reads the set with --descriptor_set_in, which is all protoc-gen-swift needs.
"""
import sys

from google.protobuf import descriptor_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

roots = [metrics_service_pb2.DESCRIPTOR, logs_service_pb2.DESCRIPTOR]
seen, ordered = set(), []


def visit(file_descriptor):
    if file_descriptor.name in seen:
        return
    seen.add(file_descriptor.name)
    for dependency in file_descriptor.dependencies:
        visit(dependency)
    ordered.append(file_descriptor)


for root in roots:
    visit(root)

descriptor_set = descriptor_pb2.FileDescriptorSet()
for file_descriptor in ordered:
    proto = descriptor_set.file.add()
    file_descriptor.CopyToProto(proto)
with open(sys.argv[1], "wb") as output:
    output.write(descriptor_set.SerializeToString())
print("\n".join(f.name for f in ordered))
