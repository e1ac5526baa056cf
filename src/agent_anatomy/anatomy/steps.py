"""The critical path as the agent's steps: one step span, or the agent's own code, time outside it, a gap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .. import semconv
from .analysis import TraceAnalysis
from .critical_path import Segment
from .model import SpanRecord, TraceTree

__all__ = ["StepItem", "step_items"]


@dataclass(frozen=True, slots=True)
class StepItem:
    """A piece of the critical path as a reader follows it: one step span, or agent code, outside, a gap."""

    label: str
    span: SpanRecord | None
    """The step's span: the highest span under the agent that holds at most one LLM call."""
    start_ns: int
    end_ns: int
    kind: str = "span"
    """``span``, or with no span: ``agent`` (the agent's own code), ``outside`` (around the agent), ``gap``."""


def _llm_units(tree: TraceTree, duplicate_of: Mapping[str, str]) -> dict[str, int]:
    """Per span, how many LLM calls its subtree holds; a route span (its attempts, hedges) counts as one,
    and so does a call recorded twice (a second record is no call of its own)."""
    units: dict[str, int] = {}
    for span in reversed(list(tree.walk())):  # children before parents
        if span.operation == semconv.OPERATION_ROUTE or (span.is_llm and span.span_id not in duplicate_of):
            units[span.span_id] = 1
        else:  # a second record of a call counts only what it holds, like any other span
            units[span.span_id] = sum(units.get(k.span_id, 0) for k in tree.kids(span))
    return units


_last: tuple[TraceAnalysis, tuple[StepItem, ...]] | None = None
"""The last analysis asked for and its steps: a trace's report and its figures each ask, one after the other."""


def step_items(analysis: TraceAnalysis) -> tuple[StepItem, ...]:
    """The critical path as steps of the agent, consecutive pieces of one step merged.

    A step is the highest span under the agent whose subtree holds at most one LLM call, so a wrapper
    around several calls (a missing ``tool_batch``, a ``step`` span) never merges them into one. Time in
    the agent span itself is agent code; spans above or beside the agent are outside it.
    """
    global _last
    last = _last
    if last is not None and last[0] is analysis:  # (an analysis is never changed: its steps stay the same)
        return last[1]
    items = tuple(_step_items(analysis))
    _last = (analysis, items)
    return items


def _step_items(analysis: TraceAnalysis) -> list[StepItem]:
    tree = analysis.tree
    agent = analysis.agent_span
    units = _llm_units(tree, analysis.duplicate_of)
    inside = tree.subtree_ids(agent)
    items: list[StepItem] = []
    for segment in analysis.critical_path:
        span = tree.spans.get(analysis.duplicate_of.get(segment.span_id, segment.span_id)) if segment.span_id else None
        if span is None:
            item = StepItem("gap", None, segment.start_ns, segment.end_ns, "gap")
        elif agent is not None and (
            # (a trace of one LLM call or tool span: that span holds everything, and it is a step)
            (span.span_id == agent.span_id and not (span.is_llm or span.is_tool))
            or (span.span_id in inside and units.get(span.span_id, 0) > 1)
        ):
            # the agent's own time, or that of a loop inside it around several calls (the SDK's tool runner)
            item = StepItem("agent code", None, segment.start_ns, segment.end_ns, "agent")
        elif span.span_id not in inside:
            item = _outside_item(tree, span, agent, segment)
        else:
            top = span
            for ancestor in tree.ancestors(span)[1:]:
                if (
                    analysis.duplicate_of.get(ancestor.span_id, ancestor.span_id) == agent.span_id  # type: ignore[union-attr]
                    or units.get(ancestor.span_id, 0) > 1
                ):
                    break
                top = ancestor
            top = tree.spans.get(analysis.duplicate_of.get(top.span_id, top.span_id), top)
            item = StepItem(top.name, top, segment.start_ns, segment.end_ns)
        previous = items[-1] if items else None
        if previous is not None and previous.label == item.label and previous.span is item.span:
            items[-1] = StepItem(previous.label, previous.span, previous.start_ns, item.end_ns, previous.kind)
        else:
            items.append(item)
    return _with_start_up(items, agent)


def _with_start_up(items: list[StepItem], agent: SpanRecord | None) -> list[StepItem]:
    """The agent's own time before its runtime said it was ready (``anatomy.agent.ready``: the Claude Code
    CLI starting) is its start-up, not its code."""
    ready = next((e.time_ns for e in agent.events if e.name == semconv.EVENT_AGENT_READY), None) if agent else None
    if ready is None:
        return items
    result = []
    for item in items:
        if item.kind == "agent" and item.start_ns < ready:
            result.append(StepItem("start-up", None, item.start_ns, min(item.end_ns, ready), "agent"))
            if item.end_ns > ready:
                result.append(StepItem(item.label, None, ready, item.end_ns, "agent"))
        else:
            result.append(item)
    return result


def _outside_item(tree: TraceTree, span: SpanRecord, agent: SpanRecord | None, segment: Segment) -> StepItem:
    """A piece of the path outside the agent: an ancestor's own time, or a span beside the agent (auth, db)."""
    ancestry = {a.span_id for a in tree.ancestors(agent)} if agent is not None else set()
    if span.span_id in ancestry:
        return StepItem("outside the agent", None, segment.start_ns, segment.end_ns, "outside")
    top = span
    for ancestor in tree.ancestors(span)[1:]:
        if ancestor.span_id in ancestry:
            break
        top = ancestor
    return StepItem(top.name, top, segment.start_ns, segment.end_ns, "outside")
