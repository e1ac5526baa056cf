"""Spans of the running process: the OTel SDK's finished spans (the recorder's, an in-memory exporter's)."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.sdk.trace import ReadableSpan

from ... import semconv
from ...telemetry.recorder import format_trace_id
from ..model import EventRecord, SpanRecord

__all__ = ["records_from_readable"]


def records_from_readable(spans: Iterable[ReadableSpan]) -> list[SpanRecord]:
    """Records from the OTel SDK's finished spans (the recorder, an in-memory exporter)."""
    records = []
    for span in spans:
        context = span.context
        if context is None or span.start_time is None:
            continue
        parent = span.parent
        scope = span.instrumentation_scope
        records.append(
            SpanRecord(
                trace_id=format_trace_id(context.trace_id),
                span_id=f"{context.span_id:016x}",
                parent_id=f"{parent.span_id:016x}" if parent is not None else None,
                name=span.name,
                start_ns=span.start_time,
                end_ns=span.end_time or span.start_time,
                attributes=dict(span.attributes or {}),
                events=tuple(EventRecord(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events),
                status=span.status.status_code.name,
                kind=span.kind.name,
                service=str(span.resource.attributes.get(semconv.SERVICE_NAME)) if span.resource else None,
                scope=scope.name if scope is not None and scope.name else None,
            )
        )
    return records
