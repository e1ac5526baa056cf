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
from typing import Any, Final, Literal

from ..catalogue import FAST_MODE_BETA, fast_mode_of
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
    "HEADER_REDACTED_THINKING",
    "HEADER_THINKING_MS",
    "HEADER_THINKING_TOKENS",
    "HEADER_TTFT_MS",
    "Block",
    "Pace",
    "RequestError",
    "apply_headers",
    "error_body",
    "estimate_tokens",
    "message_body",
    "new_id",
    "thinking_requested",
    "sse",
    "stream_events",
    "SYSTEM_MESSAGE_BETAS",
    "betas",
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
HEADER_THINKING_MS: Final = "x-sim-thinking-ms"
HEADER_THINKING_TOKENS: Final = "x-sim-thinking-tokens"
HEADER_REDACTED_THINKING: Final = "x-sim-redacted-thinking"

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


Pace = Literal["thinking", "answer"] | None
"""Which schedule a streamed event's token is paced on; None for an event that carries no token."""


class RequestError(Exception):
    """A request the real API would refuse: becomes an Anthropic error body with ``status``."""

    def __init__(self, status: int, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        """The error's ``details`` object (``{"error_code": "thread_not_found"}``), for errors that have one."""


def new_id(prefix: str) -> str:
    return f"{prefix}_sim{secrets.token_hex(10)}"


def error_body(
    status: int,
    message: str | None = None,
    request_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message or _ERROR_MESSAGES.get(status, "")},
    }
    if details:
        body["error"]["details"] = dict(details)
    if request_id:
        body["request_id"] = request_id
    return body


# --- validation ---------------------------------------------------------------------------------------


def _fail(message: str) -> RequestError:
    return RequestError(400, message)


SYSTEM_MESSAGE_BETAS: Final = frozenset({"per-turn-control-2026-07-01", "mid-conversation-tool-changes-2026-07-01"})
"""Betas under which ``messages`` may hold ``system``-role messages (instructions given mid-conversation, as the
Claude Code CLI sends them); without one, the API answers such a request 400."""


def betas(header: str | None) -> frozenset[str]:
    """The betas an ``anthropic-beta`` header turns on (comma-separated)."""
    return frozenset(part.strip() for part in (header or "").split(",") if part.strip())


def validate_request(body: object, enabled_betas: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The request body if it is one the real API would accept; otherwise RequestError(400) naming the field.

    ``enabled_betas``: what the request's ``anthropic-beta`` header turns on (see ``SYSTEM_MESSAGE_BETAS``).
    """
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
    roles = ("user", "assistant", "system") if enabled_betas & SYSTEM_MESSAGE_BETAS else ("user", "assistant")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in roles:
            raise _fail(f"messages.{index}.role: Input should be {' or '.join(repr(role) for role in roles)}")
        content = message.get("content")
        if not isinstance(content, str | list):
            raise _fail(f"messages.{index}.content: Input should be a valid string or list of content blocks")
        if isinstance(content, list):
            for block_index, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise _fail(f"messages.{index}.content.{block_index}.type: Field required")
    if messages[0].get("role") != "user":
        raise _fail('messages: first message must use the "user" role')
    _validate_tool_pairs(messages)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _fail("stream: Input should be a valid boolean")
    _validate_thinking(body.get("thinking"), max_tokens)
    _validate_speed(body, enabled_betas)
    tools = body.get("tools", [])
    if not isinstance(tools, list):
        raise _fail("tools: Input should be a valid list")
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise _fail(f"tools.{index}.name: Field required")
        if "input_schema" in tool and not isinstance(tool["input_schema"], dict):
            raise _fail(f"tools.{index}.input_schema: Input should be a valid dictionary")
    return body


def _validate_speed(body: Mapping[str, Any], enabled_betas: frozenset[str]) -> None:
    """``speed``: ``standard``, or ``fast`` on a model with fast mode (with the beta header where it needs one)."""
    speed = body.get("speed")
    if speed is None or speed == "standard":
        return
    if speed != "fast":
        raise _fail(f"speed: Input should be 'standard' or 'fast', not {speed!r}")
    needs_beta = fast_mode_of(body["model"])
    if needs_beta is None:
        raise _fail(f"speed: fast mode is not available for model {body['model']!r}")
    if needs_beta and FAST_MODE_BETA not in enabled_betas:
        raise _fail(f"speed: fast mode on {body['model']!r} needs the anthropic-beta header {FAST_MODE_BETA!r}")


def _blocks(message: Mapping[str, Any], kind: str, key: str) -> list[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [str(block.get(key)) for block in content if block.get("type") == kind]


def _validate_tool_pairs(messages: Sequence[Mapping[str, Any]]) -> None:
    """Every ``tool_use`` answered by a ``tool_result`` in the next message, and every ``tool_result`` answering
    a ``tool_use`` of the message before, as the API checks them (with its wording). Consecutive messages of
    one role count as one turn, as the API merges them; ``system`` messages are not turns."""
    turns: list[tuple[str, list[int]]] = []
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "system":
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].append(index)
        else:
            turns.append((role, [index]))
    for position, (role, indices) in enumerate(turns):
        following = turns[position + 1][1] if position + 1 < len(turns) else []
        if role == "assistant":
            uses = [tool_id for i in indices for tool_id in _blocks(messages[i], "tool_use", "id")]
            answered = {tool_id for i in following for tool_id in _blocks(messages[i], "tool_result", "tool_use_id")}
            missing = [tool_id for tool_id in uses if tool_id not in answered]
            if missing and following:
                where = max(i for i in indices if _blocks(messages[i], "tool_use", "id"))
                raise _fail(
                    f"messages.{where}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in "
                    "the next message."
                )
            continue
        before = turns[position - 1][1] if position > 0 else []
        used = {tool_id for i in before for tool_id in _blocks(messages[i], "tool_use", "id")}
        for i in indices:
            content = messages[i].get("content")
            for block_index, block in enumerate(content if isinstance(content, list) else []):
                if block.get("type") == "tool_result" and str(block.get("tool_use_id")) not in used:
                    raise _fail(
                        f"messages.{i}.content.{block_index}: unexpected `tool_use_id` found in `tool_result` "
                        f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                        "`tool_use` block in the previous message."
                    )


def _validate_thinking(thinking: object, max_tokens: int) -> None:
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in _THINKING_TYPES:
        raise _fail(f"thinking.type: Input should be one of {', '.join(repr(t) for t in _THINKING_TYPES)}")
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int):
            raise _fail("thinking.enabled.budget_tokens: Field required")
        if budget < 1024:
            raise _fail("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if budget >= max_tokens:
            raise _fail("max_tokens must be greater than thinking.budget_tokens")


_THINKING_TYPES: Final = ("enabled", "adaptive", "disabled")


def thinking_requested(body: Mapping[str, Any]) -> bool:
    """Whether a validated request asks the model to think before it answers."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


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
        (HEADER_THINKING_MS, "thinking_ms"),
    ):
        value = _header_number(headers, header)
        if value is not None:
            changes[field_name] = value
    for header, field_name in (
        (HEADER_TOKENS, "output_tokens"),
        (HEADER_STATUS, "status"),
        (HEADER_CUT_AFTER, "cut_after_events"),
        (HEADER_STALL_AFTER, "stall_after_events"),
        (HEADER_THINKING_TOKENS, "thinking_tokens"),
        (HEADER_REDACTED_THINKING, "redacted_thinking"),
    ):
        value = _header_number(headers, header)
        if value is not None:
            changes[field_name] = int(value)
    if "status" in changes and changes["status"] not in ERROR_TYPES:
        raise _fail(f"header {HEADER_STATUS}: {changes['status']} is not one of {sorted(ERROR_TYPES)}")
    if "ttft_ms" in changes:
        changes["ttft_exact"] = True
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
    """One content block of the answer: text or thinking split into token-sized pieces, or a tool call.

    A ``thinking`` block carries its ``signature``; a ``redacted_thinking`` block only its opaque ``data``.
    """

    type: str
    pieces: tuple[str, ...]
    """Text deltas of a text or thinking block, or the partial JSON chunks of a tool call's input."""
    tool_id: str | None = None
    tool_name: str | None = None
    tool_input: Mapping[str, Any] | None = None
    signature: str = ""
    data: str = ""

    @property
    def thinks(self) -> bool:
        """Whether this block is the model's reasoning rather than its visible answer."""
        return self.type in ("thinking", "redacted_thinking")

    def full(self) -> dict[str, Any]:
        if self.type == "text":
            return {"type": "text", "text": "".join(self.pieces)}
        if self.type == "thinking":
            return {"type": "thinking", "thinking": "".join(self.pieces), "signature": self.signature}
        if self.type == "redacted_thinking":
            return {"type": "redacted_thinking", "data": self.data}
        return {"type": "tool_use", "id": self.tool_id, "name": self.tool_name, "input": dict(self.tool_input or {})}

    def deltas(self) -> Iterator[tuple[dict[str, Any], bool]]:
        """The block's delta payloads, each with whether it carries an output token (and so is paced)."""
        if self.type == "redacted_thinking":
            return
        for piece in self.pieces:
            if self.type == "text":
                yield {"type": "text_delta", "text": piece}, True
            elif self.type == "thinking":
                yield {"type": "thinking_delta", "thinking": piece}, True
            else:
                yield {"type": "input_json_delta", "partial_json": piece}, True
        if self.type == "thinking":
            yield {"type": "signature_delta", "signature": self.signature}, False


def message_body(
    *,
    message_id: str,
    model: str,
    blocks: Sequence[Block],
    stop_reason: str,
    usage: Mapping[str, Any],
    stop_sequence: str | None = None,
    diagnostics: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block.full() for block in blocks],
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": dict(usage),
    }
    if diagnostics is not None:  # only a request that asked for a diagnosis, and missed, has one
        body["diagnostics"] = dict(diagnostics)
    return body


def sse(event: Mapping[str, Any]) -> bytes:
    """One server-sent event, named after its ``type`` as the real API does."""
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def stream_events(
    *,
    message_id: str,
    model: str,
    blocks: Sequence[Block],
    stop_reason: str,
    usage: Mapping[str, Any],
    stop_sequence: str | None = None,
    diagnostics: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Pace]], list[dict[str, Any]]]:
    """The event sequence of a streamed message, in three parts.

    The head (message_start, the first content_block_start, ping) goes out as soon as headers do; each
    body event is paired with the pace it takes an output token's slot on (``thinking`` or ``answer``;
    None for an event that carries no token and goes out at once); the tail
    (message_delta with usage and stop_reason, message_stop) closes the stream.
    """
    start_usage = {key: value for key, value in usage.items() if key != "output_tokens_details"} | {"output_tokens": 1}
    head: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                **message_body(
                    message_id=message_id,
                    model=model,
                    blocks=[],
                    stop_reason="",
                    usage=start_usage,
                    diagnostics=diagnostics,
                ),
                "stop_reason": None,
            },
        },
    ]
    body: list[tuple[dict[str, Any], Pace]] = []
    for index, block in enumerate(blocks):
        start = _block_start(index, block)
        if index == 0:
            head.append(start)
            head.append({"type": "ping"})
        else:
            body.append((start, None))
        pace: Pace = "thinking" if block.thinks else "answer"
        for delta, paced in block.deltas():
            body.append(({"type": "content_block_delta", "index": index, "delta": delta}, pace if paced else None))
        body.append(({"type": "content_block_stop", "index": index}, None))
    delta_usage: dict[str, Any] = {"output_tokens": usage["output_tokens"]}
    if "output_tokens_details" in usage:
        delta_usage["output_tokens_details"] = usage["output_tokens_details"]
    tail: list[dict[str, Any]] = [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": delta_usage,
        },
        {"type": "message_stop"},
    ]
    return head, body, tail


def _block_start(index: int, block: Block) -> dict[str, Any]:
    if block.type == "text":
        return {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
    if block.type == "thinking":
        content_block = {"type": "thinking", "thinking": "", "signature": ""}
        return {"type": "content_block_start", "index": index, "content_block": content_block}
    if block.type == "redacted_thinking":
        return {"type": "content_block_start", "index": index, "content_block": block.full()}
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
