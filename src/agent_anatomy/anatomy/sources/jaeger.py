"""Jaeger JSON: ``{"data": [...]}`` from ``/api/traces/{id}``, or the traces themselves (the Jaeger UI's
download, one trace or a list of them; ``files`` unwraps those).

Jaeger writes a trace id without its leading zeros, and a 64-bit one in 16 digits: both are padded to 32.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ... import semconv
from ..model import EventRecord, SpanRecord
from ._common import Malformed, hex_id

__all__ = ["jaeger_records"]


def _trace_id(value: object) -> str:
    if isinstance(value, str) and 0 < len(value) < 32 and all(c in "0123456789abcdefABCDEF" for c in value):
        value = value.rjust(32, "0")
    return hex_id(value, 32, "traceID")


def jaeger_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    data = document.get("data")
    if not isinstance(data, list):
        raise Malformed('"data" as a list of traces')
    for trace in data:
        processes = trace.get("processes") or {}
        for span in trace.get("spans") or []:
            parent = None
            for reference in span.get("references") or []:
                if reference.get("refType") == "CHILD_OF" or parent is None:
                    parent = reference.get("spanID")
            if parent is None and span.get("parentSpanID"):
                parent = span["parentSpanID"]
            tags = {tag["key"]: tag.get("value") for tag in span.get("tags") or [] if "key" in tag}
            start = int(span.get("startTime", 0)) * 1000
            status = (
                "ERROR"
                if tags.get(semconv.JAEGER_ERROR) in (True, "true") or tags.get(semconv.OTEL_STATUS_CODE) == "ERROR"
                else ("OK" if tags.get(semconv.OTEL_STATUS_CODE) == "OK" else "UNSET")
            )
            kind = str(tags.get(semconv.JAEGER_SPAN_KIND, "internal")).upper()
            process = processes.get(span.get("processID"), {})
            yield SpanRecord(
                trace_id=_trace_id(span.get("traceID")),
                span_id=hex_id(span.get("spanID"), 16, "spanID"),
                parent_id=hex_id(parent, 16, "parent spanID") if parent else None,
                name=str(span.get("operationName", "")),
                start_ns=start,
                end_ns=start + int(span.get("duration", 0)) * 1000,
                attributes=tags,
                events=tuple(
                    EventRecord(
                        str(next((f.get("value") for f in log.get("fields", []) if f.get("key") == "event"), "log")),
                        int(log.get("timestamp", 0)) * 1000,
                        {f["key"]: f.get("value") for f in log.get("fields", []) if "key" in f},
                    )
                    for log in span.get("logs") or []
                ),
                status=status,
                kind=kind,
                service=process.get("serviceName"),
                scope=_tag(tags, semconv.OTEL_SCOPE_NAME, semconv.OTEL_LIBRARY_NAME),
            )


def _tag(tags: Mapping[str, Any], *names: str) -> str | None:
    """The first of ``names`` the span's tags hold, as text."""
    for name in names:
        value = tags.get(name)
        if value:
            return str(value)
    return None
