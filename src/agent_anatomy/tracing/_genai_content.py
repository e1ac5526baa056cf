"""Anthropic messages in the GenAI conventions' message shape, for opt-in content capture.

``[{"role": ..., "parts": [{"type": "text", "content": ...}, {"type": "tool_call", ...}]}]``, built
from request dicts, SDK models or decoded JSON alike. Used only when content capture is on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ._content import value_json

__all__ = [
    "StreamedContent",
    "field",
    "input_messages_json",
    "output_messages_json",
    "system_json",
    "tool_definitions_json",
]


def field(obj: object, name: str) -> Any:
    """``obj[name]`` for decoded JSON, ``obj.name`` for an SDK model; None when absent."""
    if isinstance(obj, dict):  # a dict check, not the much slower Mapping ABC: this runs per stream event
        return obj.get(name)
    return getattr(obj, name, None)


def _part(block: object) -> dict[str, Any]:
    kind = field(block, "type")
    if kind == "text":
        return {"type": "text", "content": field(block, "text")}
    if kind in ("tool_use", "server_tool_use"):
        return {
            "type": "tool_call" if kind == "tool_use" else "server_tool_call",
            "id": field(block, "id"),
            "name": field(block, "name"),
            "arguments": field(block, "input"),
        }
    if kind == "tool_result":
        return {"type": "tool_call_response", "id": field(block, "tool_use_id"), "response": field(block, "content")}
    if kind == "thinking":
        return {"type": "reasoning", "content": field(block, "thinking")}
    return _generic_part(block, kind)


def _generic_part(block: object, kind: object) -> dict[str, Any]:
    """Any other block (redacted thinking, a server tool's result, an image...) as the conventions' generic
    part: its type and its own fields."""
    fields = block if isinstance(block, dict) else _dump(block)
    return {**{k: v for k, v in fields.items() if v is not None}, "type": str(kind)}


def _dump(block: object) -> dict[str, Any]:
    dump = getattr(block, "model_dump", None)
    if callable(dump):
        try:
            value = dump(mode="json")
            return value if isinstance(value, dict) else {}
        except Exception:
            return {}
    return {}


def tool_definitions_json(tools: object) -> str | None:
    """The tools offered to the model as the conventions' definitions (type, name, description,
    parameters); None when there are none."""
    if not isinstance(tools, Iterable) or isinstance(tools, str | bytes):
        return None
    definitions = []
    for tool in tools:
        to_dict = getattr(tool, "to_dict", None)  # the SDK's tool helpers (beta_tool, MCP tools)
        spec = to_dict() if callable(to_dict) else tool
        name = field(spec, "name")
        if not name:
            continue
        definition = {"type": "function", "name": name}
        if field(spec, "description"):
            definition["description"] = field(spec, "description")
        if field(spec, "input_schema") is not None:
            definition["parameters"] = field(spec, "input_schema")
        definitions.append(definition)
    return value_json(definitions) if definitions else None


def _parts(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, Iterable):
        return [_part(block) for block in content]
    return []


def input_messages_json(messages: object) -> str:
    items = messages if isinstance(messages, Iterable) and not isinstance(messages, str | bytes) else []
    return value_json([{"role": field(m, "role"), "parts": _parts(field(m, "content"))} for m in items])


def system_json(system: object) -> str:
    return value_json(_parts(system))


def output_messages_json(content: object, finish_reason: object) -> str:
    return value_json([{"role": "assistant", "parts": _parts(content), "finish_reason": finish_reason}])


class StreamedContent:
    """Rebuilds content blocks from stream events (only when capture is on; the SDK keeps no snapshot
    for ``create(stream=True)``)."""

    __slots__ = ("blocks",)

    def __init__(self) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}

    def start(self, index: int, block: object) -> None:
        kind = field(block, "type")
        entry: dict[str, Any] = {"type": kind}
        if kind in ("tool_use", "server_tool_use"):
            entry.update(id=field(block, "id"), name=field(block, "name"), json="")
        elif kind == "thinking":
            entry["thinking"] = field(block, "thinking") or ""
        elif kind == "text":
            entry["text"] = field(block, "text") or ""
        else:  # a block that comes whole in its start event (redacted thinking, a server tool's result)
            entry = {**(block if isinstance(block, dict) else _dump(block)), "type": kind}
        self.blocks[index] = entry

    def delta(self, index: int, delta: object) -> None:
        entry = self.blocks.setdefault(index, {"type": "text", "text": ""})
        kind = field(delta, "type")
        if kind == "text_delta":
            entry["text"] = entry.get("text", "") + (field(delta, "text") or "")
        elif kind == "input_json_delta":
            entry["json"] = entry.get("json", "") + (field(delta, "partial_json") or "")
        elif kind == "thinking_delta":
            entry["thinking"] = entry.get("thinking", "") + (field(delta, "thinking") or "")

    def content(self) -> list[dict[str, Any]]:
        result = []
        for _, entry in sorted(self.blocks.items()):
            if "json" in entry:
                try:
                    arguments = json.loads(entry["json"]) if entry["json"] else {}
                except ValueError:
                    arguments = entry["json"]
                result.append(
                    {"type": entry["type"], "id": entry.get("id"), "name": entry.get("name"), "input": arguments}
                )
            else:
                result.append(entry)
        return result
