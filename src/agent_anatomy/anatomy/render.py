"""The anatomy as text (the seed article's shape), as JSON, and (see ``render_html``) as a page.

All three are built from ``to_dict()``, so they show the same numbers.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Final

from .. import semconv
from ..errors import ConfigurationError
from .analysis import (
    PHASE_AGENT,
    PHASE_CACHE,
    PHASE_GAP,
    PHASE_GENERATION,
    PHASE_LLM_UNSPLIT,
    PHASE_OUTSIDE,
    PHASE_RETRIEVAL,
    PHASE_ROUTING,
    PHASE_THINKING,
    PHASE_TOOL,
    PHASE_TTFT,
    Batch,
    TraceAnalysis,
    step_items,
)
from .model import SpanRecord

if TYPE_CHECKING:
    from ._anatomy import Anatomy

__all__ = ["SCHEMA", "html", "json_text", "text", "to_dict"]

SCHEMA: Final = "agent-anatomy/anatomy@1"
_SHOWN_WHEN_ZERO: Final = frozenset(
    {PHASE_TTFT, PHASE_GENERATION, PHASE_TOOL, PHASE_CACHE, PHASE_ROUTING, PHASE_AGENT, PHASE_GAP}
)
"""The phases every text report lists; the others only when the trace has some."""
PHASE_LABELS: Final = {
    PHASE_TTFT: "LLM, waiting for the first token",
    PHASE_THINKING: "LLM, thinking",
    PHASE_GENERATION: "LLM, generating",
    PHASE_LLM_UNSPLIT: "LLM, first token not recorded",
    PHASE_TOOL: "tools",
    PHASE_RETRIEVAL: "retrieval and embeddings",
    PHASE_CACHE: "cache lookups",
    PHASE_ROUTING: "routing and hedging",
    PHASE_AGENT: "agent's own code",
    PHASE_OUTSIDE: "outside the agent",
    PHASE_GAP: "unaccounted gaps",
}


def _ms(ns: int | float) -> float:
    return round(ns / 1e6, 3)


# --- the dictionary everything is built from ------------------------------------------------------------


def _batch_of(analysis: TraceAnalysis, span_ids: set[str]) -> Batch | None:
    for batch in analysis.batches:
        if any(tool.span_id in span_ids for tool in batch.tools):
            return batch
    return None


def _llm_step(analysis: TraceAnalysis, top: SpanRecord) -> dict[str, Any] | None:
    ids = {top.span_id, *(d.span_id for d in analysis.tree.descendants(top))}
    calls = [c for c in analysis.llm_calls if c.span_id in ids]
    if not calls:
        return None
    used = [c for c in calls if c.route_outcome != semconv.ROUTE_OUTCOME_LOST and c.end_ns > c.start_ns]
    call = (used or calls)[-1]
    step: dict[str, Any] = {
        "kind": "llm",
        "label": f"LLM call {call.index}",
        "span_id": call.span_id,
        "model": call.model,
        "route_step": call.step,
        "duration_ms": _ms(top.clipped_end - top.clipped_start),
        "ttft_ms": None if call.ttft_ns is None else _ms(call.ttft_ns),
        "thinking_ms": None if call.thinking_ns is None else _ms(call.thinking_ns),
        "streamed": call.streamed,
        "attempts": len(calls),
    }
    if top.operation == semconv.OPERATION_ROUTE:
        step["route_reason"] = top.attributes.get(semconv.ANATOMY_ROUTE_REASON)
    return step


def _batch_step(batch: Batch) -> dict[str, Any]:
    return {
        "kind": "tools",
        "label": f"Tool batch {batch.index}",
        "mode": batch.mode,
        "tools": [
            {"name": t.name, "span_id": t.span_id, "duration_ms": _ms(t.duration_ns), "error": t.error}
            for t in batch.tools
        ],
        "wall_ms": _ms(batch.wall_ns),
        "sum_ms": _ms(batch.sum_ns),
        "max_ms": _ms(batch.max_ns),
    }


def steps(analysis: TraceAnalysis) -> list[dict[str, Any]]:
    """The agent's steps along the critical path, as dictionaries: LLM calls, tool batches, lookups, the rest."""
    result: list[dict[str, Any]] = []
    shown_batches: set[int] = set()
    for item in step_items(analysis):
        top = item.span
        if top is None:
            if item.end_ns - item.start_ns >= 1_000_000:
                result.append({"kind": item.kind, "label": item.label, "duration_ms": _ms(item.end_ns - item.start_ns)})
            continue
        ids = {top.span_id, *(d.span_id for d in analysis.tree.descendants(top))}
        operation = top.operation
        if item.kind == "outside":
            result.append(
                {"kind": "outside", "label": top.name, "duration_ms": _ms(top.clipped_end - top.clipped_start)}
            )
        elif (top.is_llm or operation == semconv.OPERATION_ROUTE) and (step := _llm_step(analysis, top)):
            result.append(step)
        elif (batch := _batch_of(analysis, ids)) is not None and operation in (
            semconv.OPERATION_EXECUTE_TOOL,
            semconv.OPERATION_TOOL_BATCH,
        ):
            if batch.index not in shown_batches:
                shown_batches.add(batch.index)
                result.append(_batch_step(batch))
        elif operation == semconv.OPERATION_CACHE_LOOKUP:
            saved = top.attributes.get(semconv.ANATOMY_CACHE_SAVED_TIME)
            result.append(
                {
                    "kind": "cache",
                    "label": top.name,
                    "hit": bool(top.attributes.get(semconv.ANATOMY_CACHE_HIT)),
                    "duration_ms": _ms(top.clipped_end - top.clipped_start),
                    "saved_ms": _ms(saved * 1e9) if isinstance(saved, int | float) else None,
                }
            )
        else:
            inner = [s for s in (_llm_step(analysis, top),) if s]
            inner += [_batch_step(b) for b in analysis.batches if any(t.span_id in ids for t in b.tools)]
            result.append(
                {
                    "kind": "span",
                    "label": top.name,
                    "duration_ms": _ms(top.clipped_end - top.clipped_start),
                    "inner": inner,
                }
            )
    return result


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else list(value)


def _span_dicts(analysis: TraceAnalysis) -> list[dict[str, Any]]:
    origin = analysis.start_ns
    phase_of = analysis.span_phases()
    return [
        {
            "span_id": r.span_id,
            "parent_id": r.parent_id if r.parent_id in analysis.tree.spans else None,
            "name": r.name,
            "start_ms": _ms(r.clipped_start - origin),
            "end_ms": _ms(r.clipped_end - origin),
            "phase": phase_of[r.span_id],
            "status": r.status,
            "service": r.service,
            "attributes": {k: _plain(v) for k, v in r.attributes.items()},
        }
        for r in sorted(analysis.tree.spans.values(), key=lambda r: (r.clipped_start, r.span_id))
    ]


def trace_document(analysis: TraceAnalysis) -> dict[str, Any]:
    """One trace's entry in the JSON document, without its spans."""
    return _trace_dict(analysis, spans=False)


def _trace_dict(analysis: TraceAnalysis, spans: bool) -> dict[str, Any]:
    origin = analysis.start_ns
    wall = analysis.wall_ns
    return {
        "trace_id": analysis.trace_id,
        "service": analysis.service,
        "notes": list(analysis.notes),
        "agents": [
            {
                "span_id": a.span_id,
                "name": a.name,
                "parent_agent_id": a.parent_agent_id,
                "start_ms": _ms(a.start_ns - analysis.start_ns),
                "wall_ms": _ms(a.wall_ns),
                "llm_calls": a.llm_calls,
                "tool_calls": a.tool_calls,
                "phases_ms": {phase: _ms(ns) for phase, ns in a.phases.items()},
            }
            for a in analysis.agents
        ],
        "span_count": len(analysis.tree),
        "start_unix_ns": origin,
        "wall_ms": _ms(wall),
        "phases_ms": {phase: _ms(ns) for phase, ns in analysis.phases.items()},
        "steps": steps(analysis),
        "critical_path": [
            {
                "span_id": s.span_id,
                "name": s.name,
                "start_ms": _ms(s.start_ns - origin),
                "end_ms": _ms(s.end_ns - origin),
                "own": s.own,
            }
            for s in analysis.critical_path
        ],
        "llm_calls": [
            {
                "index": c.index,
                "span_id": c.span_id,
                "model": c.model,
                "route_step": c.step,
                "start_ms": _ms(c.start_ns - origin),
                "duration_ms": _ms(c.duration_ns),
                "ttft_ms": None if c.ttft_ns is None else _ms(c.ttft_ns),
                "thinking_ms": None if c.thinking_ns is None else _ms(c.thinking_ns),
                "first_text_ms": None if c.first_text_ns is None else _ms(c.first_text_ns),
                "output_tokens": c.output_tokens,
                "streamed": c.streamed,
                "route_role": c.route_role,
                "route_outcome": c.route_outcome,
            }
            for c in analysis.llm_calls
        ],
        "batches": [{**_batch_step(b), "index": b.index} for b in analysis.batches],
        "levers": {
            "cache_hits": analysis.cache_hits,
            "cache_saved_ms": _ms(analysis.cache_saved_ns),
            "parallel_saved_ms": _ms(analysis.parallel_saved_ns),
        },
        "suggestions": [
            {
                "kind": s.kind,
                "title": s.title,
                "explanation": s.explanation,
                "saving_ms": _ms(s.saving_ns),
                "perceived": s.perceived,
                "assumes": s.assumes,
                "total_after_ms": _ms(wall if s.perceived else wall - s.saving_ns),
                "target": list(s.target),
            }
            for s in analysis.suggestions
        ],
    } | ({"spans": _span_dicts(analysis)} if spans else {})


def to_dict(anatomy: Anatomy, *, spans: bool = False) -> dict[str, Any]:
    """The versioned document; ``spans`` adds every span with its phase and attributes to each trace."""
    if anatomy.figures is not None:
        if spans:
            raise ConfigurationError(
                f"--spans: the spans of {len(anatomy):,} traces are not kept for a report of this size; ask for "
                "one trace (--trace-id) with its spans",
                setting="spans",
                value=True,
            )
        traces = [json.loads(f.document_json) for f in anatomy.figures]
    else:
        traces = [_trace_dict(a, spans) for a in anatomy.traces]
    document: dict[str, Any] = {"schema": SCHEMA, "traces": traces}
    if len(anatomy) > 1:
        document["summary"] = _summary(anatomy)
    return document


def _summary(anatomy: Anatomy) -> dict[str, Any]:
    shape, count = anatomy.common_path()
    return {
        "trace_count": len(anatomy),
        "phases_ms": {
            phase: {"p50": _ms(s.p50_ns), "p95": _ms(s.p95_ns), "max": _ms(s.max_ns)}
            for phase, s in anatomy.phase_stats().items()
        },
        "common_path": {"steps": list(shape), "traces": count},
        "suggestions": [
            {
                "kind": s.kind,
                "title": s.title,
                "traces": s.traces,
                "total_saving_ms": _ms(s.total_saving_ns),
                "mean_saving_ms": _ms(s.mean_saving_ns),
            }
            for s in anatomy.aggregate_suggestions()
        ],
    }


def json_text(anatomy: Anatomy, *, spans: bool = False) -> str:
    if anatomy.figures is None or spans:
        return json.dumps(to_dict(anatomy, spans=spans), indent=2, ensure_ascii=False)
    # A large report: each trace's entry is kept as JSON text already; joined, never parsed back.
    head = json.dumps({"schema": SCHEMA}, ensure_ascii=False)[:-1]
    traces = ",\n".join(f.document_json for f in anatomy.figures)
    summary = json.dumps(_summary(anatomy), indent=2, ensure_ascii=False) if len(anatomy) > 1 else None
    tail = f',\n"summary": {summary}' if summary is not None else ""
    return f'{head}, "traces": [\n{traces}\n]{tail}}}\n'


def table_row(trace: dict[str, Any]) -> dict[str, Any]:
    """What the many-trace table shows of one trace's entry."""
    calls = trace["llm_calls"]
    if not calls:
        ttft = "no LLM"
    elif calls[0]["ttft_ms"] is not None:
        ttft = _n(calls[0]["ttft_ms"])
    else:
        ttft = "not streamed" if calls[0]["streamed"] is False else "not recorded"
    top = trace["suggestions"][0] if trace["suggestions"] else None
    return {
        "trace_id": trace["trace_id"],
        "service": trace["service"],
        "start_unix_ns": trace["start_unix_ns"],
        "wall_ms": trace["wall_ms"],
        "llm_calls": len(calls),
        "ttft": ttft,
        "top": f"{top['title']} ({_n(top['saving_ms'])})" if top else "-",
    }


# --- text ----------------------------------------------------------------------------------------------


class _Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text


def _color_wanted(color: bool | None) -> bool:
    if color is not None:
        return color
    if os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def _n(ms: float) -> str:
    return f"{ms:,.0f} ms"


def _step_lines(step: dict[str, Any], style: _Style, indent: str) -> list[str]:
    kind = step["kind"]
    if kind == "llm":
        model = f" · {step['model']}" if step.get("model") else ""
        routed = f" · step {step['route_step']}" if step.get("route_step") else ""
        head = f"[{step['label']}{model}: {_n(step['duration_ms'])}]"
        lines = [f"{indent}↓ {style(head, '36')}{routed}"]
        if step.get("route_reason"):
            lines.append(f"{indent}    [routed: {step['route_reason']}, {step['attempts']} attempt(s)]")
        if step["ttft_ms"] is not None and step.get("thinking_ms"):
            lines.append(
                f"{indent}    [TTFT: {_n(step['ttft_ms'])} → thinking {_n(step['thinking_ms'])} → the answer starts]"
            )
        elif step["ttft_ms"] is not None:
            lines.append(f"{indent}    [TTFT: {_n(step['ttft_ms'])} → streaming starts]")
        elif step["streamed"]:
            lines.append(f"{indent}    [streamed; time to first token not recorded]")
        elif step["streamed"] is None:
            lines.append(f"{indent}    [whether it streamed, and its first token, not recorded]")
        else:
            lines.append(f"{indent}    [not streamed: the user waits {_n(step['duration_ms'])} for the first word]")
        return lines
    if kind == "tools":
        tools = step["tools"]
        if step["mode"] == "single":
            body = f"Tool call: {tools[0]['name']} {_n(tools[0]['duration_ms'])}"
        elif step["mode"] == "sequential":
            body = f"Tool calls (sequential): {' + '.join(_n(t['duration_ms']) for t in tools)} = {_n(step['sum_ms'])}"
        elif step["mode"] == "parallel":
            body = (
                f"Tool calls (parallel): max({', '.join(_n(t['duration_ms']) for t in tools)}) = {_n(step['max_ms'])}"
            )
        else:
            body = f"Tool calls (partly parallel): {len(tools)} tools in {_n(step['wall_ms'])}"
        names = ", ".join(t["name"] for t in tools)
        return [f"{indent}↓ {style(f'[{body}]', '33')}  {style(names, '2')}"]
    if kind == "cache":
        outcome = (
            f"hit, saved {_n(step['saved_ms'])}"
            if step["hit"] and step.get("saved_ms")
            else ("hit" if step["hit"] else "miss")
        )
        head = f"[{step['label']}: {outcome}]"
        return [f"{indent}↓ {style(head, '32')}"]
    if kind == "outside":
        head = f"[outside the agent · {step['label']}: {_n(step['duration_ms'])}]"
        return [f"{indent}↓ {style(head, '2')}"]
    if kind == "span":
        lines = [f"{indent}↓ [{step['label']}: {_n(step['duration_ms'])}]"]
        for inner in step.get("inner", []):
            lines.extend(_step_lines(inner, style, indent + "    "))
        return lines
    return [f"{indent}↓ [{step['label']}: {_n(step['duration_ms'])}]"]


def _agents_lines(agents: list[dict[str, Any]]) -> list[str]:
    """One line per agent, sub-agents indented under theirs, with where its own time went most."""
    depth: dict[str, int] = {}
    lines = [f"Agents in this trace ({len(agents)})"]
    for agent in agents:
        level = depth.get(agent["parent_agent_id"], -1) + 1 if agent["parent_agent_id"] else 0
        depth[agent["span_id"]] = level
        phases = {p: ms for p, ms in agent["phases_ms"].items() if p != PHASE_GAP}
        top = max(phases, key=lambda p: phases[p])
        lines.append(
            f"  {'  ' * level}{agent['name']}: {_n(agent['wall_ms'])} from {_n(agent['start_ms'])} · "
            f"{agent['llm_calls']} LLM call(s), {agent['tool_calls']} tool call(s) · most in "
            f"{PHASE_LABELS[top]} ({_n(phases[top])})"
        )
    return [*lines, ""]


def _trace_text(trace: dict[str, Any], style: _Style, suggestions_limit: int = 5) -> list[str]:
    wall = trace["wall_ms"]
    service = f" · {trace['service']}" if trace.get("service") else ""
    lines = [
        style(f"Latency anatomy · trace {trace['trace_id']}{service} · {trace['span_count']} spans", "1"),
        "User request",
    ]
    lines.extend(f"  ({note})" for note in trace.get("notes", []))
    for step in trace["steps"]:
        lines.extend(_step_lines(step, style, "  "))
    lines.append("  " + "─" * 44)
    lines.append("  " + style(f"Total: {_n(wall)}", "1"))
    lines.append("")
    if trace.get("agents"):
        lines.extend(_agents_lines(trace["agents"]))
    lines.append("Where the time went")
    for phase, label in PHASE_LABELS.items():
        value = trace["phases_ms"][phase]
        if not value and phase not in _SHOWN_WHEN_ZERO:
            continue
        share = value / wall * 100 if wall else 0.0
        bar = "█" * round(share / 4)
        lines.append(f"  {label:<33} {_n(value):>10}  {share:5.1f} %  {bar}")
    levers = trace["levers"]
    saved = []
    if levers["parallel_saved_ms"] >= 1:
        saved.append(f"parallel tools saved {_n(levers['parallel_saved_ms'])}")
    if levers["cache_hits"]:
        saved.append(f"{levers['cache_hits']} cache hit(s) saved {_n(levers['cache_saved_ms'])}")
    if saved:
        lines.append("Levers at work: " + " · ".join(saved))
    lines.append("")
    if trace["suggestions"]:
        lines.append("What would save the most")
        for number, suggestion in enumerate(trace["suggestions"][:suggestions_limit], start=1):
            saving, after = _n(suggestion["saving_ms"]), _n(suggestion["total_after_ms"])
            if suggestion["perceived"]:
                head = f"{number}. {suggestion['title']}: the answer starts to appear {saving} sooner"
            else:
                head = f"{number}. {suggestion['title']}: saves {saving} → {after}"
            lines.append("  " + style(head, "32"))
            lines.append(f"     {suggestion['explanation']}")
            if suggestion.get("assumes"):
                lines.append(style(f"     Assumes {suggestion['assumes']}.", "2"))
    else:
        lines.append(
            "What would save the most: nothing this trace shows (no sequential tools, repeated calls, "
            "faster models seen, or unstreamed answers)."
        )
    return lines


TABLE_ROWS: Final = 50
"""Traces listed in a many-trace text report; beyond that, the slowest, and the report says so."""


def _table_rows(anatomy: Anatomy) -> list[dict[str, Any]]:
    """The rows of the many-trace table: every trace, or the ``TABLE_ROWS`` slowest."""
    if anatomy.figures is not None:
        slowest = sorted(anatomy.figures, key=lambda f: f.wall_ns, reverse=True)[:TABLE_ROWS]
        return [table_row(json.loads(f.document_json)) for f in slowest]
    analyses = sorted(anatomy.traces, key=lambda a: a.wall_ns, reverse=True)[:TABLE_ROWS]
    return [table_row(_trace_dict(a, False)) for a in analyses]


def _traces_table(shown: list[dict[str, Any]], count: int, style: _Style) -> list[str]:
    """The many-trace table, from ``table_row`` rows."""
    head = f"Traces ({count:,})"
    if count > len(shown):
        head = f"Traces: the {len(shown)} slowest of {count:,} (--format json lists every one)"
    lines = [
        style(head, "1"),
        f"  {'trace id':<16} {'service':<16} {'start (UTC)':<12} {'wall':>10} {'LLM':>4} {'1st token':>12}"
        "  top suggestion",
    ]
    for row in shown:
        start = datetime.datetime.fromtimestamp(row["start_unix_ns"] / 1e9, datetime.UTC).strftime("%H:%M:%S.%f")[:12]
        lines.append(
            f"  {row['trace_id'][:16]:<16} {(row['service'] or '-')[:16]:<16} {start:<12} "
            f"{_n(row['wall_ms']):>10} {row['llm_calls']:>4} {row['ttft']:>12}  {row['top']}"
        )
    return [*lines, ""]


def _summary_text(summary: dict[str, Any], style: _Style) -> list[str]:
    lines = [
        style(f"Latency anatomy of {summary['trace_count']:,} traces", "1"),
        f"  {'':<33} {'p50':>10} {'p95':>10} {'max':>10}",
    ]
    labels = {"total": "total", **PHASE_LABELS}
    for phase, label in labels.items():
        stats = summary["phases_ms"][phase]
        lines.append(f"  {label:<33} {_n(stats['p50']):>10} {_n(stats['p95']):>10} {_n(stats['max']):>10}")
    common = summary["common_path"]
    lines.append("")
    lines.append(f"Most common critical path ({common['traces']} of {summary['trace_count']} traces):")
    lines.append("  " + " → ".join(common["steps"]) if common["steps"] else "  (no steps)")
    lines.append("")
    if summary["suggestions"]:
        lines.append("What would save the most, over all traces")
        for number, s in enumerate(summary["suggestions"][:8], start=1):
            lines.append(
                "  "
                + style(
                    f"{number}. {s['title']}: in {s['traces']} traces, {_n(s['mean_saving_ms'])} "
                    f"on average ({_n(s['total_saving_ms'])} in all)",
                    "32",
                )
            )
    return lines


def text(anatomy: Anatomy, *, color: bool | None = None) -> str:
    style = _Style(_color_wanted(color))
    if len(anatomy) > 1:
        lines = _traces_table(_table_rows(anatomy), len(anatomy), style) + _summary_text(_summary(anatomy), style)
        return "\n".join(lines) + "\n"
    return "\n".join(_trace_text(to_dict(anatomy)["traces"][0], style)) + "\n"


def html(anatomy: Anatomy) -> str:
    from .render_html import MAX_TRACES, page

    shown = anatomy.slowest(MAX_TRACES) if len(anatomy) > MAX_TRACES else anatomy
    document = to_dict(shown, spans=True)
    return page({**document, "trace_count": len(anatomy)})
