"""LLM calls an agent made at once (a fan-out: the cookbook's parallelization, a thread pool of workers), and
runs of calls it made one after another that did not need each other's answers.

A *batch* is calls of one agent whose intervals overlap; what the overlap saved is their summed time beyond
the batch's wall time. An *independent run* is calls of one agent one after another with no tool call between,
each prompt shorter than the answer before it, so no prompt can hold the answer before it (the workers an
orchestrator runs in turn); run together they would take as long as the slowest. A router's attempts and
hedges race by design and are neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from .batches import Batch, Grouped
from .calls import LLMCall
from .model import TraceTree

__all__ = ["LLMBatch", "independent_runs", "llm_batches"]

_OVERLAP_NS: Final = 1_000_000
"""Calls overlapping by less than this (one starting as the other returns) ran one after another."""


@dataclass(frozen=True)
class LLMBatch(Grouped):
    """LLM calls of one agent, in order of start: made at once (``llm_batches``) or one after another
    (``independent_runs``)."""

    index: int
    calls: tuple[LLMCall, ...]
    touching_ns: ClassVar[int] = _OVERLAP_NS

    def members(self) -> Sequence[LLMCall]:
        return self.calls

    @property
    def overlap_saved_ns(self) -> int:
        """What running them at once saved: their summed time beyond the batch's wall time."""
        return max(self.sum_ns - self.wall_ns, 0)


def _by_agent(tree: TraceTree, calls: Sequence[LLMCall]) -> dict[str | None, list[LLMCall]]:
    """Each agent's calls in order of start, a router's attempts and hedges left out."""
    grouped: dict[str | None, list[LLMCall]] = {}
    for call in sorted(calls, key=lambda c: (c.start_ns, c.span_id)):
        if call.route_role is None and call.end_ns > call.start_ns:
            grouped.setdefault(tree.owner(tree.spans[call.span_id]), []).append(call)
    return grouped


def llm_batches(tree: TraceTree, calls: Sequence[LLMCall]) -> list[LLMBatch]:
    """The calls each agent made at once: two or more whose intervals overlap."""
    groups: list[list[LLMCall]] = []
    for own in _by_agent(tree, calls).values():
        current: list[LLMCall] = []
        reach = 0
        for call in own:
            if current and call.start_ns < reach - _OVERLAP_NS:
                current.append(call)
                reach = max(reach, call.end_ns)
            else:
                if len(current) > 1:
                    groups.append(current)
                current, reach = [call], call.end_ns
        if len(current) > 1:
            groups.append(current)
    groups.sort(key=lambda g: g[0].start_ns)
    return [LLMBatch(index, tuple(group)) for index, group in enumerate(groups, start=1)]


def independent_runs(
    tree: TraceTree, calls: Sequence[LLMCall], tools: Sequence[Batch], batched: Sequence[LLMBatch]
) -> list[LLMBatch]:
    """Runs of two or more calls of one agent made one after another, with no tool call between them and each
    prompt shorter than the answer before it (input and output tokens known), outside any batch."""
    in_batch = {c.span_id for b in batched for c in b.calls}
    tool_times = sorted((t.start_ns, t.end_ns) for b in tools for t in b.tools)
    runs: list[list[LLMCall]] = []
    for own in _by_agent(tree, calls).values():
        current: list[LLMCall] = []
        for call in own:
            previous = current[-1] if current else None
            if (
                previous is not None
                and call.span_id not in in_batch
                and previous.end_ns <= call.start_ns + _OVERLAP_NS
                and previous.output_tokens is not None
                and call.input_tokens is not None
                and call.input_tokens < previous.output_tokens
                and not any(previous.end_ns <= start < call.start_ns for start, _ in tool_times)
            ):
                current.append(call)
                continue
            if len(current) > 1:
                runs.append(current)
            current = [call] if call.span_id not in in_batch else []
        if len(current) > 1:
            runs.append(current)
    runs.sort(key=lambda r: r[0].start_ns)
    return [LLMBatch(index, tuple(run)) for index, run in enumerate(runs, start=1)]
