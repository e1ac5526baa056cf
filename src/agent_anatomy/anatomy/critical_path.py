"""The critical path of a trace, as Jaeger defines it: from the root, the last-finishing child, then the child
that finished before that one started, and so on, with each span's own time in between."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .. import semconv
from .model import SpanRecord, TraceTree

__all__ = ["Segment", "critical_path"]

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
    # Cut short by a span it streamed into (a route whose call's tools started early): its call is cut too.
    cut = end_cap < span.clipped_end
    if depth < _MAX_DEPTH:
        after: SpanRecord | None = None  # the child last put on the path (it began at ``current``)
        for child in sorted(tree.kids(span), key=lambda c: c.clipped_end, reverse=True):
            if current <= span.clipped_start:
                break
            if child.clipped_start >= current:
                continue
            if child.clipped_end > current and not (
                _streamed_into(child, after) or (cut and after is None and child.is_llm)
            ):
                continue  # ran beside the critical child: not on the path
            if child.clipped_end < current:
                out.append(Segment(span.span_id, span.name, child.clipped_end, current, True))
            _walk(tree, child, min(child.clipped_end, current), out, depth + 1)
            current = max(child.clipped_start, span.clipped_start)
            after = child
    if current > span.clipped_start:
        out.append(Segment(span.span_id, span.name, span.clipped_start, current, True))


def _streamed_into(call: SpanRecord, after: SpanRecord | None) -> bool:
    """Whether an LLM call (or the route span a router wraps one in) that ended after the next span on the
    path began handed that span its work while still streaming (the Claude Code CLI and ``run_agent`` start
    a tool once its ``tool_use`` block is complete, before the message ends): the call is then on the path
    up to that span's start, not beside it."""
    llm = call.is_llm or call.operation == semconv.OPERATION_ROUTE
    return llm and after is not None and not after.is_llm and after.operation != semconv.OPERATION_ROUTE
