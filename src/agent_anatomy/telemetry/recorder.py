"""The in-process span recorder: the finished spans of the most recent traces, kept for the anatomy.

A SpanProcessor whose hot path is a dictionary lookup and a list append under an uncontended lock.
Memory is bounded by trace count and by span count; the oldest traces are evicted first, and a single
trace larger than the span bound keeps its first spans and counts the rest as dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from ..errors import ConfigurationError, TraceNotFoundError

__all__ = ["DEFAULT_MAX_SPANS", "DEFAULT_MAX_TRACES", "SpanRecorder", "format_trace_id", "parse_trace_id"]

DEFAULT_MAX_TRACES: Final = 100
DEFAULT_MAX_SPANS: Final = 20_000


def format_trace_id(trace_id: int) -> str:
    """The 32-digit lowercase hex form that Jaeger and OTLP JSON use."""
    return f"{trace_id:032x}"


def parse_trace_id(trace_id: int | str) -> int:
    """A trace id from its int or hex form; ConfigurationError (a ValueError) naming the value when it is neither."""
    if isinstance(trace_id, int) and not isinstance(trace_id, bool):
        if 0 < trace_id < 1 << 128:
            return trace_id
    elif isinstance(trace_id, str):
        text = trace_id.strip().lower().removeprefix("0x")
        if 0 < len(text) <= 32 and all(c in "0123456789abcdef" for c in text) and int(text, 16):
            return int(text, 16)
    raise ConfigurationError(
        f"{trace_id!r} is not a trace id: expected up to 32 hex digits or a positive 128-bit int",
        setting="trace_id",
        value=trace_id,
    )


class SpanRecorder(SpanProcessor):
    """Keeps finished spans of the last ``max_traces`` traces, at most ``max_spans`` spans in all."""

    def __init__(self, max_traces: int = DEFAULT_MAX_TRACES, max_spans: int = DEFAULT_MAX_SPANS) -> None:
        if max_traces < 1 or max_spans < 1:
            raise ValueError(
                f"SpanRecorder bounds must be positive, got max_traces={max_traces}, max_spans={max_spans}"
            )
        self.max_traces = max_traces
        self.max_spans = max_spans
        self._lock = threading.Lock()
        self._traces: OrderedDict[int, list[ReadableSpan]] = OrderedDict()
        self._span_count = 0
        self._dropped = 0
        self._last_root: int | None = None
        self._last: int | None = None

    # --- SpanProcessor ---------------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None:
            return
        trace_id = context.trace_id
        with self._lock:
            spans = self._traces.get(trace_id)
            if spans is None:
                spans = self._open_trace(trace_id)
            if self._span_count >= self.max_spans and not self._evict_oldest(keep=trace_id):
                self._dropped += 1
                return
            spans.append(span)
            self._span_count += 1
            self._last = trace_id
            parent = span.parent
            if parent is None or parent.is_remote:
                self._last_root = trace_id

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # --- reading -----------------------------------------------------------------------------------

    @property
    def span_count(self) -> int:
        """Spans held now, across all traces."""
        return self._span_count

    @property
    def dropped_spans(self) -> int:
        """Spans not kept because one trace alone exceeded ``max_spans``."""
        return self._dropped

    def trace_ids(self) -> list[str]:
        """Hex ids of the traces held, oldest first."""
        with self._lock:
            return [format_trace_id(trace_id) for trace_id in self._traces]

    def trace_spans(self, trace_id: int | str) -> list[ReadableSpan]:
        """The finished spans of one trace, in the order they ended."""
        key = parse_trace_id(trace_id)
        with self._lock:
            spans = self._traces.get(key)
            if spans is not None:
                return list(spans)
            held = len(self._traces)
        raise TraceNotFoundError(
            f"trace {format_trace_id(key)} is not in the recorder (it holds the last {held} traces, "
            f"at most {self.max_traces}); it may have been evicted or not have ended any span yet",
            trace_id=format_trace_id(key),
        )

    def last_trace(self) -> list[ReadableSpan]:
        """The spans of the trace whose root span ended last (else of the trace that ended a span last)."""
        with self._lock:
            for trace_id in (self._last_root, self._last):
                if trace_id is not None and trace_id in self._traces:
                    return list(self._traces[trace_id])
        raise TraceNotFoundError(
            "no trace has been recorded yet: call agent_anatomy.configure() before the traced code runs, "
            "and let at least one span end"
        )

    def clear(self) -> None:
        """Forget every recorded span."""
        with self._lock:
            self._traces.clear()
            self._span_count = 0
            self._dropped = 0
            self._last_root = self._last = None

    # --- bounds ------------------------------------------------------------------------------------

    def _open_trace(self, trace_id: int) -> list[ReadableSpan]:
        while len(self._traces) >= self.max_traces:
            self._evict_oldest(keep=None)
        spans: list[ReadableSpan] = []
        self._traces[trace_id] = spans
        return spans

    def _evict_oldest(self, keep: int | None) -> bool:
        """Drop the oldest trace other than ``keep``; False when there is none to drop."""
        if keep is None:
            if not self._traces:
                return False
            self._span_count -= len(self._traces.popitem(last=False)[1])
            return True
        for trace_id in self._traces:
            if trace_id != keep:
                self._span_count -= len(self._traces.pop(trace_id))
                return True
        return False
