"""A span exporter that appends OTLP JSON to a file, one span per line.

Each line is a complete OTLP JSON ``ExportTraceServiceRequest`` (``{"resourceSpans": [...]}``) holding
exactly one span, so the file is both JSON Lines of the OTel Collector's file-exporter shape and
greppable span by span; a torn last line loses one span at most. The protobuf encoding is the OTLP
exporter's own; only ids are turned from base64 into the hex strings OTLP JSON requires.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Sequence
from typing import IO, Any, Final

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ..environment_variables import AGENT_ANATOMY_JSONL_FILE
from ..errors import ConfigurationError

__all__ = ["DEFAULT_JSONL_FILE", "JsonlFileExporter", "JsonlSpanExporter", "spans_to_otlp_lines"]

_logger = logging.getLogger(__name__)
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(span_or_link: dict[str, Any]) -> None:
    for field in _ID_FIELDS:
        value = span_or_link.get(field)
        if value:
            span_or_link[field] = base64.b64decode(value).hex()


def spans_to_otlp_lines(spans: Sequence[ReadableSpan]) -> list[str]:
    """OTLP JSON documents, one per span, in the order the encoder groups them (by resource and scope)."""
    request = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    lines: list[str] = []
    for resource_spans in request.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _hex_ids(span)
                for link in span.get("links", []):
                    _hex_ids(link)
                document = {
                    "resourceSpans": [
                        {
                            **{k: v for k, v in resource_spans.items() if k != "scopeSpans"},
                            "scopeSpans": [{**{k: v for k, v in scope_spans.items() if k != "spans"}, "spans": [span]}],
                        }
                    ]
                }
                lines.append(json.dumps(document, separators=(",", ":")))
    return lines


class JsonlSpanExporter(SpanExporter):
    """Append finished spans to ``path`` as OTLP JSON lines. Readable back with ``Anatomy.from_file``.

    The file is opened once, in append mode, when the exporter is built, so a bad path fails at
    ``configure()`` rather than at the first export. Write errors are logged and reported as a failed
    export; they never reach the application.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._file: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise ConfigurationError(
                f"exporter='jsonl:{self.path}': cannot open the file for appending ({exc.strerror})",
                setting="exporter",
                value=f"jsonl:{self.path}",
            ) from exc
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            lines = spans_to_otlp_lines(spans)
            with self._lock:
                if self._file is None:
                    return SpanExportResult.FAILURE
                self._file.write("".join(line + "\n" for line in lines))
                self._file.flush()
        except Exception:
            _logger.warning("agent-anatomy: could not write %d spans to %s", len(spans), self.path, exc_info=True)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with self._lock:
            if self._file is not None:
                self._file.flush()
        return True

    def shutdown(self) -> None:
        with self._lock:
            file, self._file = self._file, None
        if file is not None:
            file.close()


DEFAULT_JSONL_FILE: Final = "traces.jsonl"


class JsonlFileExporter(JsonlSpanExporter):
    """The JSON Lines exporter as ``opentelemetry-instrument`` builds exporters, with no arguments:
    ``OTEL_TRACES_EXPORTER=agent_anatomy_jsonl``, the file named by ``AGENT_ANATOMY_JSONL_FILE``
    (``traces.jsonl`` by default). Registered under the ``opentelemetry_traces_exporter`` entry point."""

    def __init__(self) -> None:
        super().__init__(os.environ.get(AGENT_ANATOMY_JSONL_FILE) or DEFAULT_JSONL_FILE)
