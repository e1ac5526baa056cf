"""Reading one trace: where every instant went, the critical path, the LLM calls and the tool batches.

Phases attribute each instant of the trace to exactly one category, so they add up to its wall time:
the most specific activity running at that instant wins (an LLM call's first-token wait or generation,
then a tool, a cache lookup, routing, the agent's own code), and instants no span covers are gaps.
The critical path follows Jaeger's definition: from the root, the last-finishing child, then the child
that finished before that one started, and so on, with each span's own time in between.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .. import semconv
from .model import SpanRecord, TraceTree

__all__ = [
    "PHASES",
    "Batch",
    "LLMCall",
    "Segment",
    "ToolCall",
    "TraceAnalysis",
    "analyse_trace",
    "critical_path",
    "phases",
]

PHASE_TTFT: Final = "llm_time_to_first_token"
PHASE_GENERATION: Final = "llm_generation"
PHASE_TOOL: Final = "tool"
PHASE_CACHE: Final = "cache"
PHASE_ROUTING: Final = "routing"
PHASE_AGENT: Final = "agent"
PHASE_GAP: Final = "gap"
PHASES: Final = (PHASE_TTFT, PHASE_GENERATION, PHASE_TOOL, PHASE_CACHE, PHASE_ROUTING, PHASE_AGENT, PHASE_GAP)
"""In priority order: at an instant where several run, the first listed wins."""
_PRIORITY: Final = {phase: len(PHASES) - 1 - index for index, phase in enumerate(PHASES)}
_MAX_DEPTH: Final = 400


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of the critical path: part of one span's interval; ``own`` when no child covers it."""

    span_id: str
    name: str
    start_ns: int
    end_ns: int
    own: bool

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class LLMCall:
    span_id: str
    index: int
    model: str | None
    step: str | None
    start_ns: int
    end_ns: int
    ttft_ns: int | None
    """Time to first token; None for a call that was not streamed (or ended before a token)."""
    output_tokens: int | None
    streamed: bool
    route_role: str | None
    route_outcome: str | None

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def generation_ns(self) -> int | None:
        return None if self.ttft_ns is None else max(self.duration_ns - self.ttft_ns, 0)

    @property
    def tokens_per_second(self) -> float | None:
        generation = self.generation_ns
        if not self.output_tokens or not generation:
            return None
        return self.output_tokens / (generation / 1e9)


@dataclass(frozen=True, slots=True)
class ToolCall:
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    input_hash: str | None
    error: bool

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True)
class Batch:
    """The tool calls of one model turn: independent by construction."""

    index: int
    tools: tuple[ToolCall, ...]

    @property
    def start_ns(self) -> int:
        return min(t.start_ns for t in self.tools)

    @property
    def end_ns(self) -> int:
        return max(t.end_ns for t in self.tools)

    @property
    def wall_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def sum_ns(self) -> int:
        return sum(t.duration_ns for t in self.tools)

    @property
    def max_ns(self) -> int:
        return max(t.duration_ns for t in self.tools)

    @property
    def mode(self) -> str:
        """``single``; ``parallel`` when all started together; ``sequential`` when each started after the
        previous ended; otherwise ``mixed``."""
        if len(self.tools) == 1:
            return "single"
        starts = [t.start_ns for t in self.tools]
        if max(starts) - min(starts) <= max(2_000_000, self.max_ns // 20):
            return "parallel"
        ordered = sorted(self.tools, key=lambda t: t.start_ns)
        if all(a.end_ns <= b.start_ns for a, b in itertools.pairwise(ordered)):
            return "sequential"
        return "mixed"

    @property
    def parallel_saving_ns(self) -> int:
        """What running all of them at once would save: the batch's wall time beyond its slowest tool."""
        return max(self.wall_ns - self.max_ns, 0)


@dataclass
class TraceAnalysis:
    """Everything the anatomy knows of one trace."""

    trace_id: str
    tree: TraceTree
    start_ns: int
    end_ns: int
    phases: dict[str, int]
    critical_path: list[Segment]
    llm_calls: list[LLMCall]
    batches: list[Batch]
    cache_saved_ns: int = 0
    cache_hits: int = 0
    parallel_saved_ns: int = 0
    suggestions: list[Any] = field(default_factory=list)

    @property
    def wall_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def service(self) -> str | None:
        services = self.tree.services
        return services[0] if services else None


# --- phases ------------------------------------------------------------------------------------------


def _ns(seconds: object) -> int | None:
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
        return round(seconds * 1e9)
    return None


def _span_intervals(span: SpanRecord) -> Iterable[tuple[int, int, str]]:
    start, end = span.clipped_start, span.clipped_end
    if span.is_llm:
        ttft = _ns(span.attributes.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
        if ttft is None:  # not streamed: the caller waited the whole call for its first visible token
            yield start, end, PHASE_TTFT
        else:
            split = min(start + ttft, end)
            yield start, split, PHASE_TTFT
            yield split, end, PHASE_GENERATION
        return
    operation = span.operation
    if operation in (semconv.OPERATION_EXECUTE_TOOL, semconv.OPERATION_TOOL_BATCH):
        yield start, end, PHASE_TOOL
    elif operation == semconv.OPERATION_CACHE_LOOKUP:
        yield start, end, PHASE_CACHE
    elif operation == semconv.OPERATION_ROUTE:
        yield start, end, PHASE_ROUTING
    else:
        yield start, end, PHASE_AGENT


def phases(tree: TraceTree) -> dict[str, int]:
    """Nanoseconds per phase; they add up to the trace's wall time exactly."""
    totals = dict.fromkeys(PHASES, 0)
    trace_start, trace_end = tree.start_ns, tree.end_ns
    if trace_end <= trace_start:
        return totals
    events: list[tuple[int, int, int]] = []
    for span in tree.spans.values():
        for start, end, phase in _span_intervals(span):
            if end > start:
                events.append((start, 1, _PRIORITY[phase]))
                events.append((end, -1, _PRIORITY[phase]))
    events.sort()
    active = [0] * len(PHASES)
    by_priority = {priority: phase for phase, priority in _PRIORITY.items()}
    cursor = trace_start
    index = 0
    while index < len(events):
        time = events[index][0]
        if time > cursor:
            top = next((p for p in range(len(PHASES) - 1, 0, -1) if active[p]), 0)
            totals[by_priority[top]] += min(time, trace_end) - cursor
            cursor = time
        while index < len(events) and events[index][0] == time:
            active[events[index][2]] += events[index][1]
            index += 1
    if trace_end > cursor:
        totals[PHASE_GAP] += trace_end - cursor
    return totals


# --- the critical path --------------------------------------------------------------------------------


def critical_path(tree: TraceTree) -> list[Segment]:
    """Segments tiling the trace from its start to its end, in time order."""
    segments: list[Segment] = []
    roots = sorted(tree.roots, key=lambda r: r.clipped_end, reverse=True)
    current = tree.end_ns
    for root in roots:  # several roots: the last-finishing one, then the one that ended before it began...
        if root.clipped_end > current:  # ran beside the root on the path
            continue
        if root.clipped_end < current:
            segments.append(Segment("", "(gap)", root.clipped_end, current, True))
        _walk(tree, root, root.clipped_end, segments, 0)
        current = root.clipped_start
    if current > tree.start_ns:
        segments.append(Segment("", "(gap)", tree.start_ns, current, True))
    segments.reverse()
    return [s for s in segments if s.end_ns > s.start_ns]


def _walk(tree: TraceTree, span: SpanRecord, end_cap: int, out: list[Segment], depth: int) -> None:
    """Append ``span``'s critical segments up to ``end_cap``, latest first."""
    current = min(span.clipped_end, end_cap)
    if depth < _MAX_DEPTH:
        for child in sorted(tree.kids(span), key=lambda c: c.clipped_end, reverse=True):
            if current <= span.clipped_start:
                break
            if child.clipped_end > current or child.clipped_start >= current:
                continue  # ran beside the critical child: not on the path
            if child.clipped_end < current:
                out.append(Segment(span.span_id, span.name, child.clipped_end, current, True))
            _walk(tree, child, child.clipped_end, out, depth + 1)
            current = max(child.clipped_start, span.clipped_start)
    if current > span.clipped_start:
        out.append(Segment(span.span_id, span.name, span.clipped_start, current, True))


# --- LLM calls and tool batches -------------------------------------------------------------------------


def llm_calls(tree: TraceTree) -> list[LLMCall]:
    spans = sorted((s for s in tree.spans.values() if s.is_llm), key=lambda s: s.clipped_start)
    calls = []
    for index, span in enumerate(spans, start=1):
        attributes = span.attributes
        model = attributes.get(semconv.GEN_AI_RESPONSE_MODEL) or attributes.get(semconv.GEN_AI_REQUEST_MODEL)
        output = attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
        calls.append(
            LLMCall(
                span_id=span.span_id,
                index=index,
                model=str(model) if model else None,
                step=str(attributes[semconv.ANATOMY_ROUTE_STEP]) if semconv.ANATOMY_ROUTE_STEP in attributes else None,
                start_ns=span.clipped_start,
                end_ns=span.clipped_end,
                ttft_ns=_ns(attributes.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)),
                output_tokens=int(output) if isinstance(output, int | float) else None,
                streamed=bool(attributes.get(semconv.GEN_AI_REQUEST_STREAM, False)),
                route_role=attributes.get(semconv.ANATOMY_ROUTE_ROLE),
                route_outcome=attributes.get(semconv.ANATOMY_ROUTE_OUTCOME),
            )
        )
    return calls


def tool_batches(tree: TraceTree, calls: Sequence[LLMCall]) -> list[Batch]:
    """Tool calls grouped by the model turn they answer: those between the same two LLM calls."""
    used = [c for c in calls if c.route_outcome != semconv.ROUTE_OUTCOME_LOST]
    ends = sorted(c.end_ns for c in used)
    groups: dict[int, list[ToolCall]] = {}
    for span in tree.spans.values():
        if not span.is_tool:
            continue
        turn = bisect.bisect_right(ends, span.clipped_start)
        groups.setdefault(turn, []).append(
            ToolCall(
                span_id=span.span_id,
                name=str(span.attributes.get(semconv.GEN_AI_TOOL_NAME) or span.name.removeprefix("execute_tool ")),
                start_ns=span.clipped_start,
                end_ns=span.clipped_end,
                input_hash=span.attributes.get(semconv.ANATOMY_TOOL_INPUT_HASH),
                error=span.status == "ERROR",
            )
        )
    return [
        Batch(index, tuple(sorted(tools, key=lambda t: (t.start_ns, t.span_id))))
        for index, (_, tools) in enumerate(sorted(groups.items()), start=1)
    ]


def analyse_trace(tree: TraceTree) -> TraceAnalysis:
    """Phases, critical path, LLM calls, batches and what the levers already saved (what-ifs apart)."""
    calls = llm_calls(tree)
    cache_saved = cache_hits = parallel_saved = 0
    for span in tree.spans.values():
        attributes = span.attributes
        if attributes.get(semconv.ANATOMY_CACHE_HIT) is True:
            cache_hits += 1
            cache_saved += _ns(attributes.get(semconv.ANATOMY_CACHE_SAVED_TIME)) or 0
        parallel_saved += _ns(attributes.get(semconv.ANATOMY_BATCH_SAVED_TIME)) or 0
    return TraceAnalysis(
        trace_id=tree.trace_id,
        tree=tree,
        start_ns=tree.start_ns,
        end_ns=tree.end_ns,
        phases=phases(tree),
        critical_path=critical_path(tree),
        llm_calls=calls,
        batches=tool_batches(tree, calls),
        cache_saved_ns=cache_saved,
        cache_hits=cache_hits,
        parallel_saved_ns=parallel_saved,
    )
