"""Tool calls grouped by the model turn they answer: each turn's batch, and how its tools ran together."""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Protocol

from .. import semconv
from .calls import LLMCall
from .model import SpanRecord, TraceTree
from .normalise import tool_name

__all__ = ["Batch", "Grouped", "ToolCall", "tool_batches"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    input_hash: str | None
    error: bool
    scheduled_by: str | None = None
    """Who decides when it runs when not the user's code (``claude_code``): then its batching is not advice."""

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


class Timed(Protocol):
    @property
    def start_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...
    @property
    def duration_ns(self) -> int: ...


class Grouped:
    """What a group of calls that answer one turn or ran at once is in time (a tool ``Batch``, an ``LLMBatch``):
    its members (``members()``) and how they ran together (each figure worked out once: a group never changes)."""

    touching_ns: ClassVar[int] = 0
    """How far a member may start before the one before it ends and still count as after it."""

    def members(self) -> Sequence[Timed]:
        raise NotImplementedError

    @functools.cached_property
    def start_ns(self) -> int:
        return min(m.start_ns for m in self.members())

    @functools.cached_property
    def end_ns(self) -> int:
        return max(m.end_ns for m in self.members())

    @property
    def wall_ns(self) -> int:
        return self.end_ns - self.start_ns

    @functools.cached_property
    def sum_ns(self) -> int:
        return sum(m.duration_ns for m in self.members())

    @functools.cached_property
    def max_ns(self) -> int:
        return max(m.duration_ns for m in self.members())

    @functools.cached_property
    def mode(self) -> str:
        """``single``; ``parallel`` when all started together; ``sequential`` when each started after the
        previous ended; otherwise ``mixed``."""
        members = self.members()
        if len(members) == 1:
            return "single"
        starts = [m.start_ns for m in members]
        if max(starts) - min(starts) <= max(2_000_000, self.max_ns // 20):
            return "parallel"
        ordered = sorted(members, key=lambda m: m.start_ns)
        if all(a.end_ns <= b.start_ns + self.touching_ns for a, b in itertools.pairwise(ordered)):
            return "sequential"
        return "mixed"

    @property
    def parallel_saving_ns(self) -> int:
        """What running all of them at once would save: the group's wall time beyond its slowest member."""
        return max(self.wall_ns - self.max_ns, 0)


@dataclass(frozen=True)
class Batch(Grouped):
    """The tool calls of one model turn: independent by construction."""

    index: int
    tools: tuple[ToolCall, ...]

    def members(self) -> Sequence[ToolCall]:
        return self.tools


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
                # Spans enclosing all of the turn's tools (the agent, a batch) say nothing of a gap; an LLM call
                # does, still streaming the blocks its tools started from.
                others = [
                    s
                    for s in tree.spans.values()
                    if s.span_id not in ids
                    and not s.is_tool
                    and (s.is_llm or not (s.clipped_start <= first and s.clipped_end >= last))
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


def tool_batches(
    tree: TraceTree, calls: Sequence[LLMCall], duplicate_of: Mapping[str, str] | None = None
) -> list[Batch]:
    """Tool calls grouped by the model turn they answer: those of one agent that started after the same of its
    LLM calls started (a tool may start while the call that asked for it still streams), cut again where an
    unexplained gap implies a turn the trace did not record. Tools of two agents
    (sub-agents, agents side by side) are never one batch; a tool call recorded twice counts once
    (``duplicate_of``, from ``second_records``)."""
    seconds = duplicate_of or {}
    starts: dict[str | None, list[int]] = {}
    for call in calls:
        if call.route_outcome != semconv.ROUTE_OUTCOME_LOST:
            starts.setdefault(tree.owner(tree.spans[call.span_id]), []).append(call.start_ns)
    for values in starts.values():
        values.sort()
    groups: dict[tuple[int, int, str], list[ToolCall]] = {}
    first_seen: dict[str | None, int] = {}
    tools = (s for s in tree.spans.values() if s.is_tool and s.span_id not in seconds)
    for span in sorted(tools, key=lambda s: (s.clipped_start, s.span_id)):
        owner = tree.owner(span)
        turn = bisect.bisect_right(starts.get(owner, []), span.clipped_start)
        order = first_seen.setdefault(owner, len(first_seen))
        groups.setdefault((order, turn, owner or ""), []).append(
            ToolCall(
                span_id=span.span_id,
                name=tool_name(span.name, span.attributes),
                start_ns=span.clipped_start,
                end_ns=span.clipped_end,
                input_hash=span.attributes.get(semconv.ANATOMY_TOOL_INPUT_HASH),
                error=span.status == "ERROR",
                scheduled_by=span.attributes.get(semconv.ANATOMY_TOOL_SCHEDULED_BY),
            )
        )
    pieces = [piece for tools in groups.values() for piece in _split_at_gaps(tree, tools)]
    pieces.sort(key=lambda tools: min((t.start_ns, t.span_id) for t in tools))
    return [
        Batch(index, tuple(sorted(tools, key=lambda t: (t.start_ns, t.span_id))))
        for index, tools in enumerate(pieces, start=1)
    ]
