"""Where spans come from: the in-process recorder, trace files of every known shape, Jaeger and Phoenix.

Every reader returns ``SpanRecord`` lists, one module per format: ``otlp`` (``{"resourceSpans": [...]}``,
as the OTel Collector's file exporter and Jaeger's ``/api/v3`` write it, also wrapped as
``{"result": ...}``), ``jaeger`` (``{"data": [...]}`` from ``/api/traces/{id}`` or the Jaeger UI's
download), ``phoenix`` (Arize Phoenix's span list), ``console`` (what the OTel SDK's console exporter prints),
``readable`` (the OTel SDK's spans); ``prometheus`` gives the fleet view's model speeds; ``files`` reads
a file holding any of them, or JSON Lines of OTLP documents (agent-anatomy's ``jsonl:`` exporter), and
``live`` asks a running Jaeger or Phoenix. A document of the wrong shape becomes a ``SourceError`` naming
the file and position and what was expected at one boundary (``_common.reading``); an HTTP failure
names the URL (``live``, where each request is made and a Jaeger v3 answer may fall back to v1; ``_http``,
the one GET every live server is read with).

Each name is imported when first used (``agent_anatomy.lazy``): reading a file does not import the OTel SDK's
spans, nor asking Jaeger the file readers.
"""

from typing import TYPE_CHECKING

from ...lazy import attach

if TYPE_CHECKING:
    from .files import (
        PROGRESS_ANALYSING,
        PROGRESS_EVERY_LINES,
        PROGRESS_READING,
        Progress,
        normalised_trace_id,
        records_from_document,
        records_from_file,
        records_from_lines,
    )
    from .live import fetch_jaeger_trace, fetch_phoenix_trace, search_jaeger
    from .readable import records_from_readable

__getattr__, __dir__ = attach(
    __name__,
    {
        ".files": [
            "PROGRESS_ANALYSING",
            "PROGRESS_EVERY_LINES",
            "PROGRESS_READING",
            "Progress",
            "normalised_trace_id",
            "records_from_document",
            "records_from_file",
            "records_from_lines",
        ],
        ".live": ["fetch_jaeger_trace", "fetch_phoenix_trace", "search_jaeger"],
        ".readable": ["records_from_readable"],
    },
)
__all__ = [
    "PROGRESS_ANALYSING",
    "PROGRESS_EVERY_LINES",
    "PROGRESS_READING",
    "Progress",
    "fetch_jaeger_trace",
    "fetch_phoenix_trace",
    "normalised_trace_id",
    "records_from_document",
    "records_from_file",
    "records_from_lines",
    "records_from_readable",
    "search_jaeger",
]
