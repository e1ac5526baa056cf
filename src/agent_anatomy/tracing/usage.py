"""Token usage as the Messages API reports it, and the totals the GenAI conventions count from it.

The API reports uncached input, cache reads and cache writes apart; the conventions' input tokens are all
three together. ``Usage`` reads the API's counts (from an SDK model or decoded JSON, as often as a stream
reports them) and is the one place that total is computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from opentelemetry.util.types import AttributeValue

from .. import semconv
from ._genai_content import field

__all__ = ["USAGE_FIELDS", "Usage", "input_total"]

USAGE_FIELDS: Final = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
"""The API's usage counts, by the names it gives them."""
_INPUT_FIELDS: Final = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_SERVED_FIELDS: Final = (("speed", semconv.ANATOMY_LLM_SPEED), ("service_tier", semconv.ANATOMY_LLM_SERVICE_TIER))
"""How the call was served, as usage reports it: (field, attribute)."""


def input_total(counts: Mapping[str, int]) -> int:
    """Input tokens as the conventions count them: uncached, read from the cache and written to it."""
    uncached = counts.get("input_tokens", 0)
    return uncached + counts.get("cache_read_input_tokens", 0) + counts.get("cache_creation_input_tokens", 0)


class Usage:
    """The counts one call reported so far (``counts``, by ``USAGE_FIELDS`` and ``thinking_tokens``), and how it
    was served (``served``: ``speed``, ``service_tier``)."""

    __slots__ = ("counts", "served")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.served: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self.counts)

    def take(self, usage: object) -> None:
        """The counts of an SDK ``Usage`` (or its JSON); later reports replace earlier ones field by field."""
        if usage is None:
            return
        # An SDK model keeps its fields in its __dict__: read there, as from decoded JSON (runs twice a stream).
        fields = usage if isinstance(usage, dict) else getattr(usage, "__dict__", None)
        if not isinstance(fields, dict):
            names = (*USAGE_FIELDS, "output_tokens_details", *(name for name, _ in _SERVED_FIELDS))
            fields = {name: getattr(usage, name, None) for name in names}
        counts = self.counts
        for name in USAGE_FIELDS:
            value = fields.get(name)
            if isinstance(value, int):
                counts[name] = value
        details = fields.get("output_tokens_details")
        thinking = field(details, "thinking_tokens") if details is not None else None
        if isinstance(thinking, int):
            counts["thinking_tokens"] = thinking
        for name, _ in _SERVED_FIELDS:
            value = fields.get(name)
            if isinstance(value, str):
                self.served[name] = value

    @property
    def input_total(self) -> int:
        return input_total(self.counts)

    @property
    def output(self) -> int | None:
        return self.counts.get("output_tokens")

    def attributes(self) -> dict[str, AttributeValue]:
        """The span's usage attributes: only what the response reported (a cache count it left out, or sent as
        null, is no attribute rather than a measured 0)."""
        counts = self.counts
        attributes: dict[str, AttributeValue] = {}
        if any(name in counts for name in _INPUT_FIELDS):
            attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = self.input_total
        if "cache_read_input_tokens" in counts:
            attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = counts["cache_read_input_tokens"]
        if "cache_creation_input_tokens" in counts:
            attributes[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = counts["cache_creation_input_tokens"]
        if "output_tokens" in counts:
            attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = counts["output_tokens"]
        if "thinking_tokens" in counts:
            attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = counts["thinking_tokens"]
        for name, key in _SERVED_FIELDS:
            if name in self.served:
                attributes[key] = self.served[name]
        return attributes

    def by_kind(self) -> dict[str, int]:
        """Per token kind of the newest conventions' counters: input (all of it), output, cache read and write,
        reasoning; 0 where nothing was reported."""
        counts = self.counts
        return {
            "input": self.input_total,
            "output": counts.get("output_tokens", 0),
            "cache_read": counts.get("cache_read_input_tokens", 0),
            "cache_write": counts.get("cache_creation_input_tokens", 0),
            "reasoning": counts.get("thinking_tokens", 0),
        }
