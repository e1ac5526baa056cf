"""Many traces at once: phase percentiles, the commonest critical-path shape, suggestions summed up."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..stats import percentile
from .analysis import TraceAnalysis
from .phases import PHASES
from .steps import step_items

__all__ = ["AggregateSuggestion", "PhaseStats", "aggregate_suggestions", "common_path", "path_shape", "phase_stats"]


class TraceNumbers(Protocol):
    """What the many-trace figures need of a trace: an analysis, or the figures kept of one."""

    @property
    def phases(self) -> Mapping[str, int]: ...
    @property
    def wall_ns(self) -> int: ...
    @property
    def suggestions(self) -> Sequence[Any]: ...


class HasShape(Protocol):
    @property
    def shape(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class PhaseStats:
    p50_ns: int
    p95_ns: int
    max_ns: int


def phase_stats(analyses: Sequence[TraceNumbers]) -> dict[str, PhaseStats]:
    """Per phase (and ``total``), p50 / p95 / max over the traces."""
    series = {phase: [a.phases[phase] for a in analyses] for phase in PHASES}
    series["total"] = [a.wall_ns for a in analyses]
    return {
        phase: PhaseStats(
            int(statistics.median(values)) if values else 0,
            percentile(sorted(values), 0.95) or 0,
            max(values, default=0),
        )
        for phase, values in series.items()
    }


def path_shape(analysis: TraceAnalysis) -> tuple[str, ...]:
    """The critical path's steps by name, repeats collapsed, agent code, outside time and gaps left out."""
    shape: list[str] = []
    for item in step_items(analysis):
        if item.span is None or (shape and shape[-1] == item.label):
            continue
        shape.append(item.label)
    return tuple(shape)


def common_path(traces: Sequence[HasShape]) -> tuple[tuple[str, ...], int]:
    """The commonest critical-path shape and how many traces have it (the first seen, of equally common ones)."""
    shapes: dict[tuple[str, ...], int] = {}
    for trace in traces:
        shapes[trace.shape] = shapes.get(trace.shape, 0) + 1
    return max(shapes.items(), key=lambda item: item[1])


@dataclass(frozen=True)
class AggregateSuggestion:
    kind: str
    title: str
    traces: int
    total_saving_ns: int

    @property
    def mean_saving_ns(self) -> int:
        return self.total_saving_ns // max(self.traces, 1)


def aggregate_suggestions(analyses: Sequence[TraceNumbers]) -> list[AggregateSuggestion]:
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
