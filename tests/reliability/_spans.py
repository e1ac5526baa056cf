"""A span processor that knows which spans are still open: no fault may leave one behind."""

from __future__ import annotations

import threading

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor


def _key(span: ReadableSpan) -> tuple[int, int]:
    # on_end gets a ReadableSpan copy, not the Span that on_start saw: match them by their ids.
    context = span.get_span_context()
    assert context is not None
    return context.trace_id, context.span_id


class OpenSpans(SpanProcessor):
    """Tracks every started span until it ends; ``open`` lists the names of those that never did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[tuple[int, int], Span] = {}
        self.started = 0
        self.ended: list[ReadableSpan] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        with self._lock:
            self.started += 1
            self._open[_key(span)] = span

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            self._open.pop(_key(span), None)
            self.ended.append(span)

    @property
    def open(self) -> list[str]:
        with self._lock:
            return sorted(span.name for span in self._open.values())
