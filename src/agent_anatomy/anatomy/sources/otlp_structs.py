"""OTLP JSON lines decoded straight into typed structs by msgspec (``pip install 'agent-anatomy[fast]'``), for the
records ``otlp`` makes of the same line, at about 60 % of the cost.

msgspec skips what the anatomy does not read (a line's resource attributes but ``service.name``, say) without
making objects of it, and fills slotted structs instead of dicts; that is most of the time a line takes. The
records are the same as ``otlp.otlp_records`` makes of ``codec.loads(line)``: each value is taken as that reader
takes it, and whatever the structs cannot tell apart from another shape — a line of another format, a value of
an unexpected type, a scope in both the current and the old (``instrumentationLibrary``) spelling, a line that
is not valid JSON — gives None, for the caller to read the line that way, with its error messages.
"""

from __future__ import annotations

from typing import Any, Final

from ... import semconv
from ..model import EventRecord, SpanRecord
from ._common import DOCUMENT_ERRORS, KINDS, STATUS, hex_id, nanos
from .otlp import any_value

__all__ = ["AVAILABLE", "records_of_line"]

try:
    import msgspec
except ImportError:  # the dict reader alone
    msgspec = None  # type: ignore[assignment]

AVAILABLE: Final = msgspec is not None
"""Whether msgspec is installed (else ``records_of_line`` always gives None)."""

if msgspec is not None:
    _UNSET: Any = msgspec.UNSET

    class _AnyValue(msgspec.Struct):
        # Any, not the types OTLP names: a value is taken as it comes, as the dict reader takes it.
        stringValue: Any = _UNSET
        boolValue: Any = _UNSET
        doubleValue: Any = _UNSET
        intValue: Any = _UNSET
        arrayValue: Any = _UNSET
        kvlistValue: Any = _UNSET
        bytesValue: Any = _UNSET

    class _KeyValue(msgspec.Struct):
        key: Any = _UNSET
        value: _AnyValue | None = None

    class _Event(msgspec.Struct):
        name: Any = ""
        timeUnixNano: Any = None
        attributes: list[_KeyValue] | None = None

    class _Status(msgspec.Struct):
        code: Any = 0

    class _Span(msgspec.Struct):
        traceId: Any = None
        spanId: Any = None
        parentSpanId: Any = None
        name: Any = ""
        kind: Any = 1
        startTimeUnixNano: Any = None
        endTimeUnixNano: Any = None
        attributes: list[_KeyValue] | None = None
        events: list[_Event] | None = None
        status: _Status | None = None

    class _Scope(msgspec.Struct):
        name: Any = None

    class _ScopeSpans(msgspec.Struct):
        scope: _Scope | None = None
        instrumentationLibrary: _Scope | None = None
        spans: list[_Span] | None = None

    class _Resource(msgspec.Struct):
        attributes: list[_KeyValue] | None = None

    class _ResourceSpans(msgspec.Struct):
        resource: _Resource | None = None
        scopeSpans: list[_ScopeSpans] | None = None
        instrumentationLibrarySpans: list[_ScopeSpans] | None = None

    class _Document(msgspec.Struct):
        resourceSpans: list[_ResourceSpans] | None = None
        result: Any = _UNSET
        """Jaeger's ``/api/v3`` wraps the document in ``result``, which the dict reader takes first."""

    _decode = msgspec.json.Decoder(_Document).decode
    _FAILED: Final = (msgspec.DecodeError, *DOCUMENT_ERRORS)


class _Ambiguous(Exception):
    """The structs cannot tell what the dict reader would make of this: read the line that way."""


def records_of_line(line: bytes | str) -> list[SpanRecord] | None:
    """The records of one OTLP JSON line, or None when the line is to be read as a dict (see the module)."""
    if msgspec is None:
        return None
    try:
        document = _decode(line)
        if document.resourceSpans is None or document.result is not _UNSET:  # another format, or wrapped
            return None
        return [record for resource in document.resourceSpans for record in _resource_records(resource)]
    except (_Ambiguous, *_FAILED):
        return None


def _value(value: _AnyValue | None) -> Any:
    """``otlp.any_value`` of the same value: the first of its keys present, in that reader's order."""
    if value is None:
        return None
    if value.stringValue is not _UNSET:
        return value.stringValue
    if value.boolValue is not _UNSET:
        return value.boolValue
    if value.doubleValue is not _UNSET:
        return value.doubleValue
    if value.intValue is not _UNSET:
        return int(value.intValue)
    if value.arrayValue is not _UNSET:
        return any_value({"arrayValue": value.arrayValue})
    if value.kvlistValue is not _UNSET:
        return any_value({"kvlistValue": value.kvlistValue})
    if value.bytesValue is not _UNSET:
        return value.bytesValue
    return None


def _attributes(items: list[_KeyValue] | None) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in items if item.key is not _UNSET} if items else {}


def _resource_records(resource: _ResourceSpans) -> list[SpanRecord]:
    service = None
    if resource.resource is not None:
        for item in resource.resource.attributes or ():
            if item.key == semconv.SERVICE_NAME:  # the last of them, as the dict reader takes it
                service = _value(item.value)
    service = str(service) if service else None
    records: list[SpanRecord] = []
    for scope in resource.scopeSpans or resource.instrumentationLibrarySpans or ():
        if scope.scope is not None and scope.instrumentationLibrary is not None:  # ({} or ...: the dict reader's)
            raise _Ambiguous
        library = scope.scope or scope.instrumentationLibrary
        name = library.name if library is not None else None
        scope_name = str(name) if name else None
        records.extend(_record(span, service, scope_name) for span in scope.spans or ())
    return records


def _record(span: _Span, service: str | None, scope: str | None) -> SpanRecord:
    """``otlp._record`` of the same span."""
    name, kind, status = span.name, span.kind, span.status
    return SpanRecord(
        trace_id=hex_id(span.traceId, 32, "traceId"),
        span_id=hex_id(span.spanId, 16, "spanId"),
        parent_id=hex_id(span.parentSpanId, 16, "parentSpanId") if span.parentSpanId else None,
        name=name if type(name) is str else str(name),
        start_ns=nanos(span.startTimeUnixNano, "startTimeUnixNano"),
        end_ns=nanos(span.endTimeUnixNano, "endTimeUnixNano"),
        attributes=_attributes(span.attributes),
        events=tuple(
            EventRecord(str(e.name), nanos(e.timeUnixNano, "timeUnixNano"), _attributes(e.attributes))
            for e in span.events
        )
        if span.events
        else (),
        status=STATUS.get(status.code, "UNSET") if status is not None else "UNSET",
        kind=KINDS.get(kind) or str(kind).removeprefix("SPAN_KIND_"),
        service=service,
        scope=scope,
    )
