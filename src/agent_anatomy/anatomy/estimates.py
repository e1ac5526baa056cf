"""When the first token of a call that was not streamed came, estimated: its duration less the time its output
tokens took at its model's speed (``speeds``). The phases of such calls are split by it and the "stream the
answer" what-if rests on it; the trace's notes say which calls were estimated, at what speed and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

from .calls import LLMCall
from .speeds import ModelSpeed, SpeedBook

__all__ = ["ESTIMATE_NOTE", "estimate_note", "estimated_calls", "estimated_ttft_ns", "with_estimates"]

ESTIMATE_NOTE: Final = "not streamed, so when the first token came is estimated from the output tokens: "
"""How the trace's note on its estimated calls begins."""


def estimated_ttft_ns(call: LLMCall, speed: ModelSpeed) -> int:
    """When an unstreamed call's first token came: its duration less its output tokens' generation at
    ``speed``; when that leaves too little (the model ran faster than ``speed``), the share of the time
    ``speed`` spends before the first token."""
    tokens = call.output_tokens or 0
    generation = speed.generation_ns(tokens)
    if generation <= call.duration_ns * _MOST_GENERATION:
        return call.duration_ns - generation
    return int(call.duration_ns * speed.ttft_ns / max(speed.estimate_ns(tokens), 1))


_MOST_GENERATION: Final = 0.95
"""An estimate that leaves the first token less than 5 % of the call is not believed as it stands."""


def estimated_calls(calls: Sequence[LLMCall], book: SpeedBook) -> list[LLMCall]:
    """The calls, each unstreamed one with output tokens and a known model speed given its estimated first
    token (``LLMCall.estimated_ttft_ns``)."""
    result = []
    for call in calls:
        speed = book.speed_of(call.model)
        if (
            call.streamed is False
            and call.ttft_ns is None
            and call.output_tokens
            and call.duration_ns > 0
            and speed is not None
        ):
            call = dataclasses.replace(call, estimated_ttft_ns=estimated_ttft_ns(call, speed))
        result.append(call)
    return result


def estimate_note(calls: Sequence[LLMCall], book: SpeedBook) -> str | None:
    """The trace's note on its estimated calls: which, at what speed, known how; None with none."""
    estimated = [c for c in calls if c.estimated_ttft_ns is not None]
    if not estimated:
        return None
    by_speed: dict[str, list[int]] = {}
    for call in estimated:
        speed = book.speed_of(call.model)
        assert speed is not None, "only calls of a known speed are estimated"
        by_speed.setdefault(f"{speed.tokens_per_second:,.0f} tokens/s ({speed.model}, {speed.basis})", []).append(
            call.index
        )
    which = "; ".join(
        f"LLM call{'s' if len(i) > 1 else ''} {', '.join(map(str, i))} at {s}" for s, i in by_speed.items()
    )
    return ESTIMATE_NOTE + which + "; their waiting and generating times are estimates"


def with_estimates(
    calls: Sequence[LLMCall], notes: Sequence[str], book: SpeedBook
) -> tuple[list[LLMCall], list[str]] | None:
    """The calls estimated by ``book``, and the notes with the estimate's note made anew; None when ``book``
    estimates every call as it already was."""
    estimated = estimated_calls(calls, book)
    if estimated == list(calls):
        return None
    note = estimate_note(estimated, book)
    kept = [n for n in notes if not n.startswith(ESTIMATE_NOTE)]
    return estimated, kept + ([note] if note else [])
