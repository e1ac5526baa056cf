"""OTLP JSON: ``{"resourceSpans": [...]}``, as the OTel Collector's file exporter, Jaeger's ``/api/v3``
and agent-anatomy's ``jsonl:`` exporter write it (ids in hex or, as protobuf JSON has them, base64)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from ... import semconv
from ..model import EventRecord, SpanRecord
from ._common import KINDS, STATUS, Malformed, hex_id, nanos

__all__ = ["any_value", "attributes", "otlp_records"]


_AS_IS: Final = frozenset({"stringValue", "boolValue", "doubleValue"})


def any_value(value: Any) -> Any:
    if type(value) is not dict and not isinstance(value, Mapping):  # the exact type first: an ABC check is slow
        return value
    if len(value) == 1:  # nearly every value: its one key says its type
        ((key, item),) = value.items()
        if key in _AS_IS:
            return item
        if key == "intValue":
            return int(item)
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return tuple(any_value(v) for v in (value["arrayValue"] or {}).get("values", []))
    if "kvlistValue" in value:
        return json.dumps({kv["key"]: any_value(kv.get("value")) for kv in value["kvlistValue"].get("values", [])})
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    return {item["key"]: any_value(item.get("value")) for item in _attribute_list(items) if _is_pair(item)}


def _attribute_list(items: Any) -> list[Any]:
    if not items:
        return []
    if not isinstance(items, list):
        raise Malformed("attributes as a list of {key, value}")
    return items


def _is_pair(item: Any) -> bool:
    # the exact type first: an ABC check is slow, and every attribute of a file comes here
    return (type(item) is dict or isinstance(item, Mapping)) and "key" in item


def _service_name(items: Any) -> str | None:
    """The resource's ``service.name``, its other attributes left unconverted (each span of a file repeats them)."""
    name = None
    for item in _attribute_list(items):
        if _is_pair(item) and item["key"] == semconv.SERVICE_NAME:  # the last of them, as in ``attributes``
            name = any_value(item.get("value"))
    return str(name) if name else None


def otlp_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    resource_spans = document.get("resourceSpans")
    if not isinstance(resource_spans, list):
        raise Malformed('"resourceSpans" as a list')
    for resource in resource_spans:
        service = _service_name((resource.get("resource") or {}).get("attributes"))
        for scope in resource.get("scopeSpans") or resource.get("instrumentationLibrarySpans") or []:
            library = scope.get("scope") or scope.get("instrumentationLibrary") or {}
            scope_name = library.get("name") or None
            for span in scope.get("spans") or []:
                yield _record(span, service, str(scope_name) if scope_name else None)


def _record(span: Mapping[str, Any], service: str | None, scope: str | None) -> SpanRecord:
    """One span (every span of a file comes here: each default is worked out only when it is needed)."""
    events = span.get("events")
    status = span.get("status")
    kind = span.get("kind", 1)
    name = span.get("name", "")
    return SpanRecord(
        trace_id=hex_id(span.get("traceId"), 32, "traceId"),
        span_id=hex_id(span.get("spanId"), 16, "spanId"),
        parent_id=hex_id(span["parentSpanId"], 16, "parentSpanId") if span.get("parentSpanId") else None,
        name=name if type(name) is str else str(name),
        start_ns=nanos(span.get("startTimeUnixNano"), "startTimeUnixNano"),
        end_ns=nanos(span.get("endTimeUnixNano"), "endTimeUnixNano"),
        attributes=attributes(span.get("attributes")),
        events=tuple(
            EventRecord(
                str(e.get("name", "")), nanos(e.get("timeUnixNano"), "timeUnixNano"), attributes(e.get("attributes"))
            )
            for e in events
        )
        if events
        else (),
        status=STATUS.get(status.get("code", 0), "UNSET") if status else "UNSET",
        kind=KINDS.get(kind) or str(kind).removeprefix("SPAN_KIND_"),
        service=service,
        scope=scope,
    )
