"""Prompt caching: ``cache_control`` breakpoints on the part of a request that stays the same from call to call.

An agent loop resends its tools, its system prompt and the conversation so far on every call. Marked with
``cache_control``, that prefix is read from the API's prompt cache on the next call instead of being read
again, which is most of a long prompt's wait for the first token. ``with_cache_breakpoints`` marks the last
tool, the last system block and the last block of the last message, within the API's limit of four
breakpoints a request (those the caller placed count), and returns a new request: the one given is left
as it was. A prefix shorter than the model's minimum (``catalogue.prompt_cache_minimum``: 512 tokens on Opus 5,
1,024 on most models, 4,096 on Haiku 4.5) is not cached, and the API says nothing of it: the call's usage then
shows no cache write.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MAX_BREAKPOINTS", "with_cache_breakpoints"]

MAX_BREAKPOINTS: Final = 4
"""The most ``cache_control`` breakpoints the Messages API takes in one request."""
EPHEMERAL: Final = {"type": "ephemeral"}
_PARTS: Final = ("messages", "system", "tools")
"""The parts of a request breakpoints go on."""
_UNMARKABLE: Final = frozenset({"thinking", "redacted_thinking"})
"""Blocks the API refuses a ``cache_control`` on."""


def _count(value: object) -> int:
    """How many ``cache_control`` breakpoints ``value`` (a request's part) already holds."""
    return json.dumps(value, default=str).count('"cache_control"')


def _mark_last(blocks: list[Any]) -> bool:
    """Mark the last block that may carry a breakpoint (a dict, not a thinking block, not empty text)."""
    for block in reversed(blocks):
        if not isinstance(block, dict) or block.get("type") in _UNMARKABLE:
            continue
        if block.get("type") == "text" and not block.get("text"):
            continue
        if "cache_control" not in block:
            block["cache_control"] = dict(EPHEMERAL)
        return True
    return False


def _as_blocks(content: object) -> object:
    """A message's or system prompt's text as one text block; blocks as they are."""
    return [{"type": "text", "text": content}] if isinstance(content, str) and content else content


def with_cache_breakpoints(request: Mapping[str, Any]) -> dict[str, Any]:
    """``request`` (the keyword arguments of ``messages.create``) with ``cache_control`` on its last tool, its
    last system block and the last block of its last message, as many as the limit of four leaves room for
    (the longest prefix first: the conversation, then the system prompt, then the tools)."""
    marked = dict(request)
    messages, system, tools = marked.get("messages"), marked.get("system"), marked.get("tools")
    # Each part read once for the breakpoints it holds; the rest (a top-level cache_control) together.
    held = {part: _count(marked.get(part)) for part in _PARTS}
    rest = _count({key: value for key, value in request.items() if key not in _PARTS})
    room = MAX_BREAKPOINTS - sum(held.values()) - rest
    if room > 0 and isinstance(messages, list) and messages and isinstance(messages[-1], Mapping):
        last = dict(messages[-1])
        content = copy.deepcopy(_as_blocks(last.get("content")))
        if isinstance(content, list) and _count(content) == 0 and _mark_last(content):
            last["content"] = content
            marked["messages"] = [*messages[:-1], last]
            room -= 1
    if room > 0 and system and held["system"] == 0:
        blocks = copy.deepcopy(_as_blocks(system))
        if isinstance(blocks, list) and _mark_last(blocks):
            marked["system"] = blocks
            room -= 1
    if room > 0 and isinstance(tools, list) and tools and held["tools"] == 0:
        marked["tools"] = [*tools[:-1], {**tools[-1], "cache_control": dict(EPHEMERAL)}]
    return marked
