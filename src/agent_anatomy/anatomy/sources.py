"""Where spans come from: the in-process recorder, OTLP JSON, Jaeger JSON, and a live Jaeger.

Every reader returns ``SpanRecord`` lists. Files may hold one OTLP JSON document
(``{"resourceSpans": [...]}``, as the OTel Collector's file exporter and Jaeger's ``/api/v3`` write it,
also wrapped as ``{"result": ...}``), JSON Lines of such documents (agent-anatomy's ``jsonl:`` exporter),
a Jaeger JSON document (``{"data": [...]}`` from ``/api/traces/{id}`` or the Jaeger UI's download), or
Arize Phoenix's span list (``{"data": [...], "next_cursor": ...}`` from ``/v1/projects/{project}/spans``).
A file that is none of these raises ``SourceError`` naming the file, the position and what was
expected; an HTTP failure names the URL.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TextIO

from opentelemetry.sdk.trace import ReadableSpan

from .. import semconv
from ..errors import SourceError, TraceNotFoundError
from ..telemetry.recorder import format_trace_id
from .model import EventRecord, SpanRecord

__all__ = [
    "fetch_jaeger_trace",
    "fetch_phoenix_trace",
    "records_from_document",
    "records_from_file",
    "records_from_readable",
    "search_jaeger",
]

_STATUS: Final = {
    0: "UNSET",
    1: "OK",
    2: "ERROR",
    "STATUS_CODE_UNSET": "UNSET",
    "STATUS_CODE_OK": "OK",
    "STATUS_CODE_ERROR": "ERROR",
}
_KINDS: Final = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


# --- in-process ----------------------------------------------------------------------------------------


def records_from_readable(spans: Iterable[ReadableSpan]) -> list[SpanRecord]:
    """Records from the OTel SDK's finished spans (the recorder, an in-memory exporter)."""
    records = []
    for span in spans:
        context = span.context
        if context is None or span.start_time is None:
            continue
        parent = span.parent
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
            )
        )
    return records


# --- OTLP JSON -----------------------------------------------------------------------------------------


class _Malformed(Exception):
    """What was expected where; turned into a SourceError with the file and position."""


def _id(value: object, width: int, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{what} as a hex string")
    text = value.lower()
    if len(text) == width and all(c in "0123456789abcdef" for c in text):
        return text
    try:  # the protobuf JSON mapping writes bytes as base64
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _Malformed(f"{what} of {width} hex digits, got {value!r}") from None
    if len(raw) * 2 != width:
        raise _Malformed(f"{what} of {width} hex digits, got {value!r}")
    return raw.hex()


def _any_value(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return tuple(_any_value(v) for v in (value["arrayValue"] or {}).get("values", []))
    if "kvlistValue" in value:
        return json.dumps({kv["key"]: _any_value(kv.get("value")) for kv in value["kvlistValue"].get("values", [])})
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _attributes(items: Any) -> dict[str, Any]:
    if not items:
        return {}
    if not isinstance(items, list):
        raise _Malformed("attributes as a list of {key, value}")
    return {item["key"]: _any_value(item.get("value")) for item in items if isinstance(item, Mapping) and "key" in item}


def _nanos(value: Any, what: str) -> int:
    if value is None:  # protobuf JSON leaves out zero-valued fields
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _Malformed(f"{what} as nanoseconds, got {value!r}") from None


def _otlp_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    resource_spans = document.get("resourceSpans")
    if not isinstance(resource_spans, list):
        raise _Malformed('"resourceSpans" as a list')
    for resource in resource_spans:
        resource_attributes = _attributes((resource.get("resource") or {}).get("attributes"))
        service = resource_attributes.get(semconv.SERVICE_NAME)
        for scope in resource.get("scopeSpans") or resource.get("instrumentationLibrarySpans") or []:
            for span in scope.get("spans") or []:
                status = span.get("status") or {}
                yield SpanRecord(
                    trace_id=_id(span.get("traceId"), 32, "traceId"),
                    span_id=_id(span.get("spanId"), 16, "spanId"),
                    parent_id=_id(span["parentSpanId"], 16, "parentSpanId") if span.get("parentSpanId") else None,
                    name=str(span.get("name", "")),
                    start_ns=_nanos(span.get("startTimeUnixNano"), "startTimeUnixNano"),
                    end_ns=_nanos(span.get("endTimeUnixNano"), "endTimeUnixNano"),
                    attributes=_attributes(span.get("attributes")),
                    events=tuple(
                        EventRecord(
                            str(e.get("name", "")),
                            _nanos(e.get("timeUnixNano"), "timeUnixNano"),
                            _attributes(e.get("attributes")),
                        )
                        for e in span.get("events") or []
                    ),
                    status=_STATUS.get(status.get("code", 0), "UNSET"),
                    kind=_KINDS.get(span.get("kind", 1), str(span.get("kind")).removeprefix("SPAN_KIND_")),
                    service=str(service) if service else None,
                )


# --- Jaeger JSON ------------------------------------------------------------------------------------------


def _jaeger_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    data = document.get("data")
    if not isinstance(data, list):
        raise _Malformed('"data" as a list of traces')
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
                trace_id=_id(span.get("traceID"), 32, "traceID").rjust(32, "0"),
                span_id=_id(span.get("spanID"), 16, "spanID"),
                parent_id=_id(parent, 16, "parent spanID") if parent else None,
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
            )


# --- Arize Phoenix's span JSON -------------------------------------------------------------------------

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _iso_nanos(value: Any, what: str) -> int:
    if not isinstance(value, str):
        raise _Malformed(f"{what} as an ISO 8601 time")
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(microseconds=1) * 1000


def _flatten(attributes: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Phoenix may answer with nested attributes (``{"llm": {"model_name": ...}}``); spans have dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in attributes.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _phoenix_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    for span in document["data"]:
        context = span.get("context") or {}
        parent = span.get("parent_id")
        yield SpanRecord(
            trace_id=_id(context.get("trace_id"), 32, "context.trace_id"),
            span_id=_id(context.get("span_id"), 16, "context.span_id"),
            parent_id=_id(parent, 16, "parent_id") if parent else None,
            name=str(span.get("name", "")),
            start_ns=_iso_nanos(span.get("start_time"), "start_time"),
            end_ns=_iso_nanos(span.get("end_time"), "end_time"),
            attributes=_flatten(span.get("attributes") or {}),
            events=tuple(
                EventRecord(
                    str(event.get("name", "")),
                    _iso_nanos(event.get("timestamp"), "event timestamp"),
                    _flatten(event.get("attributes") or {}),
                )
                for event in span.get("events") or []
            ),
            status=_STATUS.get(span.get("status_code"), str(span.get("status_code") or "UNSET")),
        )


def _is_phoenix(document: Mapping[str, Any]) -> bool:
    data = document.get("data")
    return isinstance(data, list) and bool(data) and isinstance(data[0], Mapping) and "context" in data[0]


def records_from_document(document: Any) -> list[SpanRecord]:
    """Records from one parsed JSON document of any supported shape (or a list of such documents)."""
    if isinstance(document, list):
        return [record for item in document for record in records_from_document(item)]
    if not isinstance(document, Mapping):
        raise _Malformed('a JSON object with "resourceSpans" (OTLP) or "data" (Jaeger)')
    if "result" in document and isinstance(document["result"], Mapping):
        document = document["result"]
    if "resourceSpans" in document:
        return list(_otlp_records(document))
    if _is_phoenix(document):
        return list(_phoenix_records(document))
    if "data" in document:
        return list(_jaeger_records(document))
    raise _Malformed('an object with "resourceSpans" (OTLP JSON) or "data" (Jaeger or Phoenix JSON)')


# --- files ---------------------------------------------------------------------------------------------


Progress = Callable[[str, int, int], None]
"""Told now and then how far a long read has got: (what, done, in all); ``reading``: bytes of the file,
``analysing``: the traces' share of the work, in parts."""
PROGRESS_READING: Final = "reading"
PROGRESS_ANALYSING: Final = "analysing"
_PROGRESS_EVERY: Final = 20_000
"""Lines between two progress reports."""


def records_from_file(path: str | os.PathLike[str], progress: Progress | None = None) -> list[SpanRecord]:
    """Records from an OTLP JSON, OTLP JSON Lines or Jaeger JSON file.

    JSON Lines are read a line at a time, so the file's text is never held whole (a report on a file of
    thousands of traces needs memory for the spans, not for the file as well).
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8-sig") as file:  # -sig: a byte order mark is accepted and dropped
            return _records_from_text_file(source, file, progress)
    except OSError as exc:
        raise SourceError(f"cannot read {source}: {exc.strerror}", source=source) from exc
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{source} is not a text file (byte {exc.start} is not UTF-8): expected OTLP JSON, OTLP JSON Lines "
            "or Jaeger JSON",
            source=source,
        ) from exc


def _records_from_text_file(source: str, file: TextIO, progress: Progress | None) -> list[SpanRecord]:
    number, first = 0, ""
    for number, line in enumerate(file, start=1):  # noqa: B007  # the first line with content, and its number
        if line.strip():
            first = line
            break
    if not first:
        raise SourceError(f"{source} is empty: expected OTLP JSON, OTLP JSON Lines or Jaeger JSON", source=source)
    try:
        document = json.loads(first)
    except json.JSONDecodeError:  # not a document per line: one (pretty-printed) document
        return _whole_document(source, first + file.read())
    records = _document_records(source, document, number)
    total = os.fstat(file.fileno()).st_size if progress is not None else 0
    done = len(first)
    for number, line in enumerate(file, start=number + 1):  # noqa: B020
        if line.strip():
            records.extend(_document_records(source, _json_line(source, number, line), number))
        if progress is not None:
            done += len(line)  # characters: close enough to bytes for a progress line
            if number % _PROGRESS_EVERY == 0:
                progress(PROGRESS_READING, min(done, total), total)
    if progress is not None:
        progress(PROGRESS_READING, total, total)
    return records


def records_from_lines(source: str, lines: Iterable[bytes]) -> list[SpanRecord]:
    """Records from some lines of a JSON Lines file (read back through its trace index)."""
    records: list[SpanRecord] = []
    for line in lines:
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{source} is not a text file (byte {exc.start} of a line is not UTF-8)", source=source
            ) from exc
        records.extend(_document_records(source, _json_line(source, 0, text), 0))
    return records


def normalised_trace_id(raw: bytes) -> str | None:
    """A trace id as the file spells it (hex, or base64 as protobuf JSON writes it), in hex; None if it is neither."""
    try:
        return _id(raw.decode("ascii"), 32, "traceId")
    except (_Malformed, UnicodeDecodeError):
        return None


def _whole_document(source: str, text: str) -> list[SpanRecord]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as whole:
        if "\n" not in text.strip():
            raise SourceError(
                f"{source}: not valid JSON at line {whole.lineno}, column {whole.colno}: {whole.msg}", source=source
            ) from whole
        for number, line in enumerate(text.splitlines(), start=1):  # report the first line that is wrong
            if line.strip():
                _json_line(source, number, line)
        raise SourceError(f"{source}: not valid JSON: {whole.msg}", source=source) from whole
    try:
        return records_from_document(document)
    except (_Malformed, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SourceError(f"{source}: expected {exc}", source=source) from exc


def _json_line(source: str, number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{source}: line {number} is not valid JSON (column {exc.colno}: {exc.msg}); expected one OTLP JSON "
            'document ({"resourceSpans": ...}) per line',
            source=source,
        ) from exc


def _document_records(source: str, document: Any, number: int) -> list[SpanRecord]:
    try:
        return records_from_document(document)
    except (_Malformed, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SourceError(f"{source}: line {number}: expected {exc}", source=source) from exc


# --- a live Jaeger --------------------------------------------------------------------------------------


def _get_json(url: str, timeout_s: float) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())


def fetch_jaeger_trace(base_url: str, trace_id: str, timeout_s: float = 10.0) -> list[SpanRecord]:
    """One trace from Jaeger: ``/api/v3/traces/{id}`` first, ``/api/traces/{id}`` as fallback."""
    base = base_url.rstrip("/")
    errors: list[str] = []
    for path in (f"/api/v3/traces/{trace_id}", f"/api/traces/{trace_id}"):
        url = base + path
        try:
            records = records_from_document(_get_json(url, timeout_s))
        except urllib.error.HTTPError as exc:
            errors.append(f"{url}: HTTP {exc.code}")
            continue
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SourceError(f"cannot reach Jaeger at {url}: {getattr(exc, 'reason', exc)}", source=url) from exc
        except (json.JSONDecodeError, _Malformed, KeyError, TypeError, ValueError) as exc:
            errors.append(f"{url}: unexpected answer ({exc})")
            continue
        if records:
            return records
        errors.append(f"{url}: no spans")
    raise TraceNotFoundError(f"Jaeger at {base} has no trace {trace_id} ({'; '.join(errors)})", trace_id=trace_id)


def search_jaeger(
    base_url: str, service: str, start_ns: int, end_ns: int, limit: int = 100, timeout_s: float = 10.0
) -> list[SpanRecord]:
    """The traces of ``service`` in a time window (Jaeger's v1 search API, which every version serves)."""
    query = urllib.parse.urlencode(
        {"service": service, "start": start_ns // 1000, "end": end_ns // 1000, "limit": limit}
    )
    url = f"{base_url.rstrip('/')}/api/traces?{query}"
    try:
        return records_from_document(_get_json(url, timeout_s))
    except urllib.error.HTTPError as exc:
        raise SourceError(f"Jaeger search at {url} failed: HTTP {exc.code}", source=url) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise SourceError(f"cannot reach Jaeger at {url}: {getattr(exc, 'reason', exc)}", source=url) from exc
    except (json.JSONDecodeError, _Malformed, KeyError, TypeError, ValueError) as exc:
        raise SourceError(f"Jaeger search at {url}: unexpected answer ({exc})", source=url) from exc


# --- a live Phoenix -------------------------------------------------------------------------------------


def fetch_phoenix_trace(
    base_url: str, trace_id: str, project: str = "default", timeout_s: float = 10.0
) -> list[SpanRecord]:
    """One trace's spans from Arize Phoenix's REST API, following its pagination."""
    base = f"{base_url.rstrip('/')}/v1/projects/{urllib.parse.quote(project, safe='')}/spans"
    records: list[SpanRecord] = []
    cursor: str | None = None
    while True:
        query = {"trace_id": trace_id, "limit": 1000} | ({"cursor": cursor} if cursor else {})
        url = f"{base}?{urllib.parse.urlencode(query)}"
        try:
            document = _get_json(url, timeout_s)
            records.extend(_phoenix_records(document))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise TraceNotFoundError(
                    f"Phoenix at {base_url} has no project {project!r}", trace_id=trace_id
                ) from exc
            raise SourceError(f"Phoenix at {url} answered HTTP {exc.code}", source=url) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SourceError(f"cannot reach Phoenix at {url}: {getattr(exc, 'reason', exc)}", source=url) from exc
        except (json.JSONDecodeError, _Malformed, KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"Phoenix at {url}: unexpected answer ({exc})", source=url) from exc
        cursor = document.get("next_cursor")
        if not cursor:
            break
    if not records:
        raise TraceNotFoundError(
            f"Phoenix project {project!r} at {base_url} has no trace {trace_id}", trace_id=trace_id
        )
    return records


def check_records(records: Sequence[SpanRecord], source: str) -> Sequence[SpanRecord]:
    if not records:
        raise TraceNotFoundError(f"{source} holds no spans")
    return records
