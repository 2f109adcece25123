"""The proto descriptor set Envoy's transcoder loads, built from the generated Python modules."""

from __future__ import annotations

from agentsessions.v1 import message_service_pb2, session_service_pb2
from google.protobuf import descriptor, descriptor_pb2
from google.rpc import error_details_pb2

# The services Envoy serves, and the error detail types (ErrorInfo, BadRequest, RetryInfo) it must
# know to print a server's google.rpc.Status: without them it falls back to an empty body.
_FILES = (
    session_service_pb2.DESCRIPTOR,
    message_service_pb2.DESCRIPTOR,
    error_details_pb2.DESCRIPTOR,
)


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """The files above and everything they import, each after its imports."""
    out = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(file: descriptor.FileDescriptor) -> None:
        if file.name in seen:
            return
        seen.add(file.name)
        for dependency in file.dependencies:
            add(dependency)
        file.CopyToProto(out.file.add())

    for file in _FILES:
        add(file)
    return out
