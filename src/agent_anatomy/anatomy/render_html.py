"""The anatomy as one self-contained HTML page.

Each trace is drawn twice: first as the seed article's vertical flow along its critical path (each step a
box with its duration, an LLM call split into waiting for the first token, thinking and generating, a
tool batch as lanes with its sum or max written out, the what-ifs beside the steps they would change, the
total at the bottom), then as a waterfall with a time axis, durations on the bars, LLM bars in two tones,
and the critical path drawn as a band under the part of each span that is on it. Every trace on a page
shares one time scale, so a 3 s trace is drawn shorter than a 6 s one. Several traces get a summary
first; a comparison, its table. Formats the report it is given and computes nothing about the traces.
No network fetches: style, script and data are all in the page (the style and script are files of the
package, ``assets/anatomy.css`` and ``assets/anatomy.js``).
"""

from __future__ import annotations

import functools
import html as html_escape
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Final

from .document import to_json
from .phases import PHASE_LABELS
from .report import Report, TraceRow

__all__ = ["MAX_ROWS", "MAX_TRACES", "page"]

MAX_TRACES: Final = 20
"""Traces drawn on one page; of a larger document, the slowest 20, and the page says so."""
MAX_ROWS: Final = 2000
"""Traces listed in a many-trace page's table; beyond that, the slowest, and the page says so."""

_PHASE_COLOURS: Final = {
    "llm_time_to_first_token": "#9cc3ff",
    "llm_thinking": "#b197fc",
    "llm_generation": "#1f5fd6",
    "llm_first_token_unknown": "#6c8ebf",
    "permission": "#e76f51",
    "tool": "#f4a259",
    "retrieval": "#2a9d8f",
    "cache": "#43aa8b",
    "routing": "#9d4edd",
    "agent": "#8d99ae",
    "outside_agent": "#d3d6db",
    "gap": "#eef0f3",
}
"""One colour per phase, shared by the flow, the waterfall, the summary and the legend."""


@functools.cache
def _asset(name: str) -> str:
    """A file of the page shipped with the package (``assets/``), read the first time a page is made: its
    style (``anatomy.css``) and its script (``anatomy.js``, which draws the page from the report embedded in
    it, ``anatomy-data``)."""
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _legend() -> str:
    entries = [
        ("llm_time_to_first_token", "LLM, waiting for the first token"),
        ("llm_thinking", "LLM, thinking"),
        ("llm_generation", "LLM, generating"),
        ("llm_first_token_unknown", "LLM, first token not recorded"),
        ("permission", "permission check"),
        ("tool", "tool"),
        ("cache", "cache lookup"),
        ("routing", "routing"),
        ("retrieval", "retrieval"),
        ("agent", "agent code"),
        ("outside_agent", "outside the agent"),
    ]
    items = "".join(f'<span><i style="background:{_PHASE_COLOURS[key]}"></i>{label}</span>' for key, label in entries)
    return f'<div class="legend">{items}<span><b class="bandkey"></b>the critical path (time on it)</span></div>'


def page(
    report: Report,
    *,
    trace_count: int | None = None,
    walls_ms: Sequence[float] = (),
    rows: Sequence[TraceRow] = (),
    comparison: Mapping[str, Any] | None = None,
) -> str:
    """A complete HTML document for the traces of ``report`` (with their spans, at most ``MAX_TRACES`` of them);
    ``trace_count`` traces in all, ``walls_ms`` each one's wall time and ``rows`` their rows (for the summary
    and the list); or a ``comparison`` of two of them (its JSON document)."""
    document = to_json(report)
    traces = list(document["traces"])
    count = trace_count if trace_count is not None else len(traces)
    if comparison is not None:
        title = "Latency anatomy · before against after"
        selection = "the typical trace of each side · " if len(traces) < count else ""
        traces = [{**trace, "caption": caption} for trace, caption in zip(traces, ("before", "after"), strict=False)]
    elif count == 1:
        title, selection = f"Latency anatomy · {traces[0]['trace_id']}", ""
    else:
        title = f"Latency anatomy · {count:,} traces"
        selection = f"showing the {len(traces)} slowest of {count:,} traces · " if len(traces) < count else ""
    data = {
        **document,
        "traces": traces,
        "colours": _PHASE_COLOURS,
        "labels": PHASE_LABELS,
        "figure_labels": {"total": "total", "first_text": "until the answer starts"},
        "always_shown": ["llm_time_to_first_token", "llm_generation", "tool"],
        "walls_ms": list(walls_ms) or [t["wall_ms"] for t in traces],
        "rows": [to_json(row) for row in rows[:MAX_ROWS]],
        "row_count": len(rows),
        "comparison": comparison,
    }
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    spans = sum(t["span_count"] for t in traces)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html_escape.escape(title)}</title>
<style>{_asset("anatomy.css")}</style></head>
<body>
<div id="errors"></div>
<script>window.addEventListener('error', (e) => {{
  document.getElementById('errors').textContent += 'error: ' + e.message + '\\n'; }});</script>
<h1>{html_escape.escape(title)}</h1>
<div class="meta">{selection}{len(traces):,} drawn · {spans:,} spans · one time scale for all</div>
{_legend()}
<div id="top"></div>
<div id="traces"></div>
<template id="trace-template"><section class="trace">
<h2 class="trace-title"></h2>
<div class="notes"></div>
<h3>The critical path, step by step</h3>
<div class="flow"></div>
<h3>Every span</h3>
<div class="waterfall"></div>
<h3>Where the time went</h3>
<table class="phases"></table>
<h3>What would save the most</h3>
<ol class="whatif"></ol>
</section></template>
<div id="tooltip"></div>
<script id="anatomy-data" type="application/json">{payload}</script>
<script>{_asset("anatomy.js")}</script>
</body></html>
"""
