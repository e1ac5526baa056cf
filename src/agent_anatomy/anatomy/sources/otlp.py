"""OTLP JSON: ``{"resourceSpans": [...]}``, as the OTel Collector's file exporter, Jaeger's ``/api/v3``
and agent-anatomy's ``jsonl:`` exporter write it (ids in hex or, as protobuf JSON has them, base64)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from ... import semconv
from ..model import EventRecord, SpanRecord
from ._common import KINDS, STATUS, Malformed, hex_id, nanos

__all__ = ["any_value", "attributes", "otlp_records"]


def any_value(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
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
    if not items:
        return {}
    if not isinstance(items, list):
        raise Malformed("attributes as a list of {key, value}")
    return {item["key"]: any_value(item.get("value")) for item in items if isinstance(item, Mapping) and "key" in item}


def otlp_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    resource_spans = document.get("resourceSpans")
    if not isinstance(resource_spans, list):
        raise Malformed('"resourceSpans" as a list')
    for resource in resource_spans:
        resource_attributes = attributes((resource.get("resource") or {}).get("attributes"))
        service = resource_attributes.get(semconv.SERVICE_NAME)
        for scope in resource.get("scopeSpans") or resource.get("instrumentationLibrarySpans") or []:
            library = scope.get("scope") or scope.get("instrumentationLibrary") or {}
            scope_name = library.get("name") or None
            for span in scope.get("spans") or []:
                status = span.get("status") or {}
                yield SpanRecord(
                    trace_id=hex_id(span.get("traceId"), 32, "traceId"),
                    span_id=hex_id(span.get("spanId"), 16, "spanId"),
                    parent_id=hex_id(span["parentSpanId"], 16, "parentSpanId") if span.get("parentSpanId") else None,
                    name=str(span.get("name", "")),
                    start_ns=nanos(span.get("startTimeUnixNano"), "startTimeUnixNano"),
                    end_ns=nanos(span.get("endTimeUnixNano"), "endTimeUnixNano"),
                    attributes=attributes(span.get("attributes")),
                    events=tuple(
                        EventRecord(
                            str(e.get("name", "")),
                            nanos(e.get("timeUnixNano"), "timeUnixNano"),
                            attributes(e.get("attributes")),
                        )
                        for e in span.get("events") or []
                    ),
                    status=STATUS.get(status.get("code", 0), "UNSET"),
                    kind=KINDS.get(span.get("kind", 1), str(span.get("kind")).removeprefix("SPAN_KIND_")),
                    service=str(service) if service else None,
                    scope=str(scope_name) if scope_name else None,
                )
