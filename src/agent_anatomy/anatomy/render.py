"""The anatomy as JSON: the typed report written out as its document, ``agent-anatomy/anatomy@1``."""

from __future__ import annotations

import json
from collections.abc import Iterable

from .document import to_json
from .report import SCHEMA, Report, Summary

__all__ = ["json_of_parts", "json_text"]


def json_text(report: Report) -> str:
    """The document, indented."""
    return json.dumps(to_json(report), indent=2, ensure_ascii=False)


def json_of_parts(traces: Iterable[str], summary: Summary | None) -> str:
    """The document of a large report, from each trace's entry as JSON text already: joined, never parsed
    back, so memory does not grow with the number of traces."""
    head = json.dumps({"schema": SCHEMA}, ensure_ascii=False)[:-1]
    joined = ",\n".join(traces)
    tail = f',\n"summary": {json.dumps(to_json(summary), indent=2, ensure_ascii=False)}' if summary is not None else ""
    return f'{head}, "traces": [\n{joined}\n]{tail}}}\n'
