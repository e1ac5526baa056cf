"""The trace's LLM calls, each once however many instrumentations recorded it, and the other second records.

Two spans are one call only on conclusive evidence: one response id, or (none known) the same model and
tokens on spans that nest or cover one interval, written by two instrumentations; the outermost stands for the
call and the call keeps the best facts of all. Every such merge is noted (``merge_notes``). Tool spans of one
tool call id or nested in one another, and an agent span that records the agent above it, are second records
too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .. import semconv
from .model import SpanRecord, TraceTree
from .normalise import LLMFacts, error_of, llm_facts, measured_rank, records_enclosing_agent, tool_name

__all__ = ["LLMCall", "llm_calls", "merge_notes", "second_records"]


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
    estimated_ttft_ns: int | None = None
    """For a call that was not streamed: when its first token came, estimated from its output tokens and the
    model's speed (``whatif.judged``); None when not estimated."""
    error: str | None = None
    """What went wrong when the call failed (``529``, ``KeyboardInterrupt``); None when it did not."""
    input_tokens: int | None = None
    """All of the prompt, cache reads and writes included."""
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    speed: str | None = None
    """``fast`` for a call served in fast mode; None when the trace does not say (standard, most likely)."""
    cache_miss: str | None = None
    """Why its prompt cache missed the previous call's prefix, as the response said (``system_changed``...)."""
    cache_missed_tokens: int | None = None
    first_content: str | None = None
    """``text`` when the call's first visible content was words the user can read (a sentence before its tool
    calls too), ``tool_use`` when it was a tool call's input; None when the trace does not say."""

    @property
    def uncached_input_tokens(self) -> int | None:
        """The prompt's tokens that were not read from the prompt cache: what the model had to read."""
        if self.input_tokens is None:
            return None
        return max(self.input_tokens - (self.cache_read_tokens or 0), 0)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def first_token_ns(self) -> int | None:
        """When the first token came: measured when streamed, else as estimated; None when neither is known."""
        return self.ttft_ns if self.ttft_ns is not None else self.estimated_ttft_ns

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


_SAME_INTERVAL: Final = 0.9
"""Two LLM spans are one call when each covers this share of the other (and nothing says otherwise)."""


def _same_call(tree: TraceTree, a: SpanRecord, b: SpanRecord, facts: dict[str, LLMFacts]) -> bool:
    """Whether two LLM spans record the same API call (two instrumentations of one client)."""
    fa, fb = facts[a.span_id], facts[b.span_id]
    if fa.response_id and fb.response_id:
        return fa.response_id == fb.response_id
    if fa.model and fb.model and fa.model.split("@")[0] != fb.model.split("@")[0]:
        return False
    if fa.output_tokens is not None and fb.output_tokens is not None and fa.output_tokens != fb.output_tokens:
        return False
    if any(p.span_id == a.span_id for p in tree.ancestors(b)[1:]) or any(
        p.span_id == b.span_id for p in tree.ancestors(a)[1:]
    ):
        return True  # an LLM span inside another, of the same model and tokens: the SDK's own span under a peer's
    if not _one_interval(a, b):
        return False
    # Side by side, one answer recorded twice has the same output tokens, known to both, and the same prompt
    # where both know it. Under one parent it is also recorded by two instrumentations, which name their spans
    # apart: spans of one name are calls made at once (a fan-out, concurrent calls that all failed), however
    # alike their answers. Under different parents, both are of one agent (the Claude Code CLI's spans below
    # the Agent SDK session's).
    if fa.output_tokens is None or fa.output_tokens != fb.output_tokens:
        return False
    if fa.input_tokens is not None and fb.input_tokens is not None and fa.input_tokens != fb.input_tokens:
        return False
    if a.parent_id == b.parent_id:
        return a.name != b.name
    return _one_agent(tree, a, b)


def _one_interval(a: SpanRecord, b: SpanRecord) -> bool:
    """Whether each of two spans covers ``_SAME_INTERVAL`` of the shorter one's time."""
    overlap = min(a.clipped_end, b.clipped_end) - max(a.clipped_start, b.clipped_start)
    shorter = min(a.clipped_end - a.clipped_start, b.clipped_end - b.clipped_start)
    return shorter > 0 and overlap >= _SAME_INTERVAL * shorter


def _one_agent(tree: TraceTree, a: SpanRecord, b: SpanRecord) -> bool:
    """Whether the nearest agent above one span is also above the other."""
    for one, other in ((a, b), (b, a)):
        owner = tree.owner(one)
        if owner is not None and any(s.span_id == owner for s in tree.ancestors(other)):
            return True
    return False


def _enclosing_tool(tree: TraceTree, span: SpanRecord) -> SpanRecord | None:
    """The tool span this tool span runs inside, for the same agent (no agent or LLM call between them)."""
    for ancestor in tree.ancestors(span)[1:]:
        if ancestor.operation == semconv.OPERATION_INVOKE_AGENT or ancestor.is_llm:
            return None
        if ancestor.is_tool:
            return ancestor
    return None


def second_records(tree: TraceTree) -> dict[str, str]:
    """Tool and agent spans that record what another span records, each to that span: tool spans of one tool
    call (``gen_ai.tool.call.id``; the outermost stands for it), a tool span inside another of the same agent
    (a user's ``@tool`` around a dispatcher that the MCP instrumentation traces too: one call, whatever each
    names it), a tool span with no call id beside one of the same tool, agent and interval that has one (the
    Claude Code CLI's before it wrote call ids, beside the Agent SDK session's), and an agent span that is a
    second record of the agent above it (the Claude Code CLI's turn under the Agent SDK session)."""
    duplicate_of: dict[str, str] = {}
    by_call: dict[str, str] = {}
    tools = (s for s in tree.spans.values() if s.is_tool)
    for span in sorted(tools, key=lambda s: (len(tree.ancestors(s)), s.clipped_start, s.span_id)):
        call_id = span.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
        if isinstance(call_id, str) and call_id:
            primary = by_call.setdefault(call_id, span.span_id)
            if primary != span.span_id:
                duplicate_of[span.span_id] = primary
    for span in tree.spans.values():
        if span.is_tool and span.span_id not in duplicate_of and (outer := _enclosing_tool(tree, span)) is not None:
            duplicate_of[span.span_id] = duplicate_of.get(outer.span_id, outer.span_id)
    primaries = dict.fromkeys(by_call.values())  # in the order they were found: the first twin wins
    called: dict[str, list[SpanRecord]] = {}  # the tool spans that stand for a call id, by tool name
    for primary in primaries:
        span = tree.spans[primary]
        called.setdefault(tool_name(span.name, span.attributes), []).append(span)
    for span in tree.spans.values():
        if span.is_tool and span.span_id not in duplicate_of and span.span_id not in primaries:
            twin = next(
                (
                    other
                    for other in called.get(tool_name(span.name, span.attributes), ())
                    if _one_interval(span, other) and _one_agent(tree, span, other)
                ),
                None,
            )
            if twin is not None:
                duplicate_of[span.span_id] = twin.span_id
    for span in tree.spans.values():
        if span.operation == semconv.OPERATION_INVOKE_AGENT and records_enclosing_agent(span.name):
            owner = tree.owner(span)
            if owner is not None:
                duplicate_of[span.span_id] = owner
    return duplicate_of


def _merge_facts(group: Sequence[SpanRecord], facts: dict[str, LLMFacts]) -> LLMFacts:
    """Each fact from the record that measured it best (``normalise.measured_rank``: ours, the SDK's, then the
    others in the order they started), not simply the first record to start."""

    if len(group) == 1:  # nearly every call: its one record's facts, as the merge below would give them
        return facts[group[0].span_id]

    def first(values: Iterable[Any]) -> Any:
        return next((v for v in values if v is not None), None)

    parts = [facts[s.span_id] for s in sorted(group, key=lambda s: measured_rank(s.scope))]
    return LLMFacts(
        model=first(p.model for p in parts),
        streamed=True if any(p.streamed for p in parts) else first(p.streamed for p in parts),
        ttft_ns=first(p.ttft_ns for p in parts),
        output_tokens=first(p.output_tokens for p in parts),
        response_id=first(p.response_id for p in parts),
        thinking_ns=first(p.thinking_ns for p in parts),
        input_tokens=first(p.input_tokens for p in parts),
        cache_read_tokens=first(p.cache_read_tokens for p in parts),
        cache_write_tokens=first(p.cache_write_tokens for p in parts),
        speed=first(p.speed for p in parts),
        cache_miss=first(p.cache_miss for p in parts),
        cache_missed_tokens=first(p.cache_missed_tokens for p in parts),
        first_content=first(p.first_content for p in parts),
    )


def llm_calls(tree: TraceTree) -> tuple[list[LLMCall], dict[str, str]]:
    """The trace's LLM calls, each once however many instrumentations traced it, and the duplicates' ids.

    The span that stands for a merged call is the outermost of its records; the call keeps the best facts
    of all (model, tokens, and the time to first token from whichever recorded it).
    """
    spans = sorted((s for s in tree.spans.values() if s.is_llm), key=lambda s: (s.clipped_start, s.span_id))
    facts = {s.span_id: llm_facts(s.attributes, s.scope) for s in spans}
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
        depth = {s.span_id: len(tree.ancestors(s)) for s in group}
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
                error=next((e for s in group if (e := error_of(s.status, s.attributes, s.events))), None),
                input_tokens=merged.input_tokens,
                cache_read_tokens=merged.cache_read_tokens,
                cache_write_tokens=merged.cache_write_tokens,
                speed=merged.speed,
                cache_miss=merged.cache_miss,
                cache_missed_tokens=merged.cache_missed_tokens,
                first_content=merged.first_content,
            )
        )
    return calls, duplicate_of


def merge_notes(tree: TraceTree, calls: Sequence[LLMCall]) -> list[str]:
    """A line for each way LLM calls were recorded more than once and counted once: which spans, how many."""
    by_names: dict[tuple[str, ...], list[int]] = {}
    for call in calls:
        if len(call.traced_by) > 1:
            names = tuple(tree.spans[span_id].name for span_id in call.traced_by)
            by_names.setdefault(names, []).append(call.index)
    notes = []
    for names, indexes in by_names.items():
        if len(indexes) == 1:
            notes.append(f"LLM call {indexes[0]} was recorded by {len(names)} spans ({', '.join(names)}), counted once")
        else:
            notes.append(
                f"LLM calls {', '.join(map(str, indexes))} were each recorded by {len(names)} spans "
                f"({', '.join(names)}), counted once"
            )
    return notes
