"""The agents of a trace: the span whose children are its steps, and each agent's own anatomy when there are
several (sub-agents, handoffs, agents side by side)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .. import semconv
from .calls import LLMCall, llm_calls
from .model import SpanRecord, TraceTree
from .timeline import phases

__all__ = ["AgentRun", "agent_runs", "find_agent"]


def find_agent(tree: TraceTree) -> SpanRecord | None:
    """The span an agent's steps are its children of, wherever it sits in the tree.

    The outermost ``invoke_agent`` span (several at the top: their common ancestor); with no agent span,
    the lowest span that holds every LLM call and tool (a single call: its parent); with neither, None.
    """
    agents = [s for s in tree.spans.values() if s.operation == semconv.OPERATION_INVOKE_AGENT]
    agent_ids = {a.span_id for a in agents}
    outermost = [a for a in agents if not any(p.span_id in agent_ids for p in tree.ancestors(a)[1:])]
    if len(outermost) == 1:
        return outermost[0]
    if outermost:
        return tree.common_ancestor(outermost)
    work = [s for s in tree.spans.values() if s.is_llm or s.is_tool]
    if not work:
        return None
    holder = tree.common_ancestor(work)
    if holder is not None and (holder.is_llm or holder.is_tool):
        return tree.parent(holder) or holder
    return holder


@dataclass(frozen=True)
class AgentRun:
    """One agent of a trace that has several (sub-agents, handoffs, agents run side by side)."""

    span_id: str
    name: str
    parent_agent_id: str | None
    """The agent it runs under, if any (a sub-agent); None for a top-level one."""
    start_ns: int
    end_ns: int
    llm_calls: int
    tool_calls: int
    phases: dict[str, int]
    """Its own subtree's phases (they add up to its wall time)."""

    @property
    def wall_ns(self) -> int:
        return self.end_ns - self.start_ns


def agent_runs(
    tree: TraceTree, calls: Sequence[LLMCall], duplicate_of: Mapping[str, str] | None = None
) -> list[AgentRun]:
    """Each agent span's own anatomy, when the trace holds more than one (in start order); a second record of
    an agent (``duplicate_of``) is none."""
    seconds = duplicate_of or {}
    agents = sorted(
        (s for s in tree.spans.values() if s.operation == semconv.OPERATION_INVOKE_AGENT and s.span_id not in seconds),
        key=lambda s: (s.clipped_start, s.span_id),
    )
    if len(agents) < 2:
        return []
    agent_ids = {a.span_id for a in agents}
    runs = []
    for agent in agents:
        inside = [agent, *tree.descendants(agent)]
        ids = {s.span_id for s in inside}
        # Its own tree: copies, so clipping there leaves the trace's records as they are.
        copies = [dataclasses.replace(s, parent_id=None if s is agent else s.parent_id) for s in inside]
        own = TraceTree(tree.trace_id, copies)
        parent = next((p.span_id for p in tree.ancestors(agent)[1:] if p.span_id in agent_ids), None)
        runs.append(
            AgentRun(
                span_id=agent.span_id,
                name=agent.name,
                parent_agent_id=parent,
                start_ns=agent.clipped_start,
                end_ns=agent.clipped_end,
                llm_calls=sum(1 for c in calls if c.span_id in ids),
                tool_calls=sum(1 for s in inside if s.is_tool and s.span_id not in seconds),
                phases=phases(own, own.spans[agent.span_id], llm_calls(own)[0]),
            )
        )
    return runs
