"""Where each platform serves the Messages API, and how each frames a streamed answer.

- First party: ``POST /v1/messages``; the body names the model and asks for a stream. Server-sent events.
- Vertex AI: ``POST {prefix}/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:rawPredict``
  (``:streamRawPredict`` to stream); the model is in the path, the body still says ``stream``. Server-sent
  events.
- Bedrock: ``POST /model/{model}/invoke`` (``/invoke-with-response-stream`` to stream); model and stream
  are in the path, the body has neither. Each event goes out base64-encoded in the payload of an AWS
  event-stream message (``:event-type chunk``), which is how botocore and the SDK decode it.

``route()`` reads the platform, endpoint, model and stream off a request line; ``frame()`` encodes one
event for the platform's stream.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from .protocol import sse

__all__ = ["Platform", "Route", "frame", "route", "stream_content_type"]

Platform = Literal["anthropic", "vertex", "bedrock"]
Endpoint = Literal["messages", "count_tokens"]


@dataclass(frozen=True)
class Route:
    """What a request's method and path say: the platform and endpoint, and what the path fixes."""

    platform: Platform
    endpoint: Endpoint
    model: str | None = None
    """The model named in the path (Vertex, Bedrock); None where the body names it."""
    stream: bool | None = None
    """Whether the path asks for a stream (Bedrock); None where the body says."""


_VERTEX: Final = re.compile(
    r"(?:/v1)?/projects/[^/]+/locations/[^/]+/publishers/anthropic/models/(?P<model>[^/]+?):"
    r"(?P<specifier>rawPredict|streamRawPredict)"
)
_BEDROCK: Final = re.compile(r"/model/(?P<model>[^/]+)/(?P<action>invoke|invoke-with-response-stream)")
_VERTEX_COUNT_TOKENS: Final = "count-tokens"


def route(method: str, path: str) -> Route | None:
    """The Messages API route a ``POST`` to ``path`` (already percent-decoded) is on; None for any other."""
    if method != "POST":
        return None
    if path == "/v1/messages":
        return Route("anthropic", "messages")
    if path == "/v1/messages/count_tokens":
        return Route("anthropic", "count_tokens")
    match = _VERTEX.fullmatch(path)
    if match is not None:
        if match["model"] == _VERTEX_COUNT_TOKENS:
            return Route("vertex", "count_tokens")
        return Route("vertex", "messages", model=match["model"])
    match = _BEDROCK.fullmatch(path)
    if match is not None:
        return Route("bedrock", "messages", model=match["model"], stream=match["action"] != "invoke")
    return None


def stream_content_type(platform: Platform) -> str:
    return "application/vnd.amazon.eventstream" if platform == "bedrock" else "text/event-stream; charset=utf-8"


def frame(platform: Platform, event: Mapping[str, Any]) -> bytes:
    """One stream event as the platform puts it on the wire."""
    return _aws_chunk(event) if platform == "bedrock" else sse(event)


_CHUNK_HEADERS: Final = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
_STRING_HEADER: Final = 7
"""The header value type code of a string in the AWS event-stream encoding."""


def _aws_chunk(event: Mapping[str, Any]) -> bytes:
    """An AWS event-stream message (prelude, headers, payload, two CRC32s) whose payload holds the event."""
    data = json.dumps(event, separators=(",", ":")).encode()
    payload = json.dumps({"bytes": base64.b64encode(data).decode()}).encode()
    headers = b"".join(
        bytes([len(name)]) + name.encode() + bytes([_STRING_HEADER]) + struct.pack(">H", len(value)) + value.encode()
        for name, value in _CHUNK_HEADERS.items()
    )
    prelude = struct.pack(">II", 16 + len(headers) + len(payload), len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))
