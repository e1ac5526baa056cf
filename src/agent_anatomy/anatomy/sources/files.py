"""Trace files: one JSON document of any known shape, or JSON Lines of OTLP documents, read a line at a time."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TextIO

from ... import codec
from ...errors import SourceError
from ..model import SpanRecord
from ._common import Malformed, hex_id, reading
from .console import console_documents, console_records, is_console_span
from .jaeger import jaeger_records
from .otlp import otlp_records
from .otlp_structs import records_of_line
from .phoenix import is_phoenix, phoenix_records

__all__ = [
    "PROGRESS_ANALYSING",
    "PROGRESS_EVERY_LINES",
    "PROGRESS_READING",
    "Progress",
    "normalised_trace_id",
    "records_from_document",
    "records_from_file",
    "records_from_lines",
]


def records_from_document(document: Any) -> list[SpanRecord]:
    """Records from one parsed JSON document of any supported shape (or a list of such documents)."""
    if isinstance(document, list):
        return [record for item in document for record in records_from_document(item)]
    if not isinstance(document, Mapping):
        raise Malformed('a JSON object with "resourceSpans" (OTLP), "data" (Jaeger, Phoenix) or a Jaeger trace')
    if "result" in document and isinstance(document["result"], Mapping):
        document = document["result"]
    if "resourceSpans" in document:
        return list(otlp_records(document))
    if is_phoenix(document):
        return list(phoenix_records(document))
    if "data" in document:
        return list(jaeger_records(document))
    if isinstance(document.get("spans"), list) and "traceID" in document:  # one Jaeger trace, bare
        return list(jaeger_records({"data": [document]}))
    if is_console_span(document):  # one span as the OTel SDK's console exporter prints it
        return list(console_records([document]))
    raise Malformed(
        'an object with "resourceSpans" (OTLP JSON), "data" (Jaeger or Phoenix JSON) or "traceID" and "spans" '
        "(one Jaeger trace)"
    )


# --- files ---------------------------------------------------------------------------------------------


Progress = Callable[[str, int, int], None]
"""Told now and then how far a long read has got: (what, done, in all); ``reading``: bytes of the file,
``analysing``: the traces' share of the work, in parts."""
PROGRESS_READING: Final = "reading"
PROGRESS_ANALYSING: Final = "analysing"
PROGRESS_EVERY_LINES: Final = 20_000
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
        document = codec.loads(first)
    except json.JSONDecodeError:  # not a document per line: one (pretty-printed) document
        return _whole_document(source, first + file.read())
    records = _document_records(source, document, number)
    total = os.fstat(file.fileno()).st_size if progress is not None else 0
    done = len(first)
    for number, line in enumerate(file, start=number + 1):  # noqa: B020
        if line.strip():
            found = records_of_line(line)
            if found is None:  # not decoded as OTLP structs: read as a document of any shape, with its errors
                found = _document_records(source, _json_line(source, number, line), number)
            records.extend(found)
        if progress is not None:
            done += len(line)  # characters: close enough to bytes for a progress line
            if number % PROGRESS_EVERY_LINES == 0:
                progress(PROGRESS_READING, min(done, total), total)
    if progress is not None:
        progress(PROGRESS_READING, total, total)
    return records


def records_from_lines(source: str, lines: Iterable[bytes], numbers: Iterable[int] | None = None) -> list[SpanRecord]:
    """Records from some lines of a JSON Lines file (read back through its trace index); ``numbers``: the lines'
    numbers in the file, for an error to name (0 when not given)."""
    records: list[SpanRecord] = []
    number = 0
    # One boundary for all the lines, not one a line (every line of a large file comes here); the message
    # names the line being read when it failed.
    with reading(source, lambda exc: f"{source}: line {number}: expected {exc}"):
        for line, number in zip(lines, numbers if numbers is not None else itertools.repeat(0), strict=False):
            found = records_of_line(line)
            if found is not None:
                records.extend(found)
                continue
            try:
                text = line.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"{source} is not a text file (byte {exc.start} of a line is not UTF-8)", source=source
                ) from exc
            records.extend(records_from_document(_json_line(source, number, text)))
    return records


def normalised_trace_id(raw: bytes) -> str | None:
    """A trace id as the file spells it (hex, or base64 as protobuf JSON writes it), in hex; None if it is neither."""
    try:
        return hex_id(raw.decode("ascii"), 32, "traceId")
    except (Malformed, UnicodeDecodeError):
        return None


def _whole_document(source: str, text: str) -> list[SpanRecord]:
    try:
        document = codec.loads(text)
    except json.JSONDecodeError as whole:
        printed = console_documents(text)  # the console exporter's spans, one after another
        if printed:
            with reading(source, lambda exc: f"{source}: expected {exc}"):
                return list(console_records(printed))
        if "\n" not in text.strip():
            raise SourceError(
                f"{source}: not valid JSON at line {whole.lineno}, column {whole.colno}: {whole.msg}", source=source
            ) from whole
        for number, line in enumerate(text.splitlines(), start=1):  # report the first line that is wrong
            if line.strip():
                _json_line(source, number, line)
        raise SourceError(f"{source}: not valid JSON: {whole.msg}", source=source) from whole
    with reading(source, lambda exc: f"{source}: expected {exc}"):
        return records_from_document(document)


def _json_line(source: str, number: int, line: str) -> Any:
    try:
        return codec.loads(line)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{source}: line {number} is not valid JSON (column {exc.colno}: {exc.msg}); expected one OTLP JSON "
            'document ({"resourceSpans": ...}) per line',
            source=source,
        ) from exc


def _document_records(source: str, document: Any, number: int) -> list[SpanRecord]:
    with reading(source, lambda exc: f"{source}: line {number}: expected {exc}"):
        return records_from_document(document)
