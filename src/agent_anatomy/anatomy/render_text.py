"""The anatomy as text: the seed article's vertical flow for one trace, a table and percentiles for many.

Formats the typed report and nothing else, so it shows the JSON's numbers; lines are wrapped to the output's
width (80 columns when it is not a terminal).
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Sequence
from typing import Final

from .formatting import count, ms, output_width, visible_len, wrap
from .phases import PHASE_GAP, PHASE_LABELS, SHOWN_WHEN_ZERO
from .report import (
    ABSENT,
    Absent,
    AgentEntry,
    CacheStep,
    LLMBatchStep,
    LLMStep,
    SpanStep,
    Step,
    Summary,
    ToolsStep,
    TraceReport,
    TraceRow,
)

__all__ = [
    "TABLE_ROWS",
    "Style",
    "clip",
    "color_wanted",
    "finish",
    "list_text",
    "many_text",
    "trace_lines",
    "trace_text",
]


class Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text


def color_wanted(color: bool | None) -> bool:
    if color is not None:
        return color
    if os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def _served_lines(step: LLMStep) -> list[str]:
    """The call's prompt cache and speed, where the trace says."""
    lines = []
    if isinstance(step.prompt_cache_read_tokens, int):
        saved = step.prompt_cache_saved_ms
        sooner = f": its first token about {ms(saved)} sooner than uncached" if isinstance(saved, float) else ""
        lines.append(f"[prompt cache: read {step.prompt_cache_read_tokens:,} tokens{sooner}]")
    if isinstance(step.prompt_cache_miss, str):
        lines.append(f"[prompt cache missed the previous call's prefix: {step.prompt_cache_miss.replace('_', ' ')}]")
    if step.speed == "fast":
        lines.append("[fast mode]")
    return lines


def _step_lines(step: Step, style: Style, indent: str) -> list[str]:
    if isinstance(step, LLMStep):
        model = f" · {step.model}" if step.model else ""
        routed = f" · step {step.route_step}" if step.route_step else ""
        head = f"[{step.label}{model}: {ms(step.duration_ms)}]"
        lines = [f"{indent}↓ {style(head, '36')}{routed}"]
        if step.route_reason is not ABSENT and step.route_reason:
            lines.append(f"{indent}    [routed: {step.route_reason}, {count(step.attempts, 'attempt')}]")
        if isinstance(step.error, str):
            lines.append(f"{indent}    " + style(f"[failed after {ms(step.duration_ms)}: {step.error}]", "31"))
        elif step.ttft_ms is not None and step.thinking_ms:
            lines.append(
                f"{indent}    [TTFT: {ms(step.ttft_ms)} → thinking {ms(step.thinking_ms)} → the answer starts]"
            )
        elif step.ttft_ms is not None:
            lines.append(f"{indent}    [TTFT: {ms(step.ttft_ms)} → streaming starts]")
        elif step.streamed:
            lines.append(f"{indent}    [streamed; time to first token not recorded]")
        elif step.streamed is None:
            lines.append(f"{indent}    [whether it streamed, and its first token, not recorded]")
        elif isinstance(step.estimated_ttft_ms, float):
            lines.append(
                f"{indent}    [not streamed: the user waits {ms(step.duration_ms)} for the first word; its first token "
                f"came after about {ms(step.estimated_ttft_ms)} (estimated)]"
            )
        else:
            lines.append(f"{indent}    [not streamed: the user waits {ms(step.duration_ms)} for the first word]")
        lines.extend(f"{indent}    {line}" for line in _served_lines(step))
        return lines
    if isinstance(step, LLMBatchStep):
        times = ", ".join(ms(c.duration_ms) for c in step.calls)
        if step.mode == "parallel":
            body = f"LLM calls (parallel): max({times}) = {ms(step.max_ms)}"
        else:
            body = f"LLM calls (overlapping): {count(len(step.calls), 'call')} in {ms(step.wall_ms)}"
        models = sorted({c.model or "?" for c in step.calls})
        lines = [f"{indent}↓ {style(f'[{body}]', '36')}  {style(', '.join(models), '2')}"]
        for call in step.calls:
            lines.extend(_step_lines(call, style, indent + "    "))
        return lines
    if isinstance(step, ToolsStep):
        tools = step.tools
        if step.mode == "single":
            body = f"Tool call: {tools[0].name} {ms(tools[0].duration_ms)}"
        elif step.mode == "sequential":
            body = f"Tool calls (sequential): {' + '.join(ms(t.duration_ms) for t in tools)} = {ms(step.sum_ms)}"
        elif step.mode == "parallel":
            body = f"Tool calls (parallel): max({', '.join(ms(t.duration_ms) for t in tools)}) = {ms(step.max_ms)}"
        else:
            body = f"Tool calls (partly parallel): {count(len(tools), 'tool')} in {ms(step.wall_ms)}"
        names = ", ".join(t.name + (" (cache hit)" if t.cache_hit is True else "") for t in tools)
        return [f"{indent}↓ {style(f'[{body}]', '33')}  {style(names, '2')}"]
    if isinstance(step, CacheStep):
        outcome = f"hit, saved {ms(step.saved_ms)}" if step.hit and step.saved_ms else ("hit" if step.hit else "miss")
        head = f"[{step.label}: {outcome}]"
        return [f"{indent}↓ {style(head, '32')}"]
    if step.kind == "outside":
        head = f"[outside the agent · {step.label}: {ms(step.duration_ms)}]"
        return [f"{indent}↓ {style(head, '2')}"]
    if isinstance(step, SpanStep):
        lines = [f"{indent}↓ [{step.label}: {ms(step.duration_ms)}]"]
        for inner in step.inner:
            lines.extend(_step_lines(inner, style, indent + "    "))
        return lines
    return [f"{indent}↓ [{step.label}: {ms(step.duration_ms)}]"]


def _agents_lines(agents: Sequence[AgentEntry]) -> list[str]:
    """One line per agent, sub-agents indented under theirs, with where its own time went most."""
    depth: dict[str, int] = {}
    lines = [f"Agents in this trace ({len(agents)})"]
    for agent in agents:
        level = depth.get(agent.parent_agent_id, -1) + 1 if agent.parent_agent_id else 0
        depth[agent.span_id] = level
        phases = {p: value for p, value in agent.phases_ms.items() if p != PHASE_GAP}
        top = max(phases, key=lambda p: phases[p])
        lines.append(
            f"  {'  ' * level}{agent.name}: {ms(agent.wall_ms)} from {ms(agent.start_ms)} · "
            f"{count(agent.llm_calls, 'LLM call')}, {count(agent.tool_calls, 'tool call')} · most in "
            f"{PHASE_LABELS[top]} ({ms(phases[top])})"
        )
    return [*lines, ""]


def _trace_lines(trace: TraceReport, style: Style, suggestions_limit: int = 5) -> list[str]:
    wall = trace.wall_ms
    service = f" · {trace.service}" if trace.service else ""
    lines = [
        style(f"Latency anatomy · trace {trace.trace_id}{service} · {count(trace.span_count, 'span')}", "1"),
        "User request",
    ]
    if not isinstance(trace.failures, Absent):
        shown = ", ".join(f"{f.name} ({f.error})" for f in trace.failures[:_FAILURES_SHOWN])
        more = f", and {len(trace.failures) - _FAILURES_SHOWN} more" if len(trace.failures) > _FAILURES_SHOWN else ""
        lines.append("  " + style(f"✕ Failed: {shown}{more}", "31"))
    lines.extend(f"  ({note})" for note in trace.notes)
    for step in trace.steps:
        lines.extend(_step_lines(step, style, "  "))
    lines.append("  " + "─" * 44)
    lines.append("  " + style(f"Total: {ms(wall)}", "1"))
    lines.append("")
    if trace.agents:
        lines.extend(_agents_lines(trace.agents))
    lines.append("Where the time went")
    for phase, label in PHASE_LABELS.items():
        value = trace.phases_ms[phase]
        if not value and phase not in SHOWN_WHEN_ZERO:
            continue
        share = value / wall * 100 if wall else 0.0
        bar = "█" * round(share / 4)
        lines.append(f"  {label:<33} {ms(value):>10}  {share:5.1f} %  {bar}")
    levers = trace.levers
    saved = []
    if levers.parallel_saved_ms >= 1:
        saved.append(f"parallel tools saved {ms(levers.parallel_saved_ms)}")
    if isinstance(levers.parallel_llm_saved_ms, float) and levers.parallel_llm_saved_ms >= 1:
        saved.append(f"LLM calls made at once saved {ms(levers.parallel_llm_saved_ms)}")
    if levers.cache_hits:
        saved.append(f"{count(levers.cache_hits, 'cache hit')} saved {ms(levers.cache_saved_ms)}")
    if isinstance(levers.prompt_cache_saved_ms, float) and levers.prompt_cache_saved_ms >= 1:
        saved.append(f"prompt cache reads saved {ms(levers.prompt_cache_saved_ms)} of first-token time")
    if saved:
        lines.append("Levers at work: " + " · ".join(saved))
    lines.append("")
    if trace.suggestions:
        lines.append("What would save the most")
        for number, suggestion in enumerate(trace.suggestions[:suggestions_limit], start=1):
            saving, after = ms(suggestion.saving_ms), ms(suggestion.total_after_ms)
            if suggestion.perceived:
                head = f"{number}. {suggestion.title}: the answer starts to appear {saving} sooner"
            else:
                head = f"{number}. {suggestion.title}: saves {saving} → {after}"
            lines.append("  " + style(head, "32") + style(f"  [{suggestion.evidence}]", "2"))
            lines.append(f"     {suggestion.explanation}")
            if suggestion.assumes:
                lines.append(style(f"     Assumes {suggestion.assumes}.", "2"))
            if suggestion.lever is not ABSENT:
                lines.append(f"     Apply: {suggestion.lever}")
        lines.append(style(f"  Evidence: {_EVIDENCE_KEY}.", "2"))
    else:
        reason = trace.nothing_to_suggest if trace.nothing_to_suggest is not ABSENT else "nothing was looked at"
        lines.append(f"What would save the most: nothing to suggest ({reason}).")
    return lines


_EVIDENCE_KEY: Final = (
    "proven = shown by this trace; measured = other traces of the input or a speeds file; reference = the "
    "package's table of typical model speeds"
)


_FAILURES_SHOWN: Final = 5

TABLE_ROWS: Final = 50
"""Traces listed in a many-trace text report; beyond that, the slowest, and the report says so."""


def trace_lines(rows: Sequence[TraceRow], *, suggestion: bool = True) -> list[str]:
    """A table of traces, a row each: id, service, start, wall, LLM calls, first token and
    (``suggestion``) the top suggestion."""
    lines = [
        f"  {'trace id':<16} {'service':<16} {'start (UTC)':<12} {'wall':>10} {'LLM':>4} {'1st token':>12}"
        + ("  top suggestion" if suggestion else "")
    ]
    for row in rows:
        start = datetime.datetime.fromtimestamp(row.start_unix_ns / 1e9, datetime.UTC).strftime("%H:%M:%S.%f")[:12]
        lines.append(
            f"  {row.trace_id[:16]:<16} {(row.service or '-')[:16]:<16} {start:<12} "
            f"{ms(row.wall_ms):>10} {row.llm_calls:>4} {row.ttft:>12}" + (f"  {row.top}" if suggestion else "")
        )
    return lines


def _traces_table(shown: Sequence[TraceRow], total: int, style: Style) -> list[str]:
    """The many-trace report's table: the slowest first."""
    head = f"Traces ({total:,})"
    if total > len(shown):
        head = f"Traces: the {len(shown)} slowest of {total:,} (--format json lists every one)"
    return [style(head, "1"), *trace_lines(shown), ""]


def _summary_text(summary: Summary, style: Style) -> list[str]:
    side = summary.side_traces if isinstance(summary.side_traces, int) else 0
    head = f"Latency anatomy of {summary.trace_count - side:,} traces"
    if side:
        head += f" ({count(side, 'side trace')} set apart: no LLM call and no tool, such as counting tokens)"
    lines = [style(head, "1")]
    if not isinstance(summary.notes, Absent):
        lines.extend(f"  ({note})" for note in summary.notes)
    lines.append(f"  {'':<33} {'p50':>10} {'p95':>10} {'max':>10}")
    labels = {"total": "total", **PHASE_LABELS}
    for phase, label in labels.items():
        stats = summary.phases_ms[phase]
        lines.append(f"  {label:<33} {ms(stats.p50):>10} {ms(stats.p95):>10} {ms(stats.max):>10}")
    common = summary.common_path
    lines.append("")
    lines.append(f"Most common critical path ({common.traces:,} of {count(summary.trace_count - side, 'trace')}):")
    lines.append("  " + " → ".join(common.steps) if common.steps else "  (no steps)")
    lines.append("")
    if summary.suggestions:
        lines.append("What would save the most, over all traces")
        for number, s in enumerate(summary.suggestions[:8], start=1):
            lines.append(
                "  "
                + style(
                    f"{number}. {s.title}: in {count(s.traces, 'trace')}, {ms(s.mean_saving_ms)} "
                    f"on average ({ms(s.total_saving_ms)} in all)",
                    "32",
                )
            )
    return lines


def clip(line: str, width: int) -> str:
    """A table line cut to ``width`` columns with an ellipsis (a table row is not wrapped: it would not read)."""
    if visible_len(line) <= width or "\033" in line:
        return line
    return line[: width - 1] + "…"


def finish(lines: list[str], width: int | None, *, table: slice = slice(0)) -> str:
    """The report's text to ``width`` columns: the ``table`` lines clipped (a wrapped row would not read),
    the others wrapped."""
    columns = width or output_width()
    start, stop, _ = table.indices(len(lines))
    head, rows, tail = lines[:start], lines[start:stop], lines[stop:]
    return "\n".join(wrap(head, columns) + [clip(row, columns) for row in rows] + wrap(tail, columns)) + "\n"


def trace_text(trace: TraceReport, *, color: bool | None = None, width: int | None = None) -> str:
    """One trace as the seed article's flow."""
    return finish(_trace_lines(trace, Style(color_wanted(color))), width)


def many_text(
    slowest: Sequence[TraceRow],
    summary: Summary,
    *,
    each: Sequence[TraceReport] = (),
    color: bool | None = None,
    width: int | None = None,
) -> str:
    """Several traces: a table of the slowest (``TABLE_ROWS`` at most), their percentiles, then the anatomy of
    each of ``each`` (the slowest agent runs)."""
    style = Style(color_wanted(color))
    table = _traces_table(slowest, summary.trace_count, style)
    lines = table + _summary_text(summary, style)
    if each:
        lines += ["", style(f"The {count(len(each), 'slowest trace')}, each on its own", "1"), ""]
        for trace in each:
            lines += [*_trace_lines(trace, style), ""]
    return finish(lines, width, table=slice(1, len(table)))


def list_text(rows: Sequence[TraceRow], source: str, width: int | None = None) -> str:
    """``agent-anatomy list``: every trace of a source, in the order they started."""
    lines = [f"{count(len(rows), 'trace')} in {source}", *trace_lines(rows, suggestion=False)]
    return finish(lines, width, table=slice(1, None))
