"""Many traces at once: phase percentiles, the commonest critical-path shape, suggestions summed up."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .analysis import PHASES, TraceAnalysis
from .model import SpanRecord, TraceTree

__all__ = ["AggregateSuggestion", "PhaseStats", "aggregate_suggestions", "path_shape", "phase_stats", "step_items"]


@dataclass(frozen=True)
class PhaseStats:
    p50_ns: int
    p95_ns: int
    max_ns: int


def _percentile(values: Sequence[int], fraction: float) -> int:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] if ordered else 0


def phase_stats(analyses: Sequence[TraceAnalysis]) -> dict[str, PhaseStats]:
    """Per phase (and ``total``), p50 / p95 / max over the traces."""
    series = {phase: [a.phases[phase] for a in analyses] for phase in PHASES}
    series["total"] = [a.wall_ns for a in analyses]
    return {
        phase: PhaseStats(
            int(statistics.median(values)) if values else 0, _percentile(values, 0.95), max(values, default=0)
        )
        for phase, values in series.items()
    }


def _top_child(tree: TraceTree, span_id: str) -> SpanRecord | None:
    """The ancestor of ``span_id`` that is a child of the trace's root (or the span itself)."""
    span = tree.spans.get(span_id)
    root = tree.root
    while span is not None and span.parent_id in tree.spans and (root is None or span.parent_id != root.span_id):
        span = tree.spans[span.parent_id]
    return span


def step_items(analysis: TraceAnalysis) -> list[tuple[str, SpanRecord | None, int, int]]:
    """The critical path as top-level steps: (label, top-level span, start, end), consecutive pieces merged."""
    tree = analysis.tree
    root = tree.root
    items: list[tuple[str, SpanRecord | None, int, int]] = []
    for segment in analysis.critical_path:
        if root is not None and segment.span_id == root.span_id:
            top, label = None, "(agent code)"
        elif not segment.span_id:
            top, label = None, "(gap)"
        else:
            top = _top_child(tree, segment.span_id)
            label = top.name if top is not None else segment.name
        if items and items[-1][0] == label and items[-1][1] is top:
            previous = items[-1]
            items[-1] = (previous[0], previous[1], previous[2], segment.end_ns)
        else:
            items.append((label, top, segment.start_ns, segment.end_ns))
    return items


def path_shape(analysis: TraceAnalysis) -> tuple[str, ...]:
    """The critical path's top-level steps by name, repeats collapsed, agent code and gaps left out."""
    shape: list[str] = []
    for label, _, _, _ in step_items(analysis):
        if label.startswith("(") or (shape and shape[-1] == label):
            continue
        shape.append(label)
    return tuple(shape)


@dataclass(frozen=True)
class AggregateSuggestion:
    kind: str
    title: str
    traces: int
    total_saving_ns: int

    @property
    def mean_saving_ns(self) -> int:
        return self.total_saving_ns // max(self.traces, 1)


def aggregate_suggestions(analyses: Sequence[TraceAnalysis]) -> list[AggregateSuggestion]:
    totals: Counter[tuple[str, str]] = Counter()
    counts: Counter[tuple[str, str]] = Counter()
    for analysis in analyses:
        for suggestion in analysis.suggestions:
            key = (suggestion.kind, suggestion.title)
            totals[key] += suggestion.saving_ns
            counts[key] += 1
    return sorted(
        (AggregateSuggestion(kind, title, counts[(kind, title)], total) for (kind, title), total in totals.items()),
        key=lambda s: s.total_saving_ns,
        reverse=True,
    )
