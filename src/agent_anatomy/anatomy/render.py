"""The anatomy as a document: ``to_dict()``, the JSON, and what the text (``render_text``) and the page
(``render_html``) are built from, so all three show the same numbers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from .. import semconv
from ..errors import ConfigurationError
from .analysis import TraceAnalysis
from .batches import Batch
from .formatting import ms
from .model import SpanRecord
from .phases import PHASE_LABELS, SHOWN_WHEN_ZERO
from .steps import step_items

if TYPE_CHECKING:
    from ._anatomy import Anatomy

__all__ = [
    "PHASE_LABELS",
    "SCHEMA",
    "SHOWN_WHEN_ZERO",
    "html",
    "json_text",
    "steps",
    "summary_dict",
    "table_row",
    "trace_dict",
    "trace_document",
    "trace_documents",
    "trace_rows",
    "to_dict",
]

SCHEMA: Final = "agent-anatomy/anatomy@1"


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


def _cache_of(analysis: TraceAnalysis, tool_span_id: str) -> dict[str, Any]:
    """A tool's cache lookup, when one ran inside it: whether it hit and what it saved."""
    top = analysis.tree.spans.get(tool_span_id)
    if top is None:
        return {}
    for span in analysis.tree.descendants(top):
        if span.operation == semconv.OPERATION_CACHE_LOOKUP:
            saved = span.attributes.get(semconv.ANATOMY_CACHE_SAVED_TIME)
            return {
                "cache_hit": bool(span.attributes.get(semconv.ANATOMY_CACHE_HIT)),
                "cache_saved_ms": _ms(saved * 1e9) if isinstance(saved, int | float) else None,
            }
    return {}


def _batch_step(analysis: TraceAnalysis, batch: Batch) -> dict[str, Any]:
    return {
        "kind": "tools",
        "label": f"Tool batch {batch.index}",
        "mode": batch.mode,
        "tools": [
            {
                "name": t.name,
                "span_id": t.span_id,
                "duration_ms": _ms(t.duration_ns),
                "error": t.error,
                **_cache_of(analysis, t.span_id),
            }
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
                result.append(_batch_step(analysis, batch))
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
            inner += [_batch_step(analysis, b) for b in analysis.batches if any(t.span_id in ids for t in b.tools)]
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
    return trace_dict(analysis, spans=False)


def trace_dict(analysis: TraceAnalysis, spans: bool) -> dict[str, Any]:
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
        "batches": [{**_batch_step(analysis, b), "index": b.index} for b in analysis.batches],
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
        traces = [trace_dict(a, spans) for a in anatomy.traces]
    document: dict[str, Any] = {"schema": SCHEMA, "traces": traces}
    if len(anatomy) > 1:
        document["summary"] = summary_dict(anatomy)
    return document


def summary_dict(anatomy: Anatomy) -> dict[str, Any]:
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
    summary = json.dumps(summary_dict(anatomy), indent=2, ensure_ascii=False) if len(anatomy) > 1 else None
    tail = f',\n"summary": {summary}' if summary is not None else ""
    return f'{head}, "traces": [\n{traces}\n]{tail}}}\n'


def trace_documents(anatomy: Anatomy) -> list[dict[str, Any]]:
    """Every trace's entry of the document, without spans (of a large report too, from its figures)."""
    if anatomy.figures is not None:
        return [json.loads(f.document_json) for f in anatomy.figures]
    return [trace_dict(a, False) for a in anatomy.traces]


def trace_rows(anatomy: Anatomy) -> list[dict[str, Any]]:
    """``table_row`` of every trace, in the order they started (``agent-anatomy list``)."""
    return _rows(trace_documents(anatomy))


def _rows(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(map(table_row, documents), key=lambda row: (row["start_unix_ns"], row["trace_id"]))


def table_row(trace: dict[str, Any]) -> dict[str, Any]:
    """What the many-trace table shows of one trace's entry."""
    calls = trace["llm_calls"]
    if not calls:
        ttft = "no LLM"
    elif calls[0]["ttft_ms"] is not None:
        ttft = ms(calls[0]["ttft_ms"])
    else:
        ttft = "not streamed" if calls[0]["streamed"] is False else "not recorded"
    top = trace["suggestions"][0] if trace["suggestions"] else None
    return {
        "trace_id": trace["trace_id"],
        "service": trace["service"],
        "start_unix_ns": trace["start_unix_ns"],
        "wall_ms": trace["wall_ms"],
        "llm_calls": len(calls),
        "ttft_ms": calls[0]["ttft_ms"] if calls else None,
        "ttft": ttft,
        "top": f"{top['title']} ({ms(top['saving_ms'])})" if top else "-",
    }


def html(anatomy: Anatomy) -> str:
    """The page: every trace drawn when there are at most ``MAX_TRACES``, else the slowest; several get a
    summary (with every trace's wall time) and a list of them."""
    from .render_html import MAX_TRACES, page

    shown = anatomy.slowest(MAX_TRACES) if len(anatomy) > MAX_TRACES else anatomy
    document = to_dict(shown, spans=True)
    if len(anatomy) == 1:
        return page(document)
    if shown is anatomy:  # the document already holds every trace and their summary
        rows = _rows(document["traces"])
    else:
        document["summary"] = summary_dict(anatomy)
        rows = trace_rows(anatomy)
    numbers = anatomy.figures if anatomy.figures is not None else anatomy.traces
    return page(document, trace_count=len(anatomy), walls_ms=[t.wall_ns / 1e6 for t in numbers], rows=rows)
