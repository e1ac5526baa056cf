"""A comparison as text (the figures before and after with their differences, then the steps lined up), as
JSON, or as a page with both anatomies drawn on one time scale."""

from __future__ import annotations

import json
from typing import Any

from .document import comparison_json
from .formatting import count, ms
from .phases import PHASE_LABELS
from .render_html import page
from .render_text import Style, color_wanted, finish
from .report import FIRST_TEXT, SCHEMA, TOTAL, Comparison, Report, StepChange, TraceReport

__all__ = ["compare_lines", "render_comparison"]

_LABELS = {TOTAL: "total", FIRST_TEXT: "until the answer starts", **PHASE_LABELS}
_MARKS = {"same": " ", "changed": "~", "appeared": "+", "disappeared": "-"}


def _ms(value: float | None) -> str:
    return "-" if value is None else ms(value)


def _change(before: float | None, after: float | None, *, share: bool = True) -> str:
    if before is None or after is None:
        return "-"
    difference = round(after - before)
    if difference == 0:
        return "±0 ms"
    sign = "+" if difference > 0 else "-"
    part = f" ({sign}{abs(difference) / before:.0%})" if share and before >= 1 else ""
    return f"{sign}{abs(difference):,} ms{part}"


def _side(traces: int, trace_id: str, typical: bool) -> str:
    if typical:
        return f"{count(traces, 'trace')}, typical {trace_id[:16]}"
    return f"trace {trace_id[:16]}"


def _figure_rows(comparison: Comparison, which: str) -> list[str]:
    rows = [f"  {'':<33} {'before':>10} {'after':>10}  change"]
    for figure in comparison.figures:
        before = figure.before_p50 if which == "p50" else figure.before_p95
        after = figure.after_p50 if which == "p50" else figure.after_p95
        label = _LABELS.get(figure.name, figure.name)
        rows.append(f"  {label:<33} {_ms(before):>10} {_ms(after):>10}  {_change(before, after)}")
    return rows


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _step_line(step: StepChange) -> str:
    """``~ Tool batch 1   1,402 → 801 ms   -601 ms   sequential → parallel``"""
    if step.change == "appeared":
        timing = f"{'':>8}   {_number(step.after_ms) + ' ms':<9}"
    elif step.change == "disappeared":
        timing = f"{_number(step.before_ms) + ' ms':>11}{'':<9}"
    else:
        timing = f"{_number(step.before_ms):>8} → {_number(step.after_ms) + ' ms':<9}"
    change = _change(step.before_ms, step.after_ms, share=False) if step.change in ("same", "changed") else ""
    what = [step.change] if step.change in ("appeared", "disappeared") else []
    return (
        f"  {_MARKS[step.change]} {step.label:<14} {timing} {change:>10}   {'; '.join([*what, *step.notes])}".rstrip()
    )


def compare_lines(comparison: Comparison, before_name: str, after_name: str, style: Any) -> list[str]:
    """The comparison's text: a heading naming both sides, p50 (and p95, for several traces) figures, and the
    typical traces' steps lined up."""
    several = comparison.before_traces > 1 or comparison.after_traces > 1
    before = _side(comparison.before_traces, comparison.before_trace_id, comparison.before_typical)
    after = _side(comparison.after_traces, comparison.after_trace_id, comparison.after_typical)
    lines = [style(f"Before: {before_name} ({before})", "1"), style(f"After:  {after_name} ({after})", "1"), ""]
    if several:
        lines += ["p50", *_figure_rows(comparison, "p50"), "", "p95", *_figure_rows(comparison, "p95"), ""]
    else:
        lines += [*_figure_rows(comparison, "p50"), ""]
    typical = " of the typical traces" if several else ""
    lines.append(f"Step by step{typical} (~ changed, + appeared, - disappeared)")
    lines.extend(_step_line(step) for step in comparison.steps)
    return lines


def render_comparison(
    comparison: Comparison,
    before_name: str,
    after_name: str,
    format: str,
    *,
    traces: tuple[TraceReport, TraceReport] | None = None,
    color: bool | None = None,
) -> str:
    """``agent-anatomy compare``'s output: text, the JSON document, or a page drawing ``traces`` (the two traces
    lined up, with their spans: ``compare.typical_traces``)."""
    if format == "json":
        document = {**comparison_json(comparison), "before_source": before_name, "after_source": after_name}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if format == "html":
        if traces is None:
            raise ValueError("a comparison's page draws the two traces: give them (compare.typical_traces)")
        sources = {"before_source": before_name, "after_source": after_name}
        return page(Report(schema=SCHEMA, traces=traces), comparison={**comparison_json(comparison), **sources})
    return finish(compare_lines(comparison, before_name, after_name, Style(color_wanted(color))), None)
