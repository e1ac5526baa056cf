"""Reading one trace: its phases, critical path, LLM calls, tool batches and agents, as one ``TraceAnalysis``.

Each concept has a module of its own (``timeline``, ``critical_path``, ``calls``, ``batches``, ``agents``,
``steps``); ``analyse_trace`` runs them in order and adds what the trace cannot tell, as notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import semconv
from .agents import AgentRun, agent_runs, find_agent
from .batches import Batch, tool_batches
from .calls import LLMCall, llm_calls, merge_notes, second_records
from .critical_path import Segment, critical_path
from .estimates import with_estimates
from .llm_batches import LLMBatch, independent_runs, llm_batches
from .model import SpanRecord, TraceTree
from .normalise import seconds_to_ns
from .prompt_cache import PromptCacheUse
from .speeds import ModelSpeed, SpeedBook
from .timeline import phases, span_phases

__all__ = ["TraceAnalysis", "analyse_trace"]


@dataclass(frozen=True)
class TraceAnalysis:
    """Everything the anatomy knows of one trace; never changed once made (``whatif.judged`` gives a copy with
    the suggestions)."""

    trace_id: str
    tree: TraceTree
    start_ns: int
    end_ns: int
    phases: dict[str, int]
    critical_path: list[Segment]
    llm_calls: list[LLMCall]
    batches: list[Batch]
    cache_saved_ns: int = 0
    cache_hits: int = 0
    parallel_saved_ns: int = 0
    suggestions: list[Any] = field(default_factory=list)
    nothing_to_suggest: str = ""
    """With no suggestion (once judged): why, in a line."""
    duplicate_of: dict[str, str] = field(default_factory=dict)
    """Span id of a second record of an LLM call, a tool call or an agent -> the span that stands for it."""
    agent_span_id: str | None = None
    """The span the steps are read from: the outermost agent, else the one holding the LLM calls."""
    notes: list[str] = field(default_factory=list)
    """What the trace cannot tell, in a line each (no LLM spans found, cycles cut...)."""
    agents: list[AgentRun] = field(default_factory=list)
    """With several agent spans in the trace, each one's own anatomy; empty with one or none."""
    llm_batches: list[LLMBatch] = field(default_factory=list)
    """LLM calls of one agent made at once."""
    independent_runs: list[LLMBatch] = field(default_factory=list)
    """LLM calls of one agent made one after another that did not need each other's answers."""
    estimated_by: Mapping[str, ModelSpeed] | None = field(default=None, repr=False, compare=False)
    """The measured speeds the unstreamed calls' first tokens were estimated by, if any: ``whatif.judged`` with
    the same speeds has nothing to estimate again."""
    prompt_cache: dict[str, PromptCacheUse] = field(default_factory=dict)
    """What the prompt cache did for each call that used it, by the call's span id (once judged: the saving
    needs the speeds)."""

    @property
    def llm_overlap_saved_ns(self) -> int:
        """What the LLM calls made at once saved over making them one after another."""
        return sum(b.overlap_saved_ns for b in self.llm_batches)

    @property
    def wall_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def service(self) -> str | None:
        """The root's service (the one that served the request)."""
        services = self.tree.services
        return services[0] if services else None

    @property
    def agent_span(self) -> SpanRecord | None:
        return self.tree.spans.get(self.agent_span_id) if self.agent_span_id else None

    def span_phases(self) -> dict[str, str]:
        """Each span's own phase (``llm`` for an LLM call, whose time splits in two): what its bar shows."""
        return span_phases(self.tree, self.agent_span, self.llm_calls)


def analyse_trace(tree: TraceTree, speeds: Mapping[str, ModelSpeed] | None = None) -> TraceAnalysis:
    """Phases, critical path, LLM calls, batches and what the levers already saved (what-ifs apart).

    Unstreamed calls' first tokens are estimated by the trace's own speeds and the reference, and by
    ``speeds`` (measured over the input) when they are known already: ``whatif.judged`` then has nothing to
    estimate again, and the phases are worked out once."""
    calls, duplicate_of = llm_calls(tree)
    duplicate_of.update(second_records(tree))
    agent = find_agent(tree)
    notes: list[str] = []
    if any(semconv.CLAUDE_CODE_TTFT_MS in s.attributes for s in tree.spans.values() if s.is_llm):
        notes.append(
            "the Claude Code CLI's ttft_ms runs to the first stream event (message_start), not the first token: "
            "not taken as time to first token"
            + (
                "; the time to first token shown is agent-anatomy's, to the first content delta"
                if all(c.ttft_ns is not None for c in calls)
                else " (instrument the Agent SDK with agent-anatomy to time it)"
            )
        )
    if agent is None:
        notes.append(
            "no LLM, tool or agent span found: all of the time is charged as outside an agent (is the trace "
            "from an instrumentation the anatomy does not read?)"
        )
    notes.extend(merge_notes(tree, calls))
    if tree.joined is not None:
        conversation, members = tree.joined
        notes.append(
            f"{len(members)} traces of conversation {conversation} read as one (no agent span holds them; the time "
            "between them is shown as gaps)"
        )
    if tree.cycles_broken:
        notes.append(f"{tree.cycles_broken} parent cycle(s) in the span ids were cut; every span is kept")
    # unstreamed calls' first tokens (their note last, where whatif.judged puts it when it estimates them anew)
    estimated = with_estimates(calls, notes, SpeedBook.for_calls(calls, speeds or {}))
    if estimated is not None:
        calls, notes = estimated
    cache_saved = cache_hits = parallel_saved = 0
    for span in tree.spans.values():
        attributes = span.attributes
        if attributes.get(semconv.ANATOMY_CACHE_HIT) is True:
            cache_hits += 1
            cache_saved += seconds_to_ns(attributes.get(semconv.ANATOMY_CACHE_SAVED_TIME)) or 0
        parallel_saved += seconds_to_ns(attributes.get(semconv.ANATOMY_BATCH_SAVED_TIME)) or 0
    batches = tool_batches(tree, calls, duplicate_of)
    concurrent = llm_batches(tree, calls)
    return TraceAnalysis(
        trace_id=tree.trace_id,
        tree=tree,
        start_ns=tree.start_ns,
        end_ns=tree.end_ns,
        phases=phases(tree, agent, calls),
        critical_path=critical_path(tree),
        llm_calls=calls,
        batches=batches,
        cache_saved_ns=cache_saved,
        cache_hits=cache_hits,
        parallel_saved_ns=parallel_saved,
        agent_span_id=agent.span_id if agent is not None else None,
        duplicate_of=duplicate_of,
        notes=notes,
        agents=agent_runs(tree, calls, duplicate_of),
        llm_batches=concurrent,
        independent_runs=independent_runs(tree, calls, batches, concurrent),
        estimated_by=speeds,
    )
