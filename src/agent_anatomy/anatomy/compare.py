"""Before against after: per phase and in total, p50 and p95 of each side and the difference, and the two
sides' steps lined up, saying what changed on the critical path.

Works on trace reports, so a large file's traces compare as readily as a live trace. With several traces on
a side, the steps lined up are those of its typical trace: of the traces sharing the commonest sequence of
steps, the one of median wall time; the comparison says so. ``typical_traces`` gives the reports of the two
traces lined up, with their spans, which the page draws.
"""

from __future__ import annotations

import difflib
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Final, Protocol

from ..stats import percentile
from .budget import first_text_ms
from .phases import PHASES
from .report import (
    FIRST_TEXT,
    TOTAL,
    CacheStep,
    Comparison,
    Figure,
    LLMStep,
    Step,
    StepChange,
    ToolsStep,
    TraceReport,
    step_ms,
)

__all__ = [
    "Compared",
    "Comparison",
    "Figure",
    "StepChange",
    "compare",
    "compare_anatomies",
    "line_up",
    "typical",
    "typical_traces",
]

_NOT_STEPS: Final = frozenset({"agent", "gap"})
"""Step kinds a comparison does not line up: the agent's own code and gaps are no step of their own."""


class Compared(Protocol):
    """What a side of a comparison is: an ``Anatomy``."""

    def trace_reports(self, *, spans: bool = False) -> list[TraceReport]: ...
    def only(self, trace_id: str) -> Compared: ...


# --- figures -------------------------------------------------------------------------------------------


def _p50_p95(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    ordered = sorted(values)
    return round(float(statistics.median(ordered)), 3), percentile(ordered, 0.95)


def _series(traces: Sequence[TraceReport], name: str) -> list[float]:
    if name == TOTAL:
        return [float(t.wall_ms) for t in traces]
    if name == FIRST_TEXT:
        return [v for v in map(first_text_ms, traces) if v is not None]
    return [float(t.phases_ms.get(name, 0.0)) for t in traces]


def _figures(before: Sequence[TraceReport], after: Sequence[TraceReport]) -> list[Figure]:
    """Total, first text, then every phase either side spends time in, in the anatomy's order."""
    names = [TOTAL, FIRST_TEXT] + [
        p for p in PHASES if any(t.phases_ms.get(p) for t in before) or any(t.phases_ms.get(p) for t in after)
    ]
    figures = []
    for name in names:
        b50, b95 = _p50_p95(_series(before, name))
        a50, a95 = _p50_p95(_series(after, name))
        if name == FIRST_TEXT and b50 is None and a50 is None:
            continue
        figures.append(Figure(name, b50, b95, a50, a95))
    return figures


# --- steps ---------------------------------------------------------------------------------------------


def _key(step: Step) -> str:
    """What makes two steps the same step: an LLM call is one by its order, a tool batch by its tools."""
    if isinstance(step, LLMStep):
        return "llm"
    if isinstance(step, ToolsStep):
        return "tools:" + ",".join(sorted({t.name for t in step.tools}))
    return f"{step.kind}:{step.label}"


def _notes(before: Step, after: Step) -> tuple[str, ...]:
    """What changed in a step besides its duration."""
    notes: list[str] = []
    if isinstance(before, LLMStep) and isinstance(after, LLMStep):
        if before.model != after.model:
            notes.append(f"model {before.model or '?'} → {after.model or '?'}")
        if before.streamed is not True and after.streamed is True:
            notes.append("now streamed")
        elif before.streamed is True and after.streamed is False:
            notes.append("no longer streamed")
        first, then = before.ttft_ms, after.ttft_ms
        if first is not None and then is not None and round(first) != round(then):
            notes.append(f"TTFT {first:,.0f} → {then:,.0f} ms")
    elif isinstance(before, ToolsStep) and isinstance(after, ToolsStep):
        if before.mode != after.mode:
            notes.append(f"{before.mode} → {after.mode}")
        before_names = [t.name for t in before.tools]
        after_names = [t.name for t in after.tools]
        if before_names != after_names:
            notes.append(f"tools {', '.join(before_names)} → {', '.join(after_names)}")
    elif isinstance(before, CacheStep) and isinstance(after, CacheStep) and before.hit != after.hit:
        notes.append("now a hit" if after.hit else "now a miss")
    return tuple(notes)


def _pair(before: Step, after: Step) -> StepChange:
    notes = _notes(before, after)
    b, a = step_ms(before), step_ms(after)
    moved = b is not None and a is not None and abs(a - b) >= max(1.0, 0.02 * b)
    return StepChange("changed" if notes or moved else "same", before, after, notes)


def line_up(before: Sequence[Step], after: Sequence[Step]) -> list[StepChange]:
    """Two traces' ``steps`` lined up: equal keys pair; in a stretch that differs, steps of the same kind pair
    in order and the rest appeared or disappeared."""
    keys_before, keys_after = [_key(s) for s in before], [_key(s) for s in after]
    matcher = difflib.SequenceMatcher(a=keys_before, b=keys_after, autojunk=False)
    changes: list[StepChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            changes.extend(_pair(before[i], after[j]) for i, j in zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        left, right = list(before[i1:i2]), list(after[j1:j2])
        while left or right:
            if left and right and left[0].kind == right[0].kind:
                changes.append(_pair(left.pop(0), right.pop(0)))
            elif left and not any(r.kind == left[0].kind for r in right):
                changes.append(StepChange("disappeared", left.pop(0), None))
            else:
                changes.append(StepChange("appeared", None, right.pop(0)))
    return changes


def typical(traces: Sequence[TraceReport]) -> TraceReport:
    """Of the traces sharing the commonest sequence of steps, the one of median wall time."""
    shapes = Counter(tuple(map(_key, t.steps)) for t in traces)
    common = shapes.most_common(1)[0][0]
    sharing = sorted((t for t in traces if tuple(map(_key, t.steps)) == common), key=lambda t: t.wall_ms)
    return sharing[(len(sharing) - 1) // 2]


def compare(before: Sequence[TraceReport], after: Sequence[TraceReport]) -> Comparison:
    """Compare two sets of trace reports (one trace each, or many)."""
    if not before or not after:
        raise ValueError("compare needs at least one trace on each side")
    first, second = typical(before), typical(after)
    # the agent's own code and gaps between steps are no step of their own: nothing to line up
    steps = [[s for s in t.steps if s.kind not in _NOT_STEPS] for t in (first, second)]
    return Comparison(
        before_traces=len(before),
        after_traces=len(after),
        figures=tuple(_figures(before, after)),
        steps=tuple(line_up(*steps)),
        before_trace_id=str(first.trace_id),
        after_trace_id=str(second.trace_id),
        before_typical=len(before) > 1,
        after_typical=len(after) > 1,
    )


def compare_anatomies(before: Compared, after: Compared) -> Comparison:
    """The comparison of two anatomies (every trace's report of each side)."""
    return compare(before.trace_reports(), after.trace_reports())


def typical_traces(before: Compared, after: Compared, comparison: Comparison) -> tuple[TraceReport, TraceReport]:
    """The reports, with their spans, of the two traces ``comparison`` lined up (what its page draws)."""
    first = before.only(comparison.before_trace_id).trace_reports(spans=True)[0]
    second = after.only(comparison.after_trace_id).trace_reports(spans=True)[0]
    return first, second
