"""What the prompt cache did for each LLM call: tokens read and written, the first-token time a read saved
against the same prefix read uncached, and why a cache missed when the response said.

A read's saving is its tokens at the rate the model's first token grows with its prompt (the trace's own calls,
then the input's or a speeds file's, else the reference table's), less what a cache read itself costs
(``CACHE_READ_SHARE`` of an uncached token).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..catalogue import CACHE_READ_SHARE, CATALOGUE_DATE, LINES, line_of
from .calls import LLMCall
from .speeds import REFERENCE, SpeedBook

__all__ = ["PromptCacheUse", "prompt_cache_uses"]


@dataclass(frozen=True, slots=True)
class PromptCacheUse:
    """One call's prompt cache: what it read and wrote, what the read saved, why it missed."""

    span_id: str
    read_tokens: int | None
    written_tokens: int | None
    saved_ns: int | None
    """First-token time the read saved against reading the same tokens uncached; None: no read, or no rate."""
    evidence: str | None
    basis: str | None
    miss_reason: str | None
    missed_tokens: int | None


def _rate(book: SpeedBook, model: str | None) -> tuple[float, str, str] | None:
    """Nanoseconds one token read from the cache saves, with the evidence and basis of that rate."""
    measured = book.prefill_of(model)
    if measured is not None and measured.prefill_ns_per_token:
        return measured.prefill_ns_per_token * (1 - CACHE_READ_SHARE), measured.evidence, measured.basis
    line = line_of(model)
    if line is None or not LINES[line].prefill_ms_per_1k:
        return None
    return LINES[line].prefill_ms_per_1k * 1e3 * (1 - CACHE_READ_SHARE), REFERENCE, f"reference table, {CATALOGUE_DATE}"


def prompt_cache_uses(calls: Iterable[LLMCall], book: SpeedBook) -> dict[str, PromptCacheUse]:
    """The calls that used the prompt cache (read, wrote, or were told why it missed), by span id, in order."""
    uses: dict[str, PromptCacheUse] = {}
    for call in calls:
        read, written = call.cache_read_tokens, call.cache_write_tokens
        if not read and not written and call.cache_miss is None:
            continue
        rate = _rate(book, call.model) if read else None
        uses[call.span_id] = PromptCacheUse(
            span_id=call.span_id,
            read_tokens=read,
            written_tokens=written,
            saved_ns=int(read * rate[0]) if read and rate else None,
            evidence=rate[1] if rate else None,
            basis=rate[2] if rate else None,
            miss_reason=call.cache_miss,
            missed_tokens=call.cache_missed_tokens,
        )
    return uses
