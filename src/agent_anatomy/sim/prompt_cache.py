"""The simulated prompt cache: what a request reads and writes, and why it missed the one before it.

As the API does: a prefix of at least the model's minimum (``catalogue.prompt_cache_minimum``) is written at each
``cache_control`` breakpoint (or at the last block, for a
request's top-level ``cache_control``) and kept five minutes; a later request reads the longest prefix written
before, seen from one of its breakpoints up to ``LOOKBACK_BLOCKS`` blocks back. A request that names the one
before it (``diagnostics.previous_message_id``) is told why it could not reuse that one's prefix, with the
reasons, in the order, of the API's ``cache_miss_reason`` types.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..catalogue import prompt_cache_minimum
from .protocol import estimate_tokens

__all__ = ["CACHE_TTL_S", "LOOKBACK_BLOCKS", "CacheUse", "PromptCache"]

CACHE_TTL_S: Final = 300.0
"""How long a written prefix stays readable (the API's default, five minutes)."""
LOOKBACK_BLOCKS: Final = 20
"""How far before a breakpoint the API looks for a prefix written before."""
_KEPT: Final = 1000
"""Prefixes and request fingerprints kept, oldest dropped first."""


@dataclass(frozen=True)
class CacheUse:
    """One request's input tokens, split as the API reports them, and its diagnosis when it asked for one."""

    uncached: int
    written: int
    read: int
    diagnostics: dict[str, Any] | None = None
    """The response's ``diagnostics`` object; None when the request did not ask, or nothing was missed."""

    def usage(self) -> dict[str, int]:
        return {
            "input_tokens": self.uncached,
            "cache_creation_input_tokens": self.written,
            "cache_read_input_tokens": self.read,
        }


@dataclass(frozen=True)
class _Fingerprint:
    """What a request's prompt was, part by part, to tell a later request where it diverged."""

    model: tuple[str, str]
    system: str
    tools: str
    messages: tuple[str, ...]
    other: str
    """Other parameters that change the prompt (thinking, tool choice): a change there has no named reason."""
    cached_tokens: int
    """The tokens up to its last breakpoint: what a request that matched it could have read."""


class PromptCache:
    """The prefixes written and the fingerprints of recent requests; one per simulator."""

    def __init__(self) -> None:
        self._written: OrderedDict[str, float] = OrderedDict()
        self._requests: OrderedDict[str, _Fingerprint] = OrderedDict()

    def use(self, body: Mapping[str, Any], input_tokens: int, message_id: str) -> CacheUse:
        """Read and write the request's prefixes; remember it as ``message_id`` for a later diagnosis."""
        minimum = prompt_cache_minimum(str(body.get("model")))
        prefixes = [prefix for prefix in _prefixes(body) if prefix[1] >= minimum]
        now = time.monotonic()
        read = 0
        for _, tokens, key, _ in prefixes:
            seen = self._written.get(key)
            if seen is not None and now - seen < CACHE_TTL_S and tokens > read:
                read = tokens
        closed = max((tokens for _, tokens, _, at_breakpoint in prefixes if at_breakpoint), default=0)
        for _, _, key, at_breakpoint in prefixes:
            if at_breakpoint:
                self._written[key] = now
                self._written.move_to_end(key)
        _trim(self._written)
        read = min(read, input_tokens)
        written = min(max(closed - read, 0), input_tokens - read)
        fingerprint = _fingerprint(body, closed)
        diagnostics = self._diagnose(body, fingerprint, read)
        self._requests[message_id] = fingerprint
        _trim(self._requests)
        return CacheUse(input_tokens - read - written, written, read, diagnostics)

    def _diagnose(self, body: Mapping[str, Any], now: _Fingerprint, read: int) -> dict[str, Any] | None:
        asked = body.get("diagnostics")
        if not isinstance(asked, Mapping) or not asked.get("previous_message_id"):
            return None
        before = self._requests.get(str(asked["previous_message_id"]))
        if before is None:
            return {"cache_miss_reason": {"type": "previous_message_not_found"}}
        missed = max(before.cached_tokens - read, 0)
        for kind, changed in (
            ("model_changed", before.model != now.model),
            ("system_changed", before.system != now.system),
            ("tools_changed", before.tools != now.tools),
            ("messages_changed", before.messages != now.messages[: len(before.messages)]),
        ):
            if changed:
                return {"cache_miss_reason": {"type": kind, "cache_missed_input_tokens": missed}}
        if before.other != now.other:
            return {"cache_miss_reason": {"type": "unavailable"}}
        return None


def _trim(kept: OrderedDict[str, Any]) -> None:
    while len(kept) > _KEPT:
        kept.popitem(last=False)


def _digest(value: Any) -> str:
    text = json.dumps(_unmarked(value), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _fingerprint(body: Mapping[str, Any], cached_tokens: int) -> _Fingerprint:
    messages = body.get("messages")
    return _Fingerprint(
        model=(str(body.get("model")), str(body.get("speed") or "standard")),
        system=_digest(body.get("system")),
        tools=_digest(body.get("tools")),
        messages=tuple(_digest(m) for m in messages) if isinstance(messages, Sequence) else (),
        other=_digest({k: body.get(k) for k in ("thinking", "tool_choice")}),
        cached_tokens=cached_tokens,
    )


def _prefixes(body: Mapping[str, Any]) -> list[tuple[int, int, str, bool]]:
    """The request's prefixes the prompt cache may hold, as (blocks, tokens, key, at a breakpoint): each
    breakpoint's, and those up to ``LOOKBACK_BLOCKS`` blocks before it. Blocks run tools, system, then each
    message's content; a key is the prefix's hash without its ``cache_control`` markers, which change no
    token, and the model's (each model has its own cache). Empty without a breakpoint."""
    blocks: list[Any] = []
    marked: list[int] = []
    for section in ("tools", "system", "messages"):
        value = body.get(section)
        items = value if isinstance(value, list) else ([value] if value else [])
        for item in items:
            if section == "messages" and isinstance(item, Mapping):
                content = item.get("content")
                parts = content if isinstance(content, list) else [content]
                for part in parts:
                    blocks.append({"role": item.get("role"), "block": part})
                    if isinstance(part, Mapping) and "cache_control" in part:
                        marked.append(len(blocks))
                continue
            blocks.append(item)
            if isinstance(item, Mapping) and "cache_control" in item:
                marked.append(len(blocks))
    if body.get("cache_control") and blocks:  # the top-level marker: the last cacheable block
        marked.append(len(blocks))
    if not marked:
        return []
    wanted = {n for end in marked for n in range(max(end - LOOKBACK_BLOCKS, 0) + 1, end + 1)}
    digest = hashlib.sha256(f"{body.get('model')}:{body.get('speed') or 'standard'}".encode())
    prefixes = []
    tokens = 0
    for n, block in enumerate(blocks[: max(marked)], start=1):
        plain = _unmarked(block)
        text = json.dumps(plain, sort_keys=True, separators=(",", ":"), default=str)  # once: its key and its size
        digest.update(text.encode())
        tokens += estimate_tokens(plain if isinstance(plain, str) else text)
        if n in wanted:
            prefixes.append((n, tokens, digest.copy().hexdigest(), n in marked))
    return prefixes


def _unmarked(value: Any) -> Any:
    """``value`` without its ``cache_control`` markers."""
    if isinstance(value, Mapping):
        return {k: _unmarked(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    return value
