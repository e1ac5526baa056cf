"""Where every instant of a trace went: its phases, which add up to its wall time exactly.

The most specific activity running at an instant wins (an LLM call's first-token wait, thinking or
generation, then a permission check, a tool, retrieval, a cache lookup, routing, the agent's own code), and
instants no span covers are gaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from .. import semconv
from .calls import LLMCall
from .model import SpanRecord, TraceTree
from .phases import (
    PHASE_AGENT,
    PHASE_CACHE,
    PHASE_GAP,
    PHASE_GENERATION,
    PHASE_LLM_UNSPLIT,
    PHASE_OUTSIDE,
    PHASE_PERMISSION,
    PHASE_RETRIEVAL,
    PHASE_ROUTING,
    PHASE_THINKING,
    PHASE_TOOL,
    PHASE_TTFT,
    PHASES,
)

__all__ = ["phases", "span_phases"]

_PRIORITY: Final = {phase: len(PHASES) - 1 - index for index, phase in enumerate(PHASES)}


def _recorded(calls: Iterable[LLMCall]) -> set[str]:
    """Every span that records one of ``calls``."""
    return {span_id for call in calls for span_id in call.traced_by}


def _call_intervals(call: LLMCall) -> Iterable[tuple[int, int, str]]:
    """An LLM call's time: waiting for the first token, thinking, then generating, as far as the trace tells."""
    start, end = call.start_ns, call.end_ns
    if call.ttft_ns is not None:
        split = min(start + call.ttft_ns, end)
        yield start, split, PHASE_TTFT
        if call.thinking_ns:
            thought = min(split + call.thinking_ns, end)
            yield split, thought, PHASE_THINKING
            split = thought
        yield split, end, PHASE_GENERATION
    elif call.streamed is not False:  # streamed (or not said), but no record of the first token
        yield start, end, PHASE_LLM_UNSPLIT
    elif call.estimated_ttft_ns is not None:  # not streamed: when its first token came, estimated
        split = min(start + call.estimated_ttft_ns, end)
        yield start, split, PHASE_TTFT
        yield split, end, PHASE_GENERATION
    else:  # not streamed, and no estimate: the caller waited the whole call for its first visible token
        yield start, end, PHASE_TTFT


def _span_intervals(span: SpanRecord, inside: bool) -> Iterable[tuple[int, int, str]]:
    """A span's time other than an LLM call's; ``inside``: the span is the agent's or below it."""
    start, end = span.clipped_start, span.clipped_end
    operation = span.operation
    if operation in (semconv.OPERATION_EXECUTE_TOOL, semconv.OPERATION_TOOL_BATCH):
        yield start, end, PHASE_TOOL
    elif operation == semconv.OPERATION_PERMISSION:
        yield start, end, PHASE_PERMISSION
    elif operation == semconv.OPERATION_RETRIEVAL:
        yield start, end, PHASE_RETRIEVAL
    elif operation == semconv.OPERATION_CACHE_LOOKUP:
        yield start, end, PHASE_CACHE
    elif operation == semconv.OPERATION_ROUTE:
        yield start, end, PHASE_ROUTING
    else:
        yield start, end, PHASE_AGENT if inside else PHASE_OUTSIDE


def phases(tree: TraceTree, agent: SpanRecord | None, calls: Sequence[LLMCall]) -> dict[str, int]:
    """Nanoseconds per phase; they add up to the trace's wall time exactly.

    Spans that are not the ``agent`` (``agents.find_agent``'s) nor below it (its ancestors, their other
    children) are outside the agent; with no agent at all (no GenAI span in the trace), all are. LLM time
    comes from the ``calls`` (``calls.llm_calls``'s), each once however many spans recorded it.
    """
    recorded = _recorded(calls)
    totals = dict.fromkeys(PHASES, 0)
    trace_start, trace_end = tree.start_ns, tree.end_ns
    if trace_end <= trace_start:
        return totals
    inside = tree.subtree_ids(agent)
    intervals = [interval for call in calls for interval in _call_intervals(call)]
    for span in tree.spans.values():
        if span.span_id not in recorded:
            intervals.extend(_span_intervals(span, span.span_id in inside))
    events: list[tuple[int, int, int]] = []
    for start, end, phase in intervals:
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


def span_phases(tree: TraceTree, agent: SpanRecord | None, calls: Sequence[LLMCall]) -> dict[str, str]:
    """Each span's own phase (``llm`` for an LLM call, whose time splits in two): what its bar shows."""
    inside = tree.subtree_ids(agent)
    recorded = _recorded(calls)
    result = {}
    for span in tree.spans.values():
        if span.span_id in recorded:
            result[span.span_id] = "llm"
        else:
            result[span.span_id] = next(iter(_span_intervals(span, span.span_id in inside)))[2]
    return result
