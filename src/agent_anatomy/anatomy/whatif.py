"""What would make a trace faster, each estimate computed from the spans themselves.

Four kinds of suggestion: parallelise a batch of tools that ran one after another (saving: the
batch's wall time beyond its slowest tool), route an LLM call to a model seen answering faster (its
observed first-token time and throughput), cache a tool called again with the same input (the repeat's
time), and stream a final answer that was not streamed (the user waits for the first token, not the
whole answer). A suggestion claims the parts of the critical path it would remove; suggestions are
ranked by saving, and a later one is charged only for time no earlier one claimed, so savings never
count the same milliseconds twice, are never negative, and never add up to more than the trace.
"""

from __future__ import annotations

import bisect
import dataclasses
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from .analysis import TraceAnalysis
from .batches import Batch, ToolCall
from .calls import LLMCall

__all__ = [
    "ModelSpeed",
    "SpeedSample",
    "Suggestion",
    "judged",
    "model_speeds",
    "speed_samples",
    "speeds_from_samples",
    "suggest",
]

_MIN_SAVING_NS = 1_000_000
_ROUTE_MARGIN = 0.9
"""A faster model must be estimated at under 90 % of the call's time to be worth suggesting."""


@dataclass(frozen=True)
class Suggestion:
    kind: str
    """``parallelise``, ``route``, ``cache`` or ``stream``."""
    title: str
    explanation: str
    saving_ns: int
    target: tuple[str, ...]
    """Span ids the suggestion is about."""
    claimed: tuple[tuple[int, int], ...] = field(default=(), repr=False)
    perceived: bool = False
    """True when the saving is in when the user sees the answer start, not in total time (streaming)."""
    assumes: str = ""
    """What the estimate takes for granted that the trace cannot show."""


@dataclass(frozen=True)
class ModelSpeed:
    """A model's observed median first-token time and throughput, over a set of traces."""

    model: str
    ttft_ns: int
    tokens_per_second: float
    calls: int

    def estimate_ns(self, output_tokens: int) -> int:
        return self.ttft_ns + int(output_tokens / self.tokens_per_second * 1e9)


SpeedSample = tuple[str, int, float]
"""One streamed call's (model, time to first token in ns, output tokens per second)."""


def speed_samples(calls: Iterable[LLMCall]) -> list[SpeedSample]:
    """What the models' speeds are learnt from: the calls that recorded a first token and a throughput."""
    return [
        (call.model, call.ttft_ns, call.tokens_per_second)
        for call in calls
        if call.model and call.ttft_ns is not None and call.tokens_per_second
    ]


def speeds_from_samples(samples: Iterable[SpeedSample]) -> dict[str, ModelSpeed]:
    """Per model: median time to first token and median tokens per second."""
    by_model: dict[str, list[SpeedSample]] = {}
    for sample in samples:
        by_model.setdefault(sample[0], []).append(sample)
    return {
        model: ModelSpeed(
            model,
            int(statistics.median(s[1] for s in found)),
            statistics.median(s[2] for s in found),
            len(found),
        )
        for model, found in by_model.items()
    }


def model_speeds(analyses: Iterable[TraceAnalysis]) -> dict[str, ModelSpeed]:
    """Per model, from its streamed calls over ``analyses``: median time to first token and tokens per second."""
    return speeds_from_samples(s for analysis in analyses for s in speed_samples(analysis.llm_calls))


def _length(pieces: Iterable[tuple[int, int]]) -> int:
    return sum(end - start for start, end in pieces)


def _union(pieces: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The same time as disjoint intervals in order (a span nested in another claims its time once)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(pieces):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.0f} ms"


class _CriticalPath:
    """A trace's critical path indexed by span, to find the path time of given spans quickly."""

    def __init__(self, analysis: TraceAnalysis) -> None:
        self.analysis = analysis
        self._by_span: dict[str, list[tuple[int, int]]] = {}
        for segment in analysis.critical_path:
            self._by_span.setdefault(segment.span_id, []).append((segment.start_ns, segment.end_ns))

    def time_of(self, span_ids: Sequence[str], low: int, high: int) -> tuple[tuple[int, int], ...]:
        """The critical-path time of these spans (or their descendants) inside [low, high]."""
        tree = self.analysis.tree
        wanted = set(span_ids)
        for span_id in span_ids:
            span = tree.spans.get(span_id)
            if span is not None:
                wanted.update(d.span_id for d in tree.descendants(span))
        pieces = []
        for span_id in wanted:
            for start, end in self._by_span.get(span_id, ()):
                start, end = max(start, low), min(end, high)
                if end > start:
                    pieces.append((start, end))
        return _union(pieces)


_GAP_NAMED_NS: Final = 10_000_000
"""Time between sequential tools that a parallelise what-if names (the caller's work between them, saved too)."""


def _parallelise(path: _CriticalPath, batch: Batch) -> Suggestion | None:
    if batch.mode not in ("sequential", "mixed") or batch.parallel_saving_ns < _MIN_SAVING_NS:
        return None
    names = ", ".join(t.name for t in batch.tools)
    durations = [_ms(t.duration_ns) for t in batch.tools]
    claimed = path.time_of([t.span_id for t in batch.tools], batch.start_ns + batch.max_ns, batch.end_ns)
    how = " + ".join(durations) if batch.mode == "sequential" else f"{_ms(batch.wall_ns)} in all"
    between = batch.wall_ns - batch.sum_ns
    if batch.mode == "sequential" and between >= _GAP_NAMED_NS:  # saved too: say so, or the sum looks wrong
        how += f", {_ms(between)} between them"
    return Suggestion(
        "parallelise",
        f"Parallelise tool batch {batch.index} ({names})",
        f"They ran one after another ({how}); run together they take as long as the slowest: "
        f"max({', '.join(durations)}) = {_ms(batch.max_ns)}.",
        _length(claimed),
        tuple(t.span_id for t in batch.tools),
        claimed,
        assumes="the tools are independent (they answer one model turn) and none writes what another reads",
    )


def _route(path: _CriticalPath, call: LLMCall, speeds: dict[str, ModelSpeed]) -> Suggestion | None:
    if not call.output_tokens or call.route_outcome == "lost":
        return None
    best = min(
        (speed for model, speed in speeds.items() if model != call.model),
        key=lambda speed: speed.estimate_ns(call.output_tokens or 0),
        default=None,
    )
    if best is None:
        return None
    estimate = best.estimate_ns(call.output_tokens)
    if estimate >= call.duration_ns * _ROUTE_MARGIN:
        return None
    claimed = path.time_of([call.span_id], call.start_ns + estimate, call.end_ns)
    where = f"step '{call.step}'" if call.step else f"LLM call {call.index}"
    return Suggestion(
        "route",
        f"Route {where} to {best.model}",
        f"It took {_ms(call.duration_ns)} on {call.model}; {best.model} was seen answering with a first token "
        f"in {_ms(best.ttft_ns)} at {best.tokens_per_second:,.0f} tokens/s, so {call.output_tokens} tokens would "
        f"take about {_ms(estimate)} ({best.calls} calls observed).",
        _length(claimed),
        (call.span_id,),
        claimed,
        assumes=f"{best.model} answers this step as well, at the speed seen in the calls observed",
    )


def _cache(path: _CriticalPath) -> list[Suggestion]:
    seen: dict[tuple[str, str], list[ToolCall]] = {}
    for batch in path.analysis.batches:
        for tool in batch.tools:
            if tool.input_hash and not tool.error:
                seen.setdefault((tool.name, tool.input_hash), []).append(tool)
    suggestions = []
    for (name, _), calls in seen.items():
        if len(calls) < 2:
            continue
        repeats = sorted(calls, key=lambda t: t.start_ns)[1:]
        claimed = _union(p for t in repeats for p in path.time_of([t.span_id], t.start_ns, t.end_ns))
        suggestions.append(
            Suggestion(
                "cache",
                f"Cache {name}",
                f"It ran {len(calls)} times with the same input; from the second call on, a cache would answer "
                f"in microseconds (these repeats took {', '.join(_ms(t.duration_ns) for t in repeats)}).",
                _length(claimed),
                tuple(t.span_id for t in repeats),
                claimed,
                assumes="the result for one input does not change between the calls (a deterministic lookup)",
            )
        )
    return suggestions


def _stream(path: _CriticalPath, speeds: dict[str, ModelSpeed]) -> Suggestion | None:
    finals = [c for c in path.analysis.llm_calls if c.route_outcome != "lost"]
    if not finals:
        return None
    final = finals[-1]
    # Only a call known not to have streamed: a trace that does not say claims nothing here.
    if final.streamed is not False or final.ttft_ns is not None or not final.model or final.model not in speeds:
        return None
    ttft = speeds[final.model].ttft_ns
    if final.duration_ns - ttft < _MIN_SAVING_NS:
        return None
    claimed = path.time_of([final.span_id], final.start_ns + ttft, final.end_ns)
    return Suggestion(
        "stream",
        f"Stream the final answer (LLM call {final.index})",
        f"The user waits {_ms(final.duration_ns)} for the whole answer; streamed, text would start after about "
        f"{_ms(ttft)}, the first-token time seen for {final.model} (perceived latency, not total time).",
        _length(claimed),
        (final.span_id,),
        claimed,
        perceived=True,
        assumes="the answer can be shown to the user as it is generated",
    )


def _subtract(pieces: Sequence[tuple[int, int]], taken: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``pieces`` less the time in ``taken`` (disjoint intervals, sorted by start)."""
    remaining = []
    for start, end in pieces:
        index = max(bisect.bisect_right(taken, (start, start)) - 1, 0)
        while start < end and index < len(taken) and taken[index][0] < end:
            low, high = taken[index]
            if high > start:
                if low > start:
                    remaining.append((start, low))
                start = max(start, high)
            index += 1
        if start < end:
            remaining.append((start, end))
    return remaining


def suggest(analysis: TraceAnalysis, speeds: dict[str, ModelSpeed]) -> list[Suggestion]:
    """The trace's suggestions, largest saving first, each charged only for time not already claimed."""
    path = _CriticalPath(analysis)
    candidates: list[Suggestion] = []
    for batch in analysis.batches:
        if (found := _parallelise(path, batch)) is not None:
            candidates.append(found)
    for call in analysis.llm_calls:
        if (found := _route(path, call, speeds)) is not None:
            candidates.append(found)
    candidates.extend(_cache(path))
    if (found := _stream(path, speeds)) is not None:
        candidates.append(found)
    candidates.sort(key=lambda s: s.saving_ns, reverse=True)
    taken: list[tuple[int, int]] = []
    ranked = []
    for candidate in candidates:
        pieces = _subtract(_union(candidate.claimed), taken)
        saving = _length(pieces)
        if saving < _MIN_SAVING_NS:
            continue
        for piece in pieces:
            bisect.insort(taken, piece)
        ranked.append(dataclasses.replace(candidate, saving_ns=saving, claimed=tuple(pieces)))
    ranked.sort(key=lambda s: s.saving_ns, reverse=True)
    return ranked


def judged(analysis: TraceAnalysis, speeds: dict[str, ModelSpeed]) -> TraceAnalysis:
    """The analysis with its suggestions, judged by ``speeds`` (a copy: an analysis is never changed)."""
    return dataclasses.replace(analysis, suggestions=suggest(analysis, speeds))
