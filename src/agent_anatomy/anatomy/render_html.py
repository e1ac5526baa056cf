"""The anatomy as one self-contained HTML page: a waterfall of the trace, coloured by phase, the
critical path outlined, details on hover, and the what-ifs. No network fetches: styles, script and
data are all in the page."""

from __future__ import annotations

import html as html_escape
import json
from typing import Any, Final

__all__ = ["page"]

_STYLE: Final = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #fafbfc; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.meta { color: #5b6577; margin-bottom: 16px; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px;
           border-radius: 2px; }
.waterfall { position: relative; background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 8px 0; }
.row { position: relative; height: 22px; }
.label { position: absolute; left: 8px; width: 300px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis;
         font-size: 12px; line-height: 22px; color: #2a3140; }
.track { position: absolute; left: 320px; right: 16px; top: 3px; height: 16px; }
.bar { position: absolute; height: 16px; min-width: 2px; border-radius: 3px; opacity: .9; cursor: default; }
.bar.critical { outline: 2px solid #d7263d; outline-offset: 0; opacity: 1; }
.llm { background: #3a86ff; } .tool { background: #f4a259; } .cache { background: #43aa8b; }
.routing { background: #9d4edd; } .agent { background: #8d99ae; }
.retrieval { background: #2a9d8f; } .outside_agent { background: #d3d6db; }
#tooltip { position: fixed; pointer-events: none; background: #1d2330; color: #fff; padding: 6px 8px;
           border-radius: 4px; font-size: 12px; max-width: 480px; display: none; z-index: 2; white-space: pre-wrap; }
table { border-collapse: collapse; } td { padding: 2px 12px 2px 0; }
.whatif li { margin-bottom: 8px; } .saving { color: #2d6a4f; font-weight: 600; }
#errors { color: #d7263d; }
"""

_SCRIPT: Final = """
(function () {
  const data = JSON.parse(document.getElementById('anatomy-data').textContent);
  const fmt = (ms) => ms.toLocaleString('en-US', {maximumFractionDigits: 0}) + ' ms';
  const template = document.getElementById('trace-template');
  let bars = 0;
  data.traces.forEach((trace, index) => {
  const section = template.content.cloneNode(true).firstElementChild;
  document.getElementById('traces').appendChild(section);
  const find = (cls) => section.querySelector('.' + cls);
  find('trace-title').textContent = 'Trace ' + trace.trace_id + (trace.service ? ' · ' + trace.service : '')
    + ' · ' + trace.span_count + ' spans · ' + fmt(trace.wall_ms);
  const critical = new Set(trace.critical_path.map((s) => s.span_id));
  const depth = {};
  const byId = {};
  trace.spans.forEach((s) => { byId[s.span_id] = s; });
  const depthOf = (s) => {
    if (depth[s.span_id] !== undefined) return depth[s.span_id];
    let d = 0, p = s.parent_id, guard = 0;
    while (p && byId[p] && guard++ < 500) { d += 1; p = byId[p].parent_id; }
    depth[s.span_id] = d; return d;
  };
  const wall = Math.max(trace.wall_ms, 0.001);
  const waterfall = find('waterfall');
  const tooltip = document.getElementById('tooltip');
  trace.spans.forEach((s) => {
    const row = document.createElement('div'); row.className = 'row';
    const label = document.createElement('div'); label.className = 'label';
    label.style.paddingLeft = (depthOf(s) * 12) + 'px'; label.textContent = s.name; row.appendChild(label);
    const track = document.createElement('div'); track.className = 'track';
    const bar = document.createElement('div');
    bar.className = 'bar ' + s.phase + (critical.has(s.span_id) ? ' critical' : '');
    bar.style.left = (s.start_ms / wall * 100) + '%';
    bar.style.width = Math.max((s.end_ms - s.start_ms) / wall * 100, 0.15) + '%';
    const details = [s.name, fmt(s.end_ms - s.start_ms) + ' from ' + fmt(s.start_ms), 'status ' + s.status]
      .concat(Object.entries(s.attributes).slice(0, 18).map(([k, v]) => k + ' = ' + v)).join('\\n');
    bar.setAttribute('data-details', details);
    bar.addEventListener('mousemove', (e) => {
      tooltip.textContent = details; tooltip.style.display = 'block';
      tooltip.style.left = (e.clientX + 14) + 'px'; tooltip.style.top = (e.clientY + 14) + 'px';
    });
    bar.addEventListener('mouseleave', () => { tooltip.style.display = 'none'; });
    track.appendChild(bar); row.appendChild(track); waterfall.appendChild(row); bars += 1;
  });
  const phases = find('phases');
  Object.entries(trace.phases_ms).forEach(([phase, ms]) => {
    const tr = document.createElement('tr');
    tr.innerHTML = '<td></td><td></td><td></td>';
    tr.children[0].textContent = phase.replace(/_/g, ' ');
    tr.children[1].textContent = fmt(ms);
    tr.children[2].textContent = (ms / wall * 100).toFixed(1) + ' %';
    phases.appendChild(tr);
  });
  const list = find('whatif');
  if (!trace.suggestions.length) { list.innerHTML = '<li>Nothing this trace shows.</li>'; }
  trace.suggestions.forEach((s) => {
    const li = document.createElement('li');
    const head = document.createElement('div');
    head.innerHTML = '<span class="title"></span>: <span class="saving"></span>';
    head.querySelector('.title').textContent = s.title;
    head.querySelector('.saving').textContent = s.perceived
      ? 'the answer starts to appear ' + fmt(s.saving_ms) + ' sooner'
      : 'saves ' + fmt(s.saving_ms) + ' → ' + fmt(s.total_after_ms);
    const why = document.createElement('div'); why.textContent = s.explanation;
    li.appendChild(head); li.appendChild(why); list.appendChild(li);
  });
  });
  document.getElementById('status').textContent = 'rendered ' + bars + ' bars';
  document.body.setAttribute('data-bars', String(bars));
})();
"""


MAX_TRACES: Final = 20
"""Traces drawn on one page; of a larger document, the slowest 20, and the page says so."""


def page(document: dict[str, Any]) -> str:
    """A complete HTML document for the traces of ``document`` (``Anatomy.to_dict(spans=True)``)."""
    traces = document["traces"]
    count = document.get("trace_count", len(traces))
    shown = traces
    if len(traces) > MAX_TRACES:
        shown = sorted(traces, key=lambda t: t["wall_ms"], reverse=True)[:MAX_TRACES]
    selection = f"showing the {len(shown)} slowest of {count:,} traces · " if len(shown) < count else ""
    document = {**document, "traces": shown}
    title = f"Latency anatomy · {traces[0]['trace_id']}" if count == 1 else f"Latency anatomy · {count:,} traces"
    total = sum(t["span_count"] for t in document["traces"])
    data = json.dumps(document, ensure_ascii=False).replace("</", "<\\/")
    legend = "".join(
        f'<span><i class="{cls}"></i>{label}</span>'
        for cls, label in (
            ("llm", "LLM call"),
            ("tool", "tool"),
            ("cache", "cache lookup"),
            ("routing", "routing"),
            ("retrieval", "retrieval"),
            ("agent", "agent code"),
            ("outside_agent", "outside the agent"),
        )
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html_escape.escape(title)}</title>
<style>{_STYLE}</style></head>
<body>
<div id="errors"></div>
<script>window.addEventListener('error', (e) => {{
  document.getElementById('errors').textContent += 'error: ' + e.message + '\\n'; }});</script>
<h1>{html_escape.escape(title)}</h1>
<div class="meta">{selection}{len(shown)} trace(s) · {total:,} spans · <span id="status">not rendered</span></div>
<div class="legend">{legend}<span>outlined: on the critical path</span></div>
<div id="traces"></div>
<template id="trace-template"><section>
<h2 class="trace-title"></h2>
<div class="waterfall"></div>
<h3>Where the time went</h3>
<table class="phases"></table>
<h3>What would save the most</h3>
<ol class="whatif"></ol>
</section></template>
<div id="tooltip"></div>
<script id="anatomy-data" type="application/json">{data}</script>
<script>{_SCRIPT}</script>
</body></html>
"""
