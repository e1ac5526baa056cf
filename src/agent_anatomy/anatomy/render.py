"""The anatomy as JSON: the typed report written out as its document, ``agent-anatomy/anatomy@1``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from .document import to_json
from .report import SCHEMA, Report, Summary

__all__ = ["json_parts", "json_text"]


def json_text(report: Report) -> str:
    """The document, indented."""
    return json.dumps(to_json(report), indent=2, ensure_ascii=False)


def json_parts(traces: Iterable[str], summary: Summary | None) -> Iterator[str]:
    """The document of a large report in pieces, a trace's entry (JSON text already) each: written out as they
    come, never joined or parsed back, so memory does not grow with the number of traces."""
    yield json.dumps({"schema": SCHEMA}, ensure_ascii=False)[:-1] + ', "traces": [\n'
    for number, trace in enumerate(traces):
        yield (",\n" if number else "") + trace
    tail = f',\n"summary": {json.dumps(to_json(summary), indent=2, ensure_ascii=False)}' if summary is not None else ""
    yield f"\n]{tail}}}\n"
