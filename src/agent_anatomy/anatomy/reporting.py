"""From analyses to the typed report: each trace's ``TraceReport`` (the kinds of its steps decided here), the
figures a many-trace summary is computed from, the ``Summary`` itself, and the rows of a table of traces.

The renderers format what this builds and compute nothing about the traces; a large report keeps each
trace's report and figures without its spans (``large``).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from .. import semconv
from .aggregate import aggregate_suggestions, common_path, path_shape, phase_stats
from .analysis import TraceAnalysis
from .batches import Batch
from .calls import LLMCall
from .formatting import ms
from .llm_batches import LLMBatch
from .model import SpanRecord
from .normalise import error_of
from .phases import PHASES
from .report import (
    ABSENT,
    SCHEMA,
    AgentEntry,
    BatchEntry,
    CacheStep,
    CommonPath,
    Failure,
    Levers,
    LLMBatchEntry,
    LLMBatchStep,
    LLMCallEntry,
    LLMStep,
    PathSegment,
    PhaseSummary,
    PlainStep,
    Report,
    SpanEntry,
    SpanStep,
    Step,
    SuggestionEntry,
    Summary,
    SummarySuggestion,
    ToolEntry,
    ToolsStep,
    TraceReport,
    TraceRow,
)
from .steps import step_items

__all__ = [
    "SuggestionFigure",
    "TraceFigures",
    "figures_of",
    "report_of",
    "row_of",
    "summary_of",
    "trace_report",
]


def _ms(ns: int | float) -> float:
    return round(ns / 1e6, 3)


# --- a trace's steps ------------------------------------------------------------------------------------------


def _batch_of(analysis: TraceAnalysis, span_ids: AbstractSet[str]) -> Batch | None:
    for batch in analysis.batches:
        if any(tool.span_id in span_ids for tool in batch.tools):
            return batch
    return None


def _llm_step(analysis: TraceAnalysis, top: SpanRecord) -> LLMStep | None:
    ids = analysis.tree.subtree_ids(top)
    calls = [c for c in analysis.llm_calls if c.span_id in ids]
    if not calls:
        return None
    used = [c for c in calls if c.route_outcome != semconv.ROUTE_OUTCOME_LOST and c.end_ns > c.start_ns]
    reason = top.attributes.get(semconv.ANATOMY_ROUTE_REASON) if top.operation == semconv.OPERATION_ROUTE else ABSENT
    return _call_step(analysis, (used or calls)[-1], top.clipped_end - top.clipped_start, len(calls), reason)


def _call_step(
    analysis: TraceAnalysis, call: LLMCall, duration_ns: int, attempts: int = 1, route_reason: Any = ABSENT
) -> LLMStep:
    return LLMStep(
        kind="llm",
        label=f"LLM call {call.index}",
        span_id=call.span_id,
        model=call.model,
        route_step=call.step,
        duration_ms=_ms(duration_ns),
        ttft_ms=None if call.ttft_ns is None else _ms(call.ttft_ns),
        thinking_ms=None if call.thinking_ns is None else _ms(call.thinking_ns),
        streamed=call.streamed,
        attempts=attempts,
        route_reason=route_reason,
        estimated_ttft_ms=ABSENT if call.estimated_ttft_ns is None else _ms(call.estimated_ttft_ns),
        error=call.error or ABSENT,
        **_served_fields(analysis, call),
    )


def _served_fields(analysis: TraceAnalysis, call: LLMCall) -> dict[str, Any]:
    """How a call was served, as its step and its entry say it: its prompt cache's use and its speed."""
    fields: dict[str, Any] = {"speed": call.speed or ABSENT}
    use = analysis.prompt_cache.get(call.span_id)
    if use is not None:
        if use.read_tokens:
            fields["prompt_cache_read_tokens"] = use.read_tokens
            fields["prompt_cache_saved_ms"] = None if use.saved_ns is None else _ms(use.saved_ns)
        if use.miss_reason:
            fields["prompt_cache_miss"] = use.miss_reason
    return fields


def _llm_batch_fields(analysis: TraceAnalysis, batch: LLMBatch) -> dict[str, Any]:
    """What an LLM batch's step and its entry in the trace's batches say of it (each call as the analysis has it
    now: with its estimate, once judged)."""
    current = {c.span_id: c for c in analysis.llm_calls}
    calls = [current.get(c.span_id, c) for c in batch.calls]
    return {
        "kind": "llms",
        "label": f"LLM calls {', '.join(str(c.index) for c in calls)}",
        "mode": batch.mode,
        "calls": tuple(_call_step(analysis, c, c.duration_ns) for c in calls),
        "wall_ms": _ms(batch.wall_ns),
        "sum_ms": _ms(batch.sum_ns),
        "max_ms": _ms(batch.max_ns),
    }


def _tool_entry(analysis: TraceAnalysis, span_id: str, name: str, duration_ns: int, error: bool) -> ToolEntry:
    """A tool of a batch, with its cache lookup's outcome when one ran inside it."""
    top = analysis.tree.spans.get(span_id)
    for span in analysis.tree.descendants(top) if top is not None else ():
        if span.operation == semconv.OPERATION_CACHE_LOOKUP:
            saved = span.attributes.get(semconv.ANATOMY_CACHE_SAVED_TIME)
            return ToolEntry(
                name=name,
                span_id=span_id,
                duration_ms=_ms(duration_ns),
                error=error,
                cache_hit=bool(span.attributes.get(semconv.ANATOMY_CACHE_HIT)),
                cache_saved_ms=_ms(saved * 1e9) if isinstance(saved, int | float) else None,
            )
    return ToolEntry(name=name, span_id=span_id, duration_ms=_ms(duration_ns), error=error)


def _tools_fields(analysis: TraceAnalysis, batch: Batch) -> dict[str, Any]:
    """What a batch's step and its entry in the trace's batches say of it."""
    return {
        "kind": "tools",
        "label": f"Tool batch {batch.index}",
        "mode": batch.mode,
        "tools": tuple(_tool_entry(analysis, t.span_id, t.name, t.duration_ns, t.error) for t in batch.tools),
        "wall_ms": _ms(batch.wall_ns),
        "sum_ms": _ms(batch.sum_ns),
        "max_ms": _ms(batch.max_ns),
    }


def _steps(analysis: TraceAnalysis, batches: dict[int, dict[str, Any]]) -> tuple[Step, ...]:
    """The agent's steps along the critical path, each of its kind: LLM calls, tool batches (``batches``: each
    one's ``_tools_fields``, by index), lookups, the rest."""
    result: list[Step] = []
    shown_batches: set[int] = set()
    batch_of_call = {c.span_id: b for b in analysis.llm_batches for c in b.calls}
    for item in step_items(analysis):
        top = item.span
        if top is None:
            if item.end_ns - item.start_ns >= 1_000_000:
                result.append(PlainStep(kind=item.kind, label=item.label, duration_ms=_ms(item.end_ns - item.start_ns)))  # type: ignore[arg-type]
            continue
        ids = analysis.tree.subtree_ids(top)
        operation = top.operation
        duration = _ms(top.clipped_end - top.clipped_start)
        if item.kind == "outside":
            result.append(PlainStep(kind="outside", label=top.name, duration_ms=duration))
        elif (top.is_llm or operation == semconv.OPERATION_ROUTE) and (step := _llm_step(analysis, top)):
            concurrent = batch_of_call.get(step.span_id)
            if concurrent is None:
                result.append(step)
            elif -concurrent.index not in shown_batches:  # (tool batches by their index, LLM batches negated)
                shown_batches.add(-concurrent.index)
                result.append(LLMBatchStep(**_llm_batch_fields(analysis, concurrent)))
        elif (batch := _batch_of(analysis, ids)) is not None and operation in (
            semconv.OPERATION_EXECUTE_TOOL,
            semconv.OPERATION_TOOL_BATCH,
        ):
            if batch.index not in shown_batches:
                shown_batches.add(batch.index)
                result.append(ToolsStep(**batches[batch.index]))
        elif operation == semconv.OPERATION_CACHE_LOOKUP:
            saved = top.attributes.get(semconv.ANATOMY_CACHE_SAVED_TIME)
            result.append(
                CacheStep(
                    kind="cache",
                    label=top.name,
                    hit=bool(top.attributes.get(semconv.ANATOMY_CACHE_HIT)),
                    duration_ms=duration,
                    saved_ms=_ms(saved * 1e9) if isinstance(saved, int | float) else None,
                )
            )
        else:
            inner: list[LLMStep | ToolsStep] = [s for s in (_llm_step(analysis, top),) if s]
            inner += [ToolsStep(**batches[b.index]) for b in analysis.batches if any(t.span_id in ids for t in b.tools)]
            result.append(SpanStep(kind="span", label=top.name, duration_ms=duration, inner=tuple(inner)))
    return tuple(result)


# --- a trace ----------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else list(value)


def _span_entries(analysis: TraceAnalysis) -> tuple[SpanEntry, ...]:
    origin = analysis.start_ns
    phase_of = analysis.span_phases()
    return tuple(
        SpanEntry(
            span_id=r.span_id,
            parent_id=r.parent_id if r.parent_id in analysis.tree.spans else None,
            name=r.name,
            start_ms=_ms(r.clipped_start - origin),
            end_ms=_ms(r.clipped_end - origin),
            phase=phase_of[r.span_id],
            status=r.status,
            service=r.service,
            attributes={k: _plain(v) for k, v in r.attributes.items()},
        )
        for r in sorted(analysis.tree.spans.values(), key=lambda r: (r.clipped_start, r.span_id))
    )


_FAILURE_ROLES: Final = frozenset(
    {semconv.OPERATION_INVOKE_AGENT, semconv.OPERATION_INVOKE_WORKFLOW, semconv.OPERATION_CHAT}
)


def _failures(analysis: TraceAnalysis) -> tuple[Failure, ...]:
    """The failed spans a reader must know of: roots, agents, workflows, LLM calls, tools (a second record of
    one of them, once)."""
    origin = analysis.start_ns
    found = []
    for span in sorted(analysis.tree.spans.values(), key=lambda s: (s.clipped_start, s.span_id)):
        if span.span_id in analysis.duplicate_of or not (
            span.parent_id not in analysis.tree.spans or span.is_tool or span.operation in _FAILURE_ROLES
        ):
            continue
        error = error_of(span.status, span.attributes, span.events)
        if error is not None:
            found.append(
                Failure(
                    span_id=span.span_id,
                    name=span.name,
                    error=error,
                    start_ms=_ms(span.clipped_start - origin),
                    duration_ms=_ms(span.clipped_end - span.clipped_start),
                )
            )
    return tuple(found)


def trace_report(analysis: TraceAnalysis, *, spans: bool = False) -> TraceReport:
    """One trace's report; ``spans`` adds every span with its phase and attributes."""
    origin = analysis.start_ns
    wall = analysis.wall_ns
    batches = {b.index: _tools_fields(analysis, b) for b in analysis.batches}
    return TraceReport(
        trace_id=analysis.trace_id,
        service=analysis.service,
        notes=tuple(analysis.notes),
        agents=tuple(
            AgentEntry(
                span_id=a.span_id,
                name=a.name,
                parent_agent_id=a.parent_agent_id,
                start_ms=_ms(a.start_ns - analysis.start_ns),
                wall_ms=_ms(a.wall_ns),
                llm_calls=a.llm_calls,
                tool_calls=a.tool_calls,
                phases_ms={phase: _ms(ns) for phase, ns in a.phases.items()},
            )
            for a in analysis.agents
        ),
        span_count=len(analysis.tree),
        start_unix_ns=origin,
        wall_ms=_ms(wall),
        phases_ms={phase: _ms(ns) for phase, ns in analysis.phases.items()},
        steps=_steps(analysis, batches),
        critical_path=tuple(
            PathSegment(
                span_id=s.span_id,
                name=s.name,
                start_ms=_ms(s.start_ns - origin),
                end_ms=_ms(s.end_ns - origin),
                own=s.own,
            )
            for s in analysis.critical_path
        ),
        llm_calls=tuple(
            LLMCallEntry(
                index=c.index,
                span_id=c.span_id,
                model=c.model,
                route_step=c.step,
                start_ms=_ms(c.start_ns - origin),
                duration_ms=_ms(c.duration_ns),
                ttft_ms=None if c.ttft_ns is None else _ms(c.ttft_ns),
                thinking_ms=None if c.thinking_ns is None else _ms(c.thinking_ns),
                first_text_ms=None if c.first_text_ns is None else _ms(c.first_text_ns),
                output_tokens=c.output_tokens,
                streamed=c.streamed,
                route_role=c.route_role,
                route_outcome=c.route_outcome,
                estimated_ttft_ms=ABSENT if c.estimated_ttft_ns is None else _ms(c.estimated_ttft_ns),
                error=c.error or ABSENT,
                first_content=c.first_content or ABSENT,
                **_served_fields(analysis, c),
            )
            for c in analysis.llm_calls
        ),
        batches=tuple(BatchEntry(**batches[b.index], index=b.index) for b in analysis.batches),
        levers=Levers(
            cache_hits=analysis.cache_hits,
            cache_saved_ms=_ms(analysis.cache_saved_ns),
            parallel_saved_ms=_ms(analysis.parallel_saved_ns),
            parallel_llm_saved_ms=_ms(analysis.llm_overlap_saved_ns) if analysis.llm_batches else ABSENT,
            prompt_cache_saved_ms=(
                _ms(sum(u.saved_ns or 0 for u in analysis.prompt_cache.values()))
                if any(u.read_tokens for u in analysis.prompt_cache.values())
                else ABSENT
            ),
        ),
        suggestions=tuple(
            SuggestionEntry(
                kind=s.kind,
                title=s.title,
                explanation=s.explanation,
                saving_ms=_ms(s.saving_ns),
                perceived=s.perceived,
                assumes=s.assumes,
                total_after_ms=_ms(wall if s.perceived else wall - s.saving_ns),
                target=tuple(s.target),
                evidence=s.evidence,
                basis=s.basis,
                lever=s.lever or ABSENT,
            )
            for s in analysis.suggestions
        ),
        nothing_to_suggest=analysis.nothing_to_suggest or ABSENT,
        failures=_failures(analysis) or ABSENT,
        llm_batches=tuple(
            LLMBatchEntry(**_llm_batch_fields(analysis, b), index=b.index, overlap_saved_ms=_ms(b.overlap_saved_ns))
            for b in analysis.llm_batches
        )
        or ABSENT,
        spans=_span_entries(analysis) if spans else ABSENT,
    )


# --- many traces --------------------------------------------------------------------------------------------


class SuggestionFigure(NamedTuple):
    """What the summary adds up of one suggestion."""

    kind: str
    title: str
    saving_ns: int


@dataclass(frozen=True, slots=True)
class TraceFigures:
    """What a many-trace summary needs of one trace, in nanoseconds as the analysis has them (the report's
    milliseconds are rounded): small, as thousands are kept."""

    trace_id: str
    start_ns: int
    wall_ns: int
    phases: Mapping[str, int]
    """Nanoseconds per phase, in the order of ``PHASES``."""
    suggestions: tuple[SuggestionFigure, ...]
    shape: tuple[str, ...]
    """The critical path's steps by name (``aggregate.path_shape``)."""
    service: str | None = None
    llm_calls: int = 0
    agent: bool = False
    """Whether an agent or workflow span holds the trace's work."""
    side: bool = False
    """A side trace: no LLM call and no tool call (counting tokens, listing models, a lone embedding)."""


_HOLDERS: Final = frozenset({semconv.OPERATION_INVOKE_AGENT, semconv.OPERATION_INVOKE_WORKFLOW})


def figures_of(analysis: TraceAnalysis) -> TraceFigures:
    return TraceFigures(
        trace_id=analysis.trace_id,
        start_ns=analysis.start_ns,
        wall_ns=analysis.wall_ns,
        phases={phase: analysis.phases[phase] for phase in PHASES},
        suggestions=tuple(SuggestionFigure(s.kind, s.title, s.saving_ns) for s in analysis.suggestions),
        shape=path_shape(analysis),
        service=analysis.service,
        llm_calls=len(analysis.llm_calls),
        agent=any(s.operation in _HOLDERS for s in analysis.tree.spans.values()),
        side=not analysis.llm_calls and not analysis.batches,
    )


def _lost_context(figures: Sequence[TraceFigures]) -> str | None:
    """One line when traces of a single LLM call ran while an agent trace of their service did: their trace
    context was lost on the way (a thread pool, a callback), so the agent's trace misses them."""
    hosts: dict[str | None, list[TraceFigures]] = {}
    for host in sorted((f for f in figures if f.agent), key=lambda f: f.start_ns):
        hosts.setdefault(host.service, []).append(host)
    longest = {service: max(h.wall_ns for h in found) for service, found in hosts.items()}
    starts = {service: [h.start_ns for h in found] for service, found in hosts.items()}
    lost: dict[str, int] = {}
    for orphan in figures:
        if orphan.agent or orphan.llm_calls != 1 or orphan.service not in hosts:
            continue
        found, end = hosts[orphan.service], orphan.start_ns + orphan.wall_ns
        # the hosts that started before it, back to the longest one's reach: a few, however many traces
        index = bisect.bisect_right(starts[orphan.service], orphan.start_ns) - 1
        while index >= 0 and found[index].start_ns >= orphan.start_ns - longest[orphan.service]:
            host = found[index]
            if end <= host.start_ns + host.wall_ns:
                lost[host.trace_id] = lost.get(host.trace_id, 0) + 1
                break
            index -= 1
    if not lost:
        return None
    count = sum(lost.values())
    traces = "traces" if count != 1 else "trace"
    named = f"agent trace{'s' if len(lost) > 1 else ''} {', '.join(trace_id[:16] for trace_id in lost)}"
    return (
        f"{count:,} {traces} of one LLM call ran inside {named} of the same service: their trace context was lost "
        "on the way (a thread pool, a callback); configure() carries it into threads started after it, and "
        "bind_context() carries it anywhere"
    )


def summary_of(figures: Sequence[TraceFigures]) -> Summary:
    """p50 / p95 / max per phase (and ``total``), the commonest critical-path shape, suggestions summed up; side
    traces (no LLM call, no tool) are counted apart and left out of the figures, unless all are."""
    main = [f for f in figures if not f.side] or list(figures)
    side = len(figures) - len(main)
    shape, traces = common_path(main)
    note = _lost_context(figures)
    return Summary(
        trace_count=len(figures),
        phases_ms={
            phase: PhaseSummary(p50=_ms(s.p50_ns), p95=_ms(s.p95_ns), max=_ms(s.max_ns))
            for phase, s in phase_stats(main).items()
        },
        common_path=CommonPath(steps=shape, traces=traces),
        suggestions=tuple(
            SummarySuggestion(
                kind=s.kind,
                title=s.title,
                traces=s.traces,
                total_saving_ms=_ms(s.total_saving_ns),
                mean_saving_ms=_ms(s.mean_saving_ns),
            )
            for s in aggregate_suggestions(main)
        ),
        side_traces=side or ABSENT,
        notes=(note,) if note else ABSENT,
    )


def report_of(traces: Sequence[TraceReport], figures: Sequence[TraceFigures]) -> Report:
    """The document of these traces (with a summary of ``figures``, when there are several)."""
    if len(figures) > 1:
        return Report(schema=SCHEMA, traces=tuple(traces), summary=summary_of(figures))
    return Report(schema=SCHEMA, traces=tuple(traces))


def row_of(analysis: TraceAnalysis) -> TraceRow:
    """What a table of traces shows of one: wall time, LLM calls, the first time to first token, the top
    suggestion, in the report's milliseconds (a large file's table is made without the reports)."""
    calls, top = analysis.llm_calls, analysis.suggestions[0] if analysis.suggestions else None
    ttft_ms = None if not calls or calls[0].ttft_ns is None else _ms(calls[0].ttft_ns)
    if not calls:
        ttft = "no LLM"
    elif ttft_ms is not None:
        ttft = ms(ttft_ms)
    else:
        ttft = "not streamed" if calls[0].streamed is False else "not recorded"
    return TraceRow(
        trace_id=analysis.trace_id,
        service=analysis.service,
        start_unix_ns=analysis.start_ns,
        wall_ms=_ms(analysis.wall_ns),
        llm_calls=len(calls),
        ttft_ms=ttft_ms,
        ttft=ttft,
        top=f"{top.title} ({ms(_ms(top.saving_ns))})" if top else "-",
    )
