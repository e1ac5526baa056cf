"""Before against after: per phase and in total, p50 and p95 of each side and the difference, and the two
sides' steps lined up, saying what changed on the critical path.

Works on trace documents (``Anatomy.to_dict()`` entries), so a large file's figures compare as readily as
a live trace. With several traces on a side, the steps lined up are those of its typical trace: of the
traces sharing the commonest sequence of steps, the one of median wall time; the comparison says so.
"""

from __future__ import annotations

import difflib
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from ..stats import percentile
from .budget import first_text_ms
from .phases import PHASES

__all__ = ["SCHEMA", "Comparison", "Figure", "StepChange", "compare"]

SCHEMA: Final = "agent-anatomy/compare@1"
TOTAL: Final = "total"
FIRST_TEXT: Final = "first_text"
"""Until the answer starts to appear (the last LLM call's first visible text)."""

Change = Literal["same", "changed", "appeared", "disappeared"]
_NOT_STEPS: Final = frozenset({"agent", "gap"})


@dataclass(frozen=True)
class Figure:
    """One measure on both sides: p50 and p95 in ms; None where a side does not record it."""

    name: str
    before_p50: float | None
    before_p95: float | None
    after_p50: float | None
    after_p95: float | None

    @staticmethod
    def _difference(before: float | None, after: float | None) -> float | None:
        return None if before is None or after is None else after - before

    @property
    def change_p50(self) -> float | None:
        return self._difference(self.before_p50, self.after_p50)

    @property
    def change_p95(self) -> float | None:
        return self._difference(self.before_p95, self.after_p95)


@dataclass(frozen=True)
class StepChange:
    """A step of the typical trace of each side, lined up: ``before`` / ``after`` are ``steps`` entries."""

    change: Change
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return str((self.after or self.before or {}).get("label", "?"))

    @property
    def before_ms(self) -> float | None:
        return _step_ms(self.before)

    @property
    def after_ms(self) -> float | None:
        return _step_ms(self.after)


@dataclass
class Comparison:
    before_traces: int
    after_traces: int
    figures: list[Figure]
    steps: list[StepChange]
    before_trace_id: str
    after_trace_id: str
    before_typical: bool = False
    """Whether ``before_trace_id`` was chosen as the typical trace of several (not the only one)."""
    after_typical: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``agent-anatomy/compare@1``."""
        return {
            "schema": SCHEMA,
            "before": {"traces": self.before_traces, "trace_id": self.before_trace_id, "typical": self.before_typical},
            "after": {"traces": self.after_traces, "trace_id": self.after_trace_id, "typical": self.after_typical},
            "figures": [
                {
                    "name": f.name,
                    "before": {"p50_ms": f.before_p50, "p95_ms": f.before_p95},
                    "after": {"p50_ms": f.after_p50, "p95_ms": f.after_p95},
                    "change": {"p50_ms": f.change_p50, "p95_ms": f.change_p95},
                }
                for f in self.figures
            ],
            "steps": [
                {
                    "change": s.change,
                    "label": s.label,
                    "before_ms": s.before_ms,
                    "after_ms": s.after_ms,
                    "notes": list(s.notes),
                    "before": dict(s.before) if s.before is not None else None,
                    "after": dict(s.after) if s.after is not None else None,
                }
                for s in self.steps
            ],
        }


# --- figures -------------------------------------------------------------------------------------------


def _p50_p95(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    ordered = sorted(values)
    return round(float(statistics.median(ordered)), 3), percentile(ordered, 0.95)


def _series(traces: Sequence[Mapping[str, Any]], name: str) -> list[float]:
    if name == TOTAL:
        return [float(t["wall_ms"]) for t in traces]
    if name == FIRST_TEXT:
        return [v for v in map(first_text_ms, traces) if v is not None]
    return [float(t["phases_ms"].get(name, 0.0)) for t in traces]


def _figures(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> list[Figure]:
    """Total, first text, then every phase either side spends time in, in the anatomy's order."""
    names = [TOTAL, FIRST_TEXT] + [
        p for p in PHASES if any(t["phases_ms"].get(p) for t in before) or any(t["phases_ms"].get(p) for t in after)
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


def _step_ms(step: Mapping[str, Any] | None) -> float | None:
    if step is None:
        return None
    value = step.get("wall_ms", step.get("duration_ms"))
    return None if value is None else float(value)


def _key(step: Mapping[str, Any]) -> str:
    """What makes two steps the same step: an LLM call is one by its order, a tool batch by its tools."""
    kind = step["kind"]
    if kind == "llm":
        return "llm"
    if kind == "tools":
        return "tools:" + ",".join(sorted({t["name"] for t in step["tools"]}))
    return f"{kind}:{step.get('label', '')}"


def _notes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """What changed in a step besides its duration."""
    notes: list[str] = []
    if before["kind"] == "llm" and after["kind"] == "llm":
        if before.get("model") != after.get("model"):
            notes.append(f"model {before.get('model') or '?'} → {after.get('model') or '?'}")
        if before.get("streamed") is not True and after.get("streamed") is True:
            notes.append("now streamed")
        elif before.get("streamed") is True and after.get("streamed") is False:
            notes.append("no longer streamed")
        first, then = before.get("ttft_ms"), after.get("ttft_ms")
        if first is not None and then is not None and round(first) != round(then):
            notes.append(f"TTFT {first:,.0f} → {then:,.0f} ms")
    elif before["kind"] == "tools" and after["kind"] == "tools":
        if before["mode"] != after["mode"]:
            notes.append(f"{before['mode']} → {after['mode']}")
        before_names = [t["name"] for t in before["tools"]]
        after_names = [t["name"] for t in after["tools"]]
        if before_names != after_names:
            notes.append(f"tools {', '.join(before_names)} → {', '.join(after_names)}")
    elif before["kind"] == "cache" and after["kind"] == "cache" and before.get("hit") != after.get("hit"):
        notes.append("now a hit" if after.get("hit") else "now a miss")
    return tuple(notes)


def _pair(before: Mapping[str, Any], after: Mapping[str, Any]) -> StepChange:
    notes = _notes(before, after)
    b, a = _step_ms(before), _step_ms(after)
    moved = b is not None and a is not None and abs(a - b) >= max(1.0, 0.02 * b)
    return StepChange("changed" if notes or moved else "same", before, after, notes)


def line_up(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> list[StepChange]:
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
            if left and right and left[0]["kind"] == right[0]["kind"]:
                changes.append(_pair(left.pop(0), right.pop(0)))
            elif left and not any(r["kind"] == left[0]["kind"] for r in right):
                changes.append(StepChange("disappeared", left.pop(0), None))
            else:
                changes.append(StepChange("appeared", None, right.pop(0)))
    return changes


def typical(traces: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Of the traces sharing the commonest sequence of steps, the one of median wall time."""
    shapes = Counter(tuple(map(_key, t["steps"])) for t in traces)
    common = shapes.most_common(1)[0][0]
    sharing = sorted((t for t in traces if tuple(map(_key, t["steps"])) == common), key=lambda t: t["wall_ms"])
    return sharing[(len(sharing) - 1) // 2]


def compare(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> Comparison:
    """Compare two sets of trace documents (one trace each, or many)."""
    if not before or not after:
        raise ValueError("compare needs at least one trace on each side")
    first, second = typical(before), typical(after)
    # the agent's own code and gaps between steps are no step of their own: nothing to line up
    steps = [[s for s in t["steps"] if s["kind"] not in _NOT_STEPS] for t in (first, second)]
    return Comparison(
        before_traces=len(before),
        after_traces=len(after),
        figures=_figures(before, after),
        steps=line_up(*steps),
        before_trace_id=str(first["trace_id"]),
        after_trace_id=str(second["trace_id"]),
        before_typical=len(before) > 1,
        after_typical=len(after) > 1,
    )
