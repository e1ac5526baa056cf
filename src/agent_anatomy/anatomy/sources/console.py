"""What the OTel SDK's ``ConsoleSpanExporter`` prints (``OTEL_TRACES_EXPORTER=console``): one pretty-printed JSON
object per span (``ReadableSpan.to_json``), one after another, often between the program's own output.

Times are ISO 8601 strings to the microsecond, ids ``0x``-prefixed hex, the kind ``SpanKind.CLIENT``.
"""

from __future__ import annotations

import calendar
import datetime
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from ... import semconv
from ..model import EventRecord, SpanRecord
from ._common import Malformed, hex_id

__all__ = ["console_documents", "console_records", "is_console_span"]

_START: Final = '{\n    "name"'
"""How the exporter's every span begins (``json.dumps(..., indent=4)``)."""


def is_console_span(document: object) -> bool:
    """Whether a parsed JSON value is one span as the console exporter prints it."""
    return (
        isinstance(document, Mapping)
        and "name" in document
        and isinstance(document.get("context"), Mapping)
        and "trace_id" in document["context"]
    )


def console_documents(text: str) -> list[dict[str, Any]]:
    """Every span object in the text, whatever the program printed around them."""
    decoder = json.JSONDecoder()
    found, index = [], text.find(_START)
    while index != -1:
        try:
            document, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            end = index + len(_START)
        else:
            if is_console_span(document):
                found.append(document)
        index = text.find(_START, end)
    return found


def _ns(value: Any, what: str) -> int:
    if not isinstance(value, str):
        raise Malformed(f"{what} as an ISO 8601 time, got {value!r}")
    try:
        moment = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise Malformed(f"{what} as an ISO 8601 time like 2026-12-02T13:52:00.000000Z, got {value!r}") from None
    return calendar.timegm(moment.timetuple()) * 1_000_000_000 + moment.microsecond * 1000


def _id(value: Any, width: int, what: str) -> str:
    return hex_id(value.removeprefix("0x") if isinstance(value, str) else value, width, what)


def console_records(documents: Iterable[Mapping[str, Any]]) -> Iterator[SpanRecord]:
    for span in documents:
        context = span["context"]
        start = _ns(span.get("start_time"), "start_time")
        end = _ns(span.get("end_time"), "end_time") if span.get("end_time") else start
        resource = (span.get("resource") or {}).get("attributes") or {}
        service = resource.get(semconv.SERVICE_NAME)
        yield SpanRecord(
            trace_id=_id(context.get("trace_id"), 32, "context.trace_id"),
            span_id=_id(context.get("span_id"), 16, "context.span_id"),
            parent_id=_id(span["parent_id"], 16, "parent_id") if span.get("parent_id") else None,
            name=str(span["name"]),
            start_ns=start,
            end_ns=end,
            attributes=dict(span.get("attributes") or {}),
            events=tuple(
                EventRecord(
                    str(e.get("name", "")), _ns(e.get("timestamp"), "event timestamp"), e.get("attributes") or {}
                )
                for e in span.get("events") or []
            ),
            status=str((span.get("status") or {}).get("status_code", "UNSET")),
            kind=str(span.get("kind", "SpanKind.INTERNAL")).removeprefix("SpanKind."),
            service=str(service) if service else None,
        )
