"""The Anthropic Messages API wire format, as the simulator speaks it.

Request validation with Anthropic-shaped errors, the non-streaming message body, the server-sent
event sequence of a streamed message, token estimates, and the ``x-sim-*`` headers with which one
request can override its latency or ask for a fault.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from .profiles import Timing

__all__ = [
    "ERROR_TYPES",
    "HEADER_CUT_AFTER",
    "HEADER_GENERATION_MS",
    "HEADER_HEADER_DELAY_MS",
    "HEADER_STALL_AFTER",
    "HEADER_STALL_MS",
    "HEADER_STATUS",
    "HEADER_TOKENS",
    "HEADER_TOKENS_PER_S",
    "HEADER_TTFT_MS",
    "Block",
    "RequestError",
    "apply_headers",
    "error_body",
    "estimate_tokens",
    "message_body",
    "new_id",
    "sse",
    "stream_events",
    "validate_request",
]

HEADER_TTFT_MS: Final = "x-sim-ttft-ms"
HEADER_GENERATION_MS: Final = "x-sim-generation-ms"
HEADER_TOKENS: Final = "x-sim-tokens"
HEADER_TOKENS_PER_S: Final = "x-sim-tokens-per-s"
HEADER_STATUS: Final = "x-sim-status"
HEADER_CUT_AFTER: Final = "x-sim-cut-after"
HEADER_STALL_MS: Final = "x-sim-stall-ms"
HEADER_STALL_AFTER: Final = "x-sim-stall-after"
HEADER_HEADER_DELAY_MS: Final = "x-sim-header-delay-ms"

ERROR_TYPES: Final[Mapping[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_ERROR_MESSAGES: Final[Mapping[int, str]] = {
    429: "Number of request tokens has exceeded your per-minute rate limit (simulated)",
    500: "Internal server error (simulated)",
    529: "Overloaded (simulated)",
}


class RequestError(Exception):
    """A request the real API would refuse: becomes an Anthropic error body with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def new_id(prefix: str) -> str:
    return f"{prefix}_sim{secrets.token_hex(10)}"


def error_body(status: int, message: str | None = None, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message or _ERROR_MESSAGES.get(status, "")},
    }
    if request_id:
        body["request_id"] = request_id
    return body


# --- validation ---------------------------------------------------------------------------------------


def _fail(message: str) -> RequestError:
    return RequestError(400, message)


def validate_request(body: object) -> dict[str, Any]:
    """The request body if it is one the real API would accept; otherwise RequestError(400) naming the field."""
    if not isinstance(body, dict):
        raise _fail("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _fail("model: Field required" if model is None else "model: Input should be a valid string")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise _fail("max_tokens: Field required" if max_tokens is None else "max_tokens: Input should be an integer")
    if max_tokens < 1:
        raise _fail("max_tokens: Input should be greater than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise _fail("messages: Field required" if messages is None else "messages: Input should be a valid list")
    if not messages:
        raise _fail("messages: at least one message is required")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _fail(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        if not isinstance(content, str | list):
            raise _fail(f"messages.{index}.content: Input should be a valid string or list of content blocks")
        if isinstance(content, list):
            for block_index, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise _fail(f"messages.{index}.content.{block_index}.type: Field required")
    if messages[0].get("role") != "user":
        raise _fail('messages: first message must use the "user" role')
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _fail("stream: Input should be a valid boolean")
    tools = body.get("tools", [])
    if not isinstance(tools, list):
        raise _fail("tools: Input should be a valid list")
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise _fail(f"tools.{index}.name: Field required")
        if "input_schema" in tool and not isinstance(tool["input_schema"], dict):
            raise _fail(f"tools.{index}.input_schema: Input should be a valid dictionary")
    return body


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise _fail(f"header {name}: {value!r} is not a number") from None
    if number < 0:
        raise _fail(f"header {name}: {value!r} must not be negative")
    return number


def apply_headers(timing: Timing, headers: Mapping[str, str]) -> Timing:
    """Per-request ``x-sim-*`` overrides on top of the drawn timing."""
    changes: dict[str, Any] = {}
    for header, field_name in (
        (HEADER_TTFT_MS, "ttft_ms"),
        (HEADER_GENERATION_MS, "generation_ms"),
        (HEADER_TOKENS_PER_S, "tokens_per_s"),
        (HEADER_STALL_MS, "stall_ms"),
        (HEADER_HEADER_DELAY_MS, "header_delay_ms"),
    ):
        value = _header_number(headers, header)
        if value is not None:
            changes[field_name] = value
    for header, field_name in (
        (HEADER_TOKENS, "output_tokens"),
        (HEADER_STATUS, "status"),
        (HEADER_CUT_AFTER, "cut_after_events"),
        (HEADER_STALL_AFTER, "stall_after_events"),
    ):
        value = _header_number(headers, header)
        if value is not None:
            changes[field_name] = int(value)
    if "status" in changes and changes["status"] not in ERROR_TYPES:
        raise _fail(f"header {HEADER_STATUS}: {changes['status']} is not one of {sorted(ERROR_TYPES)}")
    if "stall_ms" in changes and "stall_after_events" not in changes and not timing.stall_after_events:
        changes["stall_after_events"] = 1
    return replace(timing, **changes)


# --- token estimates --------------------------------------------------------------------------------------


def estimate_tokens(value: object) -> int:
    """About four characters a token, as a rough tokenizer would give; at least one."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return max(1, len(text) // 4)


# --- responses ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One content block of the answer: text split into token-sized pieces, or a tool call."""

    type: str
    pieces: tuple[str, ...]
    """Text deltas of a text block, or the partial JSON chunks of a tool call's input."""
    tool_id: str | None = None
    tool_name: str | None = None
    tool_input: Mapping[str, Any] | None = None

    def full(self) -> dict[str, Any]:
        if self.type == "text":
            return {"type": "text", "text": "".join(self.pieces)}
        return {"type": "tool_use", "id": self.tool_id, "name": self.tool_name, "input": dict(self.tool_input or {})}


def message_body(
    *,
    message_id: str,
    model: str,
    blocks: Sequence[Block],
    stop_reason: str,
    usage: Mapping[str, int],
) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block.full() for block in blocks],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": dict(usage),
    }


def sse(event: Mapping[str, Any]) -> bytes:
    """One server-sent event, named after its ``type`` as the real API does."""
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def stream_events(
    *,
    message_id: str,
    model: str,
    blocks: Sequence[Block],
    stop_reason: str,
    usage: Mapping[str, int],
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], bool]], list[dict[str, Any]]]:
    """The event sequence of a streamed message, in three parts.

    The head (message_start, the first content_block_start, ping) goes out as soon as headers do; each
    body event is paired with whether it carries an output token (and so is paced); the tail
    (message_delta with usage and stop_reason, message_stop) closes the stream.
    """
    start_usage = {**usage, "output_tokens": 1}
    head: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                **message_body(message_id=message_id, model=model, blocks=[], stop_reason="", usage=start_usage),
                "stop_reason": None,
            },
        },
    ]
    body: list[tuple[dict[str, Any], bool]] = []
    for index, block in enumerate(blocks):
        start = _block_start(index, block)
        if index == 0:
            head.append(start)
            head.append({"type": "ping"})
        else:
            body.append((start, False))
        for piece in block.pieces:
            delta = (
                {"type": "text_delta", "text": piece}
                if block.type == "text"
                else {"type": "input_json_delta", "partial_json": piece}
            )
            body.append(({"type": "content_block_delta", "index": index, "delta": delta}, True))
        body.append(({"type": "content_block_stop", "index": index}, False))
    tail: list[dict[str, Any]] = [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
        {"type": "message_stop"},
    ]
    return head, body, tail


def _block_start(index: int, block: Block) -> dict[str, Any]:
    if block.type == "text":
        return {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
    return {
        "type": "content_block_start",
        "index": index,
        "content_block": {"type": "tool_use", "id": block.tool_id, "name": block.tool_name, "input": {}},
    }


def json_pieces(value: Mapping[str, Any], size: int = 12) -> Iterator[str]:
    """A tool input's JSON cut into chunks, as input_json_delta events carry it."""
    text = json.dumps(value, separators=(",", ":"))
    for start in range(0, len(text), size):
        yield text[start : start + size]
