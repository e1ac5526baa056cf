"""Local OTLP receivers on 127.0.0.1 for export tests: gRPC and HTTP/protobuf, plus a silent port."""

from __future__ import annotations

import socket
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class Received:
    """What a receiver got: span names, and the headers of each request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.span_names: list[str] = []
        self.bodies: list[tuple[str, bytes]] = []
        """(path, raw request body) of every HTTP request, traces and metrics alike."""
        self.spans: list[tuple[bytes, bytes, bytes, str]] = []
        """(trace id, span id, parent span id or b"", name) of every span received."""
        self.headers: list[dict[str, str]] = []
        self.resources: list[dict[str, Any]] = []
        self.event = threading.Event()

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest, headers: dict[str, str]) -> None:
        with self.lock:
            self.headers.append(headers)
            for resource_spans in request.resource_spans:
                self.resources.append({kv.key: kv.value.string_value for kv in resource_spans.resource.attributes})
                for scope_spans in resource_spans.scope_spans:
                    self.span_names.extend(span.name for span in scope_spans.spans)
                    self.spans.extend(
                        (span.trace_id, span.span_id, span.parent_span_id, span.name) for span in scope_spans.spans
                    )
        self.event.set()


class GrpcReceiver:
    def __init__(self) -> None:
        self.received = Received()
        received = self.received

        class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request, context):
                received.add(request, {k: v for k, v in context.invocation_metadata()})
                return trace_service_pb2.ExportTraceServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=None)


class HttpReceiver:
    def __init__(self) -> None:
        self.received = Received()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.bodies.append((self.path, body))
                request = trace_service_pb2.ExportTraceServiceRequest()
                if self.path == "/v1/traces":
                    request.ParseFromString(body)
                    received.add(request, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SilentPort:
    """A port that accepts TCP connections and never answers: an exporter's worst case."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.socket.close()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released): free to serve on, closed to connect to."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


closed_port = free_port
