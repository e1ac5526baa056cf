"""One neutral span model, whatever the spans came from, and the tree of one trace.

``SpanRecord`` is what every source (the in-process recorder, OTLP JSON, Jaeger JSON, a live Jaeger)
is turned into. ``TraceTree`` builds one trace from records and makes it safe to analyse: duplicate
spans are merged, spans whose parent is missing become roots, and each span's interval is clipped to
its parent's (as Jaeger's critical path does), so clock skew between services cannot make a child
outlive its parent. Times are integer nanoseconds since the epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import semconv
from .normalise import role_of

__all__ = ["EventRecord", "SpanRecord", "TraceTree", "group_traces"]

_logger = logging.getLogger(__name__)
_warned_cycles: set[str] = set()

_SHARED_MAX_CHARS = 64
_SHARED_MAX_ENTRIES = 50_000
_shared_strings: dict[str, str] = {}
"""One object for equal short strings (trace ids, names, attribute keys, models): most of a large file's memory."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    name: str
    time_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SpanRecord:
    """One span, as the anatomy sees it."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[EventRecord, ...] = ()
    status: str = "UNSET"
    kind: str = "INTERNAL"
    service: str | None = None
    scope: str | None = None
    """The instrumentation scope that wrote the span (``agent_anatomy``, the SDK's, a peer's), where known."""
    clipped_start: int = 0
    """The start once clipped into the parent's interval (set by TraceTree)."""
    clipped_end: int = 0

    @property
    def duration_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)

    role: str | None = field(default=None, repr=False)
    """What the span is (an ``OPERATION_*`` name, ``chat`` for any LLM call), whoever wrote it: found by
    ``normalise.role_of`` when the record is made."""

    def __post_init__(self) -> None:
        if self.role is not None:  # a record made again from one made before (a copy, a large file's kept one)
            return  # its strings were shared then, and its role found
        # Thousands of spans repeat the same few strings (trace id, names, attribute keys, models): one
        # object each instead of one per span, which is most of a large file's memory.
        if len(_shared_strings) >= _SHARED_MAX_ENTRIES:  # bounded, unlike sys.intern's for life
            _shared_strings.clear()
        shared = _shared_strings.setdefault  # the string already held, else this one (one C call each)
        self.trace_id = shared(self.trace_id, self.trace_id)
        self.name = shared(self.name, self.name)
        if self.service is not None:
            self.service = shared(self.service, self.service)
        if self.scope is not None:
            self.scope = shared(self.scope, self.scope)
        if self.attributes:
            self.attributes = {
                shared(k, k): shared(v, v) if type(v) is str and len(v) <= _SHARED_MAX_CHARS else v
                for k, v in self.attributes.items()
            }
        self.role = role_of(self.name, self.attributes)

    @property
    def operation(self) -> str | None:
        return self.role

    @property
    def is_llm(self) -> bool:
        return self.role == semconv.OPERATION_CHAT

    @property
    def is_tool(self) -> bool:
        return self.role == semconv.OPERATION_EXECUTE_TOOL


def _merge(kept: SpanRecord, duplicate: SpanRecord) -> SpanRecord:
    """Two copies of one span (exported twice, or from two sources): keep the more complete one."""

    def completeness(record: SpanRecord) -> tuple[int, int, int]:
        return (record.end_ns, len(record.attributes), len(record.events))

    return duplicate if completeness(duplicate) > completeness(kept) else kept


class TraceTree:
    """The spans of one trace, as a tree that is safe to walk."""

    def __init__(self, trace_id: str, records: Iterable[SpanRecord]) -> None:
        self.trace_id = trace_id
        spans: dict[str, SpanRecord] = {}
        for record in records:
            if record.end_ns < record.start_ns:
                record.end_ns = record.start_ns
            previous = spans.get(record.span_id)
            spans[record.span_id] = record if previous is None else _merge(previous, record)
        self.spans = spans
        self.children: dict[str | None, list[SpanRecord]] = {}
        for record in spans.values():
            parent = record.parent_id if record.parent_id in spans and record.parent_id != record.span_id else None
            self.children.setdefault(parent, []).append(record)
        self._cut: set[str] = set()
        """Spans made roots where a parent cycle was cut: their parent id no longer counts."""
        self.cycles_broken = self._break_cycles(self._clip(self.children.get(None, [])))
        """How many parent cycles were cut (each at its earliest span, which became a root)."""
        for siblings in self.children.values():
            siblings.sort(key=lambda r: (r.start_ns, r.end_ns, r.span_id))
        self.roots = self.children.get(None, [])
        self.joined: tuple[str, tuple[str, ...]] | None = None
        """For the traces of one conversation read as one (``conversations``): its id and theirs."""
        self._chains: dict[str, list[SpanRecord]] = {}
        """Each span's ancestry once asked for: the tree no longer changes (filled from here on only)."""
        self._owners: dict[str, str | None] = {}
        self._subtrees: dict[str, frozenset[str]] = {}

    def _break_cycles(self, reached: set[str]) -> int:
        """Spans whose parent ids loop (A under B under A) hang under no root and would vanish: keep them.
        ``reached``: the spans the roots hold (``_clip``'s walk), the others being in or under a cycle.

        Each cycle is cut at its earliest-starting span, which becomes a root; a warning says so once.
        """
        broken = 0
        while len(reached) < len(self.spans):
            cut = min(
                (s for s in self.spans.values() if s.span_id not in reached), key=lambda s: (s.start_ns, s.span_id)
            )
            self.children[cut.parent_id].remove(cut)
            self.children.setdefault(None, []).append(cut)
            self._cut.add(cut.span_id)
            reached.update(self._clip([cut]))
            broken += 1
        if broken and self.trace_id not in _warned_cycles:
            _warned_cycles.add(self.trace_id)
            _logger.warning(
                "agent-anatomy: trace %s has %d parent cycle(s) among its span ids; each was cut at its earliest "
                "span, which is shown as a root",
                self.trace_id,
                broken,
            )
        return broken

    def _clip(self, roots: Iterable[SpanRecord]) -> set[str]:
        """Each span under ``roots`` clipped into its parent's interval; the ids of those it reached."""
        stack: list[tuple[SpanRecord, int, int]] = [(root, root.start_ns, root.end_ns) for root in roots]
        seen: set[str] = set()
        while stack:
            span, low, high = stack.pop()
            if span.span_id in seen:  # a cycle of parent ids in a broken trace
                continue
            seen.add(span.span_id)
            span.clipped_start = min(max(span.start_ns, low), high)
            span.clipped_end = max(min(span.end_ns, high), span.clipped_start)
            for child in self.children.get(span.span_id, []):
                stack.append((child, span.clipped_start, span.clipped_end))
        return seen

    @property
    def start_ns(self) -> int:
        return min((r.clipped_start for r in self.roots), default=0)

    @property
    def end_ns(self) -> int:
        return max((r.clipped_end for r in self.roots), default=0)

    @property
    def wall_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 0)

    @property
    def root(self) -> SpanRecord | None:
        """The single root span, when the trace has exactly one."""
        return self.roots[0] if len(self.roots) == 1 else None

    @property
    def services(self) -> list[str]:
        """The trace's services, the root's first (the one that served the request), then by name."""
        services = sorted({r.service for r in self.spans.values() if r.service})
        first = next((r.service for r in sorted(self.roots, key=lambda r: r.start_ns) if r.service), None)
        return [first, *(s for s in services if s != first)] if first else services

    def parent(self, span: SpanRecord) -> SpanRecord | None:
        """The span's parent in this tree (None for a root, a missing parent, or a cut cycle)."""
        if span.parent_id is None or span.parent_id == span.span_id or span.span_id in self._cut:
            return None
        return self.spans.get(span.parent_id)

    def kids(self, span: SpanRecord | None) -> list[SpanRecord]:
        return self.children.get(span.span_id if span is not None else None, [])

    def walk(self) -> Iterator[SpanRecord]:
        """Every span, from the roots down, each before its children."""
        for root in self.roots:
            yield root
            yield from self.descendants(root)

    def descendants(self, span: SpanRecord) -> Iterable[SpanRecord]:
        stack = list(self.kids(span))
        seen: set[str] = set()
        while stack:
            child = stack.pop()
            if child.span_id in seen:
                continue
            seen.add(child.span_id)
            yield child
            stack.extend(self.kids(child))

    def ancestors(self, span: SpanRecord) -> list[SpanRecord]:
        """``span`` and its ancestors, itself first, up to its root (shared: not to be changed)."""
        chains: dict[str, list[SpanRecord]] | None = self.__dict__.get("_chains")  # (none while being built)
        if chains is not None and (known := chains.get(span.span_id)) is not None:
            return known
        chain = [span]
        seen = {span.span_id}
        while (parent := self.parent(chain[-1])) is not None and parent.span_id not in seen:
            seen.add(parent.span_id)
            chain.append(parent)
        if chains is not None:
            chains[span.span_id] = chain
        return chain

    def common_ancestor(self, spans: Sequence[SpanRecord]) -> SpanRecord | None:
        """The lowest span above (or among) all of ``spans``; None when they share no root."""
        chains = [self.ancestors(s) for s in spans]
        if not chains:
            return None
        shared = set.intersection(*({s.span_id for s in chain} for chain in chains))
        return next((s for s in chains[0] if s.span_id in shared), None)

    def owner(self, span: SpanRecord) -> str | None:
        """The nearest agent span above ``span`` (None when no agent holds it)."""
        if span.span_id in self._owners:
            return self._owners[span.span_id]
        found = next(
            (a.span_id for a in self.ancestors(span)[1:] if a.operation == semconv.OPERATION_INVOKE_AGENT), None
        )
        self._owners[span.span_id] = found
        return found

    def subtree_ids(self, span: SpanRecord | None) -> frozenset[str]:
        """The ids of ``span`` and every span below it (none without a span); found once per span."""
        if span is None:
            return frozenset()
        found = self._subtrees.get(span.span_id)
        if found is None:
            found = self._subtrees[span.span_id] = frozenset(
                (span.span_id, *(d.span_id for d in self.descendants(span)))
            )
        return found

    def __len__(self) -> int:
        return len(self.spans)


def group_traces(records: Iterable[SpanRecord]) -> dict[str, TraceTree]:
    """Records of possibly many traces, as one tree per trace, in order of first start."""
    by_trace: dict[str, list[SpanRecord]] = {}
    for record in records:
        by_trace.setdefault(record.trace_id, []).append(record)
    trees = {trace_id: TraceTree(trace_id, spans) for trace_id, spans in by_trace.items()}
    return dict(sorted(trees.items(), key=lambda item: item[1].start_ns))
