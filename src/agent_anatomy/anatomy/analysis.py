"""Reading one trace: where every instant went, the critical path, the LLM calls and the tool batches.

Phases attribute each instant of the trace to exactly one category, so they add up to its wall time:
the most specific activity running at that instant wins (an LLM call's first-token wait or generation,
then a tool, a cache lookup, routing, the agent's own code), and instants no span covers are gaps.
The critical path follows Jaeger's definition: from the root, the last-finishing child, then the child
that finished before that one started, and so on, with each span's own time in between.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .. import semconv
from .model import SpanRecord, TraceTree
from .normalise import LLMFacts, llm_facts, records_enclosing_agent, seconds_to_ns, tool_name

__all__ = [
    "PHASES",
    "AgentRun",
    "Batch",
    "StepItem",
    "LLMCall",
    "Segment",
    "ToolCall",
    "TraceAnalysis",
    "analyse_trace",
    "critical_path",
    "phases",
    "step_items",
]

PHASE_TTFT: Final = "llm_time_to_first_token"
PHASE_GENERATION: Final = "llm_generation"
PHASE_THINKING: Final = "llm_thinking"
"""Reasoning streamed after the first chunk and before the first visible text (extended thinking)."""
PHASE_TOOL: Final = "tool"
PHASE_CACHE: Final = "cache"
PHASE_RETRIEVAL: Final = "retrieval"
"""Retrieval, embedding and reranking calls."""
PHASE_ROUTING: Final = "routing"
PHASE_LLM_UNSPLIT: Final = "llm_first_token_unknown"
"""A streamed call whose trace did not record its time to first token: neither phase can be claimed."""
PHASE_AGENT: Final = "agent"
PHASE_OUTSIDE: Final = "outside_agent"
"""Time in the spans around the agent (an HTTP handler, a queue consumer) while no agent span runs."""
PHASE_GAP: Final = "gap"
PHASES: Final = (
    PHASE_TTFT,
    PHASE_THINKING,
    PHASE_GENERATION,
    PHASE_LLM_UNSPLIT,
    PHASE_TOOL,
    PHASE_RETRIEVAL,
    PHASE_CACHE,
    PHASE_ROUTING,
    PHASE_AGENT,
    PHASE_OUTSIDE,
    PHASE_GAP,
)
"""In priority order: at an instant where several run, the first listed wins."""
_PRIORITY: Final = {phase: len(PHASES) - 1 - index for index, phase in enumerate(PHASES)}
_MAX_DEPTH: Final = 400


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of the critical path: part of one span's interval; ``own`` when no child covers it."""

    span_id: str
    name: str
    start_ns: int
    end_ns: int
    own: bool

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class LLMCall:
    span_id: str
    index: int
    model: str | None
    step: str | None
    start_ns: int
    end_ns: int
    ttft_ns: int | None
    """Time to first token; None for a call that was not streamed, ended before a token, or whose trace
    did not record it (``streamed`` tells which)."""
    output_tokens: int | None
    streamed: bool | None
    """None when the trace does not say whether the call streamed."""
    route_role: str | None
    route_outcome: str | None
    traced_by: tuple[str, ...] = ()
    """Every span that recorded this call (two instrumentations, one call): the first is ``span_id``."""
    thinking_ns: int | None = None
    """Reasoning streamed between the first chunk and the first visible text; None when none was recorded."""

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def first_text_ns(self) -> int | None:
        """From the call's start to its first visible text (after any thinking): when the answer starts
        to appear; None when the trace did not record the first token."""
        if self.ttft_ns is None:
            return None
        return min(self.ttft_ns + (self.thinking_ns or 0), self.duration_ns)

    @property
    def generation_ns(self) -> int | None:
        first_text = self.first_text_ns
        return None if first_text is None else max(self.duration_ns - first_text, 0)

    @property
    def tokens_per_second(self) -> float | None:
        """Output tokens (reasoning ones included, as the API counts them) over the time they streamed in."""
        if not self.output_tokens or self.ttft_ns is None or self.duration_ns <= self.ttft_ns:
            return None
        return self.output_tokens / ((self.duration_ns - self.ttft_ns) / 1e9)


@dataclass(frozen=True, slots=True)
class ToolCall:
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    input_hash: str | None
    error: bool

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True)
class Batch:
    """The tool calls of one model turn: independent by construction."""

    index: int
    tools: tuple[ToolCall, ...]

    @property
    def start_ns(self) -> int:
        return min(t.start_ns for t in self.tools)

    @property
    def end_ns(self) -> int:
        return max(t.end_ns for t in self.tools)

    @property
    def wall_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def sum_ns(self) -> int:
        return sum(t.duration_ns for t in self.tools)

    @property
    def max_ns(self) -> int:
        return max(t.duration_ns for t in self.tools)

    @property
    def mode(self) -> str:
        """``single``; ``parallel`` when all started together; ``sequential`` when each started after the
        previous ended; otherwise ``mixed``."""
        if len(self.tools) == 1:
            return "single"
        starts = [t.start_ns for t in self.tools]
        if max(starts) - min(starts) <= max(2_000_000, self.max_ns // 20):
            return "parallel"
        ordered = sorted(self.tools, key=lambda t: t.start_ns)
        if all(a.end_ns <= b.start_ns for a, b in itertools.pairwise(ordered)):
            return "sequential"
        return "mixed"

    @property
    def parallel_saving_ns(self) -> int:
        """What running all of them at once would save: the batch's wall time beyond its slowest tool."""
        return max(self.wall_ns - self.max_ns, 0)


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


@dataclass
class TraceAnalysis:
    """Everything the anatomy knows of one trace."""

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
    duplicate_of: dict[str, str] = field(default_factory=dict)
    """Span id of a second record of an LLM call, a tool call or an agent -> the span that stands for it."""
    agent_span_id: str | None = None
    """The span the steps are read from: the outermost agent, else the one holding the LLM calls."""
    notes: list[str] = field(default_factory=list)
    """What the trace cannot tell, in a line each (no LLM spans found, cycles cut...)."""
    agents: list[AgentRun] = field(default_factory=list)
    """With several agent spans in the trace, each one's own anatomy; empty with one or none."""

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
        tree = self.tree
        inside = _inside(tree, self.agent_span)
        recorded = _recorded(self.llm_calls)
        result = {}
        for span in tree.spans.values():
            if span.span_id in recorded:
                result[span.span_id] = "llm"
            else:
                result[span.span_id] = next(iter(_span_intervals(span, span.span_id in inside)))[2]
        return result


# --- phases ------------------------------------------------------------------------------------------


def _inside(tree: TraceTree, agent: SpanRecord | None) -> set[str]:
    """The ids of ``agent`` and every span below it (none without an agent)."""
    return {agent.span_id, *(d.span_id for d in tree.descendants(agent))} if agent is not None else set()


def _recorded(calls: Iterable[LLMCall]) -> set[str]:
    """Every span that records one of ``calls``."""
    return {span_id for call in calls for span_id in call.traced_by}


def _call_intervals(call: LLMCall) -> Iterable[tuple[int, int, str]]:
    """An LLM call's time: waiting for the first token, thinking, then generating, as far as the trace tells."""
    start, end = call.start_ns, call.end_ns
    if call.ttft_ns is not None:
        split = min(start + call.ttft_ns, end)
        yield start, split, PHASE_TTFT
        if call.thinking_ns:
            thought = min(split + call.thinking_ns, end)
            yield split, thought, PHASE_THINKING
            split = thought
        yield split, end, PHASE_GENERATION
    elif call.streamed is not False:  # streamed (or not said), but no record of the first token
        yield start, end, PHASE_LLM_UNSPLIT
    else:  # not streamed: the caller waited the whole call for its first visible token
        yield start, end, PHASE_TTFT


def _span_intervals(span: SpanRecord, inside: bool) -> Iterable[tuple[int, int, str]]:
    """A span's time other than an LLM call's; ``inside``: the span is the agent's or below it."""
    start, end = span.clipped_start, span.clipped_end
    operation = span.operation
    if operation in (semconv.OPERATION_EXECUTE_TOOL, semconv.OPERATION_TOOL_BATCH):
        yield start, end, PHASE_TOOL
    elif operation == semconv.OPERATION_RETRIEVAL:
        yield start, end, PHASE_RETRIEVAL
    elif operation == semconv.OPERATION_CACHE_LOOKUP:
        yield start, end, PHASE_CACHE
    elif operation == semconv.OPERATION_ROUTE:
        yield start, end, PHASE_ROUTING
    else:
        yield start, end, PHASE_AGENT if inside else PHASE_OUTSIDE


def phases(
    tree: TraceTree,
    agent: SpanRecord | Literal["find"] | None = "find",
    calls: Sequence[LLMCall] | None = None,
) -> dict[str, int]:
    """Nanoseconds per phase; they add up to the trace's wall time exactly.

    Spans that are not the agent (``find_agent``'s, unless given) nor below it (its ancestors, their
    other children) are outside the agent; with no agent at all (no GenAI span in the trace), all are.
    LLM time comes from the calls (``llm_calls``'s, unless given), each once however many spans recorded it.
    """
    if agent == "find":
        agent = find_agent(tree)
    if calls is None:
        calls = llm_calls(tree)[0]
    recorded = _recorded(calls)
    totals = dict.fromkeys(PHASES, 0)
    trace_start, trace_end = tree.start_ns, tree.end_ns
    if trace_end <= trace_start:
        return totals
    inside = _inside(tree, agent)
    intervals = [interval for call in calls for interval in _call_intervals(call)]
    for span in tree.spans.values():
        if span.span_id not in recorded:
            intervals.extend(_span_intervals(span, span.span_id in inside))
    events: list[tuple[int, int, int]] = []
    for start, end, phase in intervals:
        if end > start:
            events.append((start, 1, _PRIORITY[phase]))
            events.append((end, -1, _PRIORITY[phase]))
    events.sort()
    active = [0] * len(PHASES)
    by_priority = {priority: phase for phase, priority in _PRIORITY.items()}
    cursor = trace_start
    index = 0
    while index < len(events):
        time = events[index][0]
        if time > cursor:
            top = next((p for p in range(len(PHASES) - 1, 0, -1) if active[p]), 0)
            totals[by_priority[top]] += min(time, trace_end) - cursor
            cursor = time
        while index < len(events) and events[index][0] == time:
            active[events[index][2]] += events[index][1]
            index += 1
    if trace_end > cursor:
        totals[PHASE_GAP] += trace_end - cursor
    return totals


# --- the critical path --------------------------------------------------------------------------------


def critical_path(tree: TraceTree) -> list[Segment]:
    """Segments tiling the trace from its start to its end, in time order."""
    segments: list[Segment] = []
    roots = sorted(tree.roots, key=lambda r: r.clipped_end, reverse=True)
    current = tree.end_ns
    for root in roots:  # several roots: the last-finishing one, then the one that ended before it began...
        if root.clipped_end > current:  # ran beside the root on the path
            continue
        if root.clipped_end < current:
            segments.append(Segment("", "(gap)", root.clipped_end, current, True))
        _walk(tree, root, root.clipped_end, segments, 0)
        current = root.clipped_start
    if current > tree.start_ns:
        segments.append(Segment("", "(gap)", tree.start_ns, current, True))
    segments.reverse()
    return [s for s in segments if s.end_ns > s.start_ns]


def _walk(tree: TraceTree, span: SpanRecord, end_cap: int, out: list[Segment], depth: int) -> None:
    """Append ``span``'s critical segments up to ``end_cap``, latest first."""
    current = min(span.clipped_end, end_cap)
    if depth < _MAX_DEPTH:
        after: SpanRecord | None = None  # the child last put on the path (it began at ``current``)
        for child in sorted(tree.kids(span), key=lambda c: c.clipped_end, reverse=True):
            if current <= span.clipped_start:
                break
            if child.clipped_start >= current:
                continue
            if child.clipped_end > current and not _streamed_into(child, after):
                continue  # ran beside the critical child: not on the path
            if child.clipped_end < current:
                out.append(Segment(span.span_id, span.name, child.clipped_end, current, True))
            _walk(tree, child, min(child.clipped_end, current), out, depth + 1)
            current = max(child.clipped_start, span.clipped_start)
            after = child
    if current > span.clipped_start:
        out.append(Segment(span.span_id, span.name, span.clipped_start, current, True))


def _streamed_into(call: SpanRecord, after: SpanRecord | None) -> bool:
    """Whether an LLM call that ended after the next span on the path began handed that span its work while
    still streaming (the Claude Code CLI starts a tool once its ``tool_use`` block is complete, before the
    message ends): the call is then on the path up to that span's start, not beside it."""
    return call.is_llm and after is not None and not after.is_llm


# --- LLM calls and tool batches -------------------------------------------------------------------------


_SAME_INTERVAL: Final = 0.9
"""Two LLM spans are one call when each covers this share of the other (and nothing says otherwise)."""


def _same_call(tree: TraceTree, a: SpanRecord, b: SpanRecord, facts: dict[str, LLMFacts]) -> bool:
    """Whether two LLM spans record the same API call (two instrumentations of one client)."""
    fa, fb = facts[a.span_id], facts[b.span_id]
    if fa.response_id and fb.response_id:
        return fa.response_id == fb.response_id
    if fa.model and fb.model and fa.model.split("@")[0] != fb.model.split("@")[0]:
        return False
    if any(p.span_id == a.span_id for p in _ancestors(tree, b)[1:]) or any(
        p.span_id == b.span_id for p in _ancestors(tree, a)[1:]
    ):
        return True  # an LLM span inside another: the SDK's own span under a peer's
    overlap = min(a.clipped_end, b.clipped_end) - max(a.clipped_start, b.clipped_start)
    shorter = min(a.clipped_end - a.clipped_start, b.clipped_end - b.clipped_start)
    if shorter <= 0 or overlap < _SAME_INTERVAL * shorter:
        return False
    if a.parent_id == b.parent_id:
        return True
    # Under different parents (the Claude Code CLI's own spans below the Agent SDK session's): one agent's
    # records of one answer, which their output tokens, known to both, confirm.
    return fa.output_tokens is not None and fa.output_tokens == fb.output_tokens and _one_agent(tree, a, b)


def _one_agent(tree: TraceTree, a: SpanRecord, b: SpanRecord) -> bool:
    """Whether the nearest agent above one span is also above the other."""
    for one, other in ((a, b), (b, a)):
        owner = _owner(tree, one)
        if owner is not None and any(s.span_id == owner for s in _ancestors(tree, other)):
            return True
    return False


def second_records(tree: TraceTree) -> dict[str, str]:
    """Tool and agent spans that record what another span records, each to that span: tool spans of one tool
    call (``gen_ai.tool.call.id``; the outermost stands for it), and an agent span that is a second record of
    the agent above it (the Claude Code CLI's turn under the Agent SDK session)."""
    duplicate_of: dict[str, str] = {}
    by_call: dict[str, str] = {}
    tools = (s for s in tree.spans.values() if s.is_tool)
    for span in sorted(tools, key=lambda s: (len(_ancestors(tree, s)), s.clipped_start, s.span_id)):
        call_id = span.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
        if isinstance(call_id, str) and call_id:
            primary = by_call.setdefault(call_id, span.span_id)
            if primary != span.span_id:
                duplicate_of[span.span_id] = primary
    for span in tree.spans.values():
        if span.operation == semconv.OPERATION_INVOKE_AGENT and records_enclosing_agent(span.name):
            owner = _owner(tree, span)
            if owner is not None:
                duplicate_of[span.span_id] = owner
    return duplicate_of


def _merge_facts(group: Sequence[SpanRecord], facts: dict[str, LLMFacts]) -> LLMFacts:
    def first(values: Iterable[Any]) -> Any:
        return next((v for v in values if v is not None), None)

    parts = [facts[s.span_id] for s in group]
    return LLMFacts(
        model=first(p.model for p in parts),
        streamed=True if any(p.streamed for p in parts) else first(p.streamed for p in parts),
        ttft_ns=first(p.ttft_ns for p in parts),
        output_tokens=first(p.output_tokens for p in parts),
        response_id=first(p.response_id for p in parts),
        thinking_ns=first(p.thinking_ns for p in parts),
    )


def llm_calls(tree: TraceTree) -> tuple[list[LLMCall], dict[str, str]]:
    """The trace's LLM calls, each once however many instrumentations traced it, and the duplicates' ids.

    The span that stands for a merged call is the outermost of its records; the call keeps the best facts
    of all (model, tokens, and the time to first token from whichever recorded it).
    """
    spans = sorted((s for s in tree.spans.values() if s.is_llm), key=lambda s: (s.clipped_start, s.span_id))
    facts = {s.span_id: llm_facts(s.attributes) for s in spans}
    groups: list[list[SpanRecord]] = []
    open_groups: list[tuple[int, list[SpanRecord]]] = []  # (latest end, group): only these can still match
    for span in spans:
        # Two records of one call overlap in time; spans come by start, so groups that ended are done.
        open_groups = [(end, g) for end, g in open_groups if end > span.clipped_start]
        group = next((g for _, g in open_groups if any(_same_call(tree, span, other, facts) for other in g)), None)
        if group is None:
            group = [span]
            groups.append(group)
            open_groups.append((span.clipped_end, group))
        else:
            group.append(span)
            open_groups = [(max(end, span.clipped_end) if g is group else end, g) for end, g in open_groups]
    calls: list[LLMCall] = []
    duplicate_of: dict[str, str] = {}
    for index, group in enumerate(groups, start=1):
        depth = {s.span_id: len(_ancestors(tree, s)) for s in group}
        # The outermost record stands for the call (it covers what the caller waited); facts come from all.
        primary = min(group, key=lambda s: (depth[s.span_id], facts[s.span_id].ttft_ns is None, s.clipped_start))
        merged = _merge_facts(group, facts)
        for other in group:
            if other is not primary:
                duplicate_of[other.span_id] = primary.span_id
        attributes = primary.attributes
        calls.append(
            LLMCall(
                span_id=primary.span_id,
                index=index,
                model=merged.model,
                step=str(attributes[semconv.ANATOMY_ROUTE_STEP]) if semconv.ANATOMY_ROUTE_STEP in attributes else None,
                start_ns=primary.clipped_start,
                end_ns=primary.clipped_end,
                ttft_ns=merged.ttft_ns,
                output_tokens=merged.output_tokens,
                streamed=merged.streamed,
                route_role=attributes.get(semconv.ANATOMY_ROUTE_ROLE),
                route_outcome=attributes.get(semconv.ANATOMY_ROUTE_OUTCOME),
                traced_by=(primary.span_id, *(s.span_id for s in group if s is not primary)),
                thinking_ns=merged.thinking_ns,
            )
        )
    return calls, duplicate_of


_UNEXPLAINED_GAP_NS: Final = 50_000_000
"""Between two tools of one turn, time at least this long that no span covers is taken as a model turn
the trace did not record: the tools on either side are never one batch."""


def _split_at_gaps(tree: TraceTree, tools: list[ToolCall]) -> list[list[ToolCall]]:
    """One turn's tools, cut wherever the trace shows nothing happening for a while between them."""
    ordered = sorted(tools, key=lambda t: (t.start_ns, t.span_id))
    if not ordered:
        return []
    groups: list[list[ToolCall]] = [[ordered[0]]]
    reach = ordered[0].end_ns
    others: list[SpanRecord] | None = None
    for tool in ordered[1:]:
        gap = (reach, tool.start_ns)
        if gap[1] - gap[0] >= _UNEXPLAINED_GAP_NS:
            if others is None:  # only for a turn that has such a gap: most have none
                ids = {t.span_id for t in ordered}
                first, last = ordered[0].start_ns, max(t.end_ns for t in ordered)
                # Spans enclosing all of the turn's tools (the agent, a batch) say nothing of a gap.
                others = [
                    s
                    for s in tree.spans.values()
                    if s.span_id not in ids
                    and not s.is_tool
                    and not (s.clipped_start <= first and s.clipped_end >= last)
                ]
            if not _explained(others, gap):
                groups.append([tool])
                reach = max(reach, tool.end_ns)
                continue
        groups[-1].append(tool)
        reach = max(reach, tool.end_ns)
    return groups


def _explained(spans: Sequence[SpanRecord], gap: tuple[int, int]) -> bool:
    """Whether one of ``spans`` runs through at least half of the gap."""
    low, high = gap
    return any(min(s.clipped_end, high) - max(s.clipped_start, low) >= (high - low) / 2 for s in spans)


def _owner(tree: TraceTree, span: SpanRecord) -> str | None:
    """The nearest agent span above ``span`` (None when no agent holds it)."""
    return next((a.span_id for a in _ancestors(tree, span)[1:] if a.operation == semconv.OPERATION_INVOKE_AGENT), None)


def tool_batches(
    tree: TraceTree, calls: Sequence[LLMCall], duplicate_of: Mapping[str, str] | None = None
) -> list[Batch]:
    """Tool calls grouped by the model turn they answer: those of one agent between the same two of its LLM
    calls, cut again where an unexplained gap implies a turn the trace did not record. Tools of two agents
    (sub-agents, agents side by side) are never one batch; a tool call recorded twice counts once
    (``duplicate_of``, from ``second_records``)."""
    seconds = duplicate_of or {}
    ends: dict[str | None, list[int]] = {}
    for call in calls:
        if call.route_outcome != semconv.ROUTE_OUTCOME_LOST:
            ends.setdefault(_owner(tree, tree.spans[call.span_id]), []).append(call.end_ns)
    for values in ends.values():
        values.sort()
    groups: dict[tuple[int, int, str], list[ToolCall]] = {}
    first_seen: dict[str | None, int] = {}
    tools = (s for s in tree.spans.values() if s.is_tool and s.span_id not in seconds)
    for span in sorted(tools, key=lambda s: (s.clipped_start, s.span_id)):
        owner = _owner(tree, span)
        turn = bisect.bisect_right(ends.get(owner, []), span.clipped_start)
        order = first_seen.setdefault(owner, len(first_seen))
        groups.setdefault((order, turn, owner or ""), []).append(
            ToolCall(
                span_id=span.span_id,
                name=tool_name(span.name, span.attributes),
                start_ns=span.clipped_start,
                end_ns=span.clipped_end,
                input_hash=span.attributes.get(semconv.ANATOMY_TOOL_INPUT_HASH),
                error=span.status == "ERROR",
            )
        )
    pieces = [piece for tools in groups.values() for piece in _split_at_gaps(tree, tools)]
    pieces.sort(key=lambda tools: min((t.start_ns, t.span_id) for t in tools))
    return [
        Batch(index, tuple(sorted(tools, key=lambda t: (t.start_ns, t.span_id))))
        for index, tools in enumerate(pieces, start=1)
    ]


# --- the agent, and the steps read from it ---------------------------------------------------------------


def _ancestors(tree: TraceTree, span: SpanRecord) -> list[SpanRecord]:
    """``span`` and its ancestors, itself first, up to its root."""
    chain = [span]
    seen = {span.span_id}
    while (parent := tree.parent(chain[-1])) is not None and parent.span_id not in seen:
        seen.add(parent.span_id)
        chain.append(parent)
    return chain


def _common_ancestor(tree: TraceTree, spans: Sequence[SpanRecord]) -> SpanRecord | None:
    chains = [_ancestors(tree, s) for s in spans]
    if not chains:
        return None
    shared = set.intersection(*({s.span_id for s in chain} for chain in chains))
    return next((s for s in chains[0] if s.span_id in shared), None)


def find_agent(tree: TraceTree) -> SpanRecord | None:
    """The span an agent's steps are its children of, wherever it sits in the tree.

    The outermost ``invoke_agent`` span (several at the top: their common ancestor); with no agent span,
    the lowest span that holds every LLM call and tool (a single call: its parent); with neither, None.
    """
    agents = [s for s in tree.spans.values() if s.operation == semconv.OPERATION_INVOKE_AGENT]
    agent_ids = {a.span_id for a in agents}
    outermost = [a for a in agents if not any(p.span_id in agent_ids for p in _ancestors(tree, a)[1:])]
    if len(outermost) == 1:
        return outermost[0]
    if outermost:
        return _common_ancestor(tree, outermost)
    work = [s for s in tree.spans.values() if s.is_llm or s.is_tool]
    if not work:
        return None
    holder = _common_ancestor(tree, work)
    if holder is not None and (holder.is_llm or holder.is_tool):
        return tree.parent(holder) or holder
    return holder


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


def step_items(analysis: TraceAnalysis) -> list[StepItem]:
    """The critical path as steps of the agent, consecutive pieces of one step merged.

    A step is the highest span under the agent whose subtree holds at most one LLM call, so a wrapper
    around several calls (a missing ``tool_batch``, a ``step`` span) never merges them into one. Time in
    the agent span itself is agent code; spans above or beside the agent are outside it.
    """
    tree = analysis.tree
    agent = analysis.agent_span
    units = _llm_units(tree, analysis.duplicate_of)
    inside = _inside(tree, agent)
    items: list[StepItem] = []
    for segment in analysis.critical_path:
        span = tree.spans.get(analysis.duplicate_of.get(segment.span_id, segment.span_id)) if segment.span_id else None
        if span is None:
            item = StepItem("gap", None, segment.start_ns, segment.end_ns, "gap")
        elif agent is not None and (
            span.span_id == agent.span_id or (span.span_id in inside and units.get(span.span_id, 0) > 1)
        ):
            # the agent's own time, or that of a loop inside it around several calls (the SDK's tool runner)
            item = StepItem("agent code", None, segment.start_ns, segment.end_ns, "agent")
        elif span.span_id not in inside:
            item = _outside_item(tree, span, agent, segment)
        else:
            top = span
            for ancestor in _ancestors(tree, span)[1:]:
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
    ancestry = {a.span_id for a in _ancestors(tree, agent)} if agent is not None else set()
    if span.span_id in ancestry:
        return StepItem("outside the agent", None, segment.start_ns, segment.end_ns, "outside")
    top = span
    for ancestor in _ancestors(tree, span)[1:]:
        if ancestor.span_id in ancestry:
            break
        top = ancestor
    return StepItem(top.name, top, segment.start_ns, segment.end_ns, "outside")


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
        parent = next((p.span_id for p in _ancestors(tree, agent)[1:] if p.span_id in agent_ids), None)
        runs.append(
            AgentRun(
                span_id=agent.span_id,
                name=agent.name,
                parent_agent_id=parent,
                start_ns=agent.clipped_start,
                end_ns=agent.clipped_end,
                llm_calls=sum(1 for c in calls if c.span_id in ids),
                tool_calls=sum(1 for s in inside if s.is_tool and s.span_id not in seconds),
                phases=phases(own, own.spans[agent.span_id]),
            )
        )
    return runs


def analyse_trace(tree: TraceTree) -> TraceAnalysis:
    """Phases, critical path, LLM calls, batches and what the levers already saved (what-ifs apart)."""
    calls, duplicate_of = llm_calls(tree)
    duplicate_of.update(second_records(tree))
    agent = find_agent(tree)
    notes = []
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
    if tree.cycles_broken:
        notes.append(f"{tree.cycles_broken} parent cycle(s) in the span ids were cut; every span is kept")
    cache_saved = cache_hits = parallel_saved = 0
    for span in tree.spans.values():
        attributes = span.attributes
        if attributes.get(semconv.ANATOMY_CACHE_HIT) is True:
            cache_hits += 1
            cache_saved += seconds_to_ns(attributes.get(semconv.ANATOMY_CACHE_SAVED_TIME)) or 0
        parallel_saved += seconds_to_ns(attributes.get(semconv.ANATOMY_BATCH_SAVED_TIME)) or 0
    return TraceAnalysis(
        trace_id=tree.trace_id,
        tree=tree,
        start_ns=tree.start_ns,
        end_ns=tree.end_ns,
        phases=phases(tree, agent, calls),
        critical_path=critical_path(tree),
        llm_calls=calls,
        batches=tool_batches(tree, calls, duplicate_of),
        cache_saved_ns=cache_saved,
        cache_hits=cache_hits,
        parallel_saved_ns=parallel_saved,
        agent_span_id=agent.span_id if agent is not None else None,
        duplicate_of=duplicate_of,
        notes=notes,
        agents=agent_runs(tree, calls, duplicate_of),
    )
