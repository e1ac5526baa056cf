
(function () {
  const data = JSON.parse(document.getElementById('anatomy-data').textContent);
  const colour = data.colours, labels = data.labels;
  const fmt = (ms) => (ms === null || ms === undefined) ? '-'
    : Math.round(ms).toLocaleString('en-US') + ' ms';
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const pct = (value, scale) => (value / scale * 100) + '%';
  const segments = (parent, parts, total) => {  // [[ms, colour, what], ...] side by side in parent
    parts.forEach(([ms, fill, what]) => {
      if (!(ms > 0)) return;
      const part = el('span'); part.style.width = pct(ms, total); part.style.background = fill;
      part.setAttribute('data-part', what); parent.appendChild(part);
    });
  };
  const callParts = (call, duration) => {  // an LLM call's tones: waiting, thinking, generating
    if (!call) return [[duration, colour.llm_first_token_unknown, 'llm']];
    if (call.ttft_ms === null && call.estimated_ttft_ms !== undefined) {  // not streamed: split by an estimate
      const waiting = Math.min(call.estimated_ttft_ms, duration);
      return [[waiting, colour.llm_time_to_first_token, 'waiting (estimated)'],
        [duration - waiting, colour.llm_generation, 'generating (estimated)']];
    }
    if (call.ttft_ms === null) {
      return [[duration, call.streamed === false ? colour.llm_time_to_first_token : colour.llm_first_token_unknown,
        call.streamed === false ? 'waiting' : 'unknown']];
    }
    const waiting = Math.min(call.ttft_ms, duration);
    const thinking = Math.min(call.thinking_ms || 0, duration - waiting);
    return [[waiting, colour.llm_time_to_first_token, 'waiting'], [thinking, colour.llm_thinking, 'thinking'],
      [duration - waiting - thinking, colour.llm_generation, 'generating']];
  };
  const scale = Math.max(0.001, ...data.traces.map((t) => t.wall_ms));
  const niceStep = (span) => {
    const raw = span / 8, power = Math.pow(10, Math.floor(Math.log10(raw)));
    return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw);
  };
  const tickLabel = (ms, step) => ms === 0 ? '0' : (step >= 1000 ? (ms / 1000) + ' s' : ms + ' ms');
  const geometry = {bars: {}, parts: {}, bands: [], axes: [], traces: {}};
  const tooltip = document.getElementById('tooltip');
  const hover = (node, details) => {
    node.setAttribute('data-details', details);
    node.addEventListener('mousemove', (e) => {
      tooltip.textContent = details; tooltip.style.display = 'block';
      tooltip.style.left = (e.clientX + 14) + 'px'; tooltip.style.top = (e.clientY + 14) + 'px';
    });
    node.addEventListener('mouseleave', () => { tooltip.style.display = 'none'; });
  };

  // --- the flow: the critical path as the article draws it ---------------------------------------------
  const flowScale = scale;
  const drawFlow = (trace, flow) => {
    const calls = {}; trace.llm_calls.forEach((c) => { calls[c.span_id] = c; });
    const notes = {};  // what-ifs by the span ids they are about
    trace.suggestions.forEach((s) => s.target.forEach((id) => { (notes[id] = notes[id] || []).push(s); }));
    const add = (node) => { flow.appendChild(node); };
    add(el('div', 'fbox start', 'User request'));
    trace.steps.forEach((step) => {
      add(el('div', 'arrow', '↓'));
      const row = el('div', 'fstep'); const box = el('div', 'fbox'); row.appendChild(box);
      box.setAttribute('data-ms', step.wall_ms !== undefined ? step.wall_ms : step.duration_ms);
      box.setAttribute('data-kind', step.kind);
      const head = el('div', 'fhead'); box.appendChild(head);
      const ids = [];
      if (step.kind === 'gap' || step.kind === 'agent') {  // no span of a step: the agent's own code, or none
        box.classList.add('plain');
        head.appendChild(el('span', '', step.kind === 'gap' ? 'no span recorded' : step.label));
        head.appendChild(el('b', '', fmt(step.duration_ms)));
      } else if (step.kind === 'llm') {
        ids.push(step.span_id);
        box.classList.add('llm'); box.setAttribute('data-step', step.span_id);
        head.appendChild(el('span', '', step.label + (step.model ? ' · ' + step.model : '')
          + (step.route_step ? ' · step ' + step.route_step : '')));
        head.appendChild(el('b', '', fmt(step.duration_ms)));
        const track = el('div', 'fscale'); const bar = el('div', 'fbar');
        bar.style.width = pct(step.duration_ms, flowScale);
        segments(bar, callParts(calls[step.span_id], step.duration_ms), step.duration_ms);
        track.appendChild(bar); box.appendChild(track);
        let note;
        if (step.error !== undefined) {
          note = 'failed after ' + fmt(step.duration_ms) + ': ' + step.error; box.classList.add('failed');
        } else if (step.ttft_ms !== null && step.thinking_ms) {
          note = 'TTFT ' + fmt(step.ttft_ms) + ' → thinking ' + fmt(step.thinking_ms) + ' → the answer starts';
        } else if (step.ttft_ms !== null) {
          note = 'TTFT ' + fmt(step.ttft_ms) + ' → streaming starts, then '
            + fmt(step.duration_ms - step.ttft_ms) + ' generating';
        } else if (step.streamed === false && step.estimated_ttft_ms !== undefined) {
          note = 'not streamed: the user waits ' + fmt(step.duration_ms) + ' for the first word; its first token came '
            + 'after about ' + fmt(step.estimated_ttft_ms) + ' (estimated)';
        } else if (step.streamed === false) {
          note = 'not streamed: the user waits ' + fmt(step.duration_ms) + ' for the first word';
        } else {
          note = step.streamed ? 'streamed; time to first token not recorded'
            : 'whether it streamed, and its first token, not recorded';
        }
        if (step.route_reason) note += ' · routed: ' + step.route_reason + ', ' + step.attempts
          + (step.attempts === 1 ? ' attempt' : ' attempts');
        box.appendChild(el('div', 'fnote', note));
      } else if (step.kind === 'llms') {
        box.classList.add('llm');
        const times = step.calls.map((c) => fmt(c.duration_ms));
        head.appendChild(el('span', '', step.mode === 'parallel'
          ? 'LLM calls, parallel: max(' + times.join(', ') + ') = ' + fmt(step.max_ms)
          : 'LLM calls, overlapping: ' + step.calls.length + ' calls in ' + fmt(step.wall_ms)));
        head.appendChild(el('b', '', fmt(step.wall_ms)));
        const lanes = el('div', 'lanes'); box.appendChild(lanes);
        const first = Math.min(...step.calls.map((c) => calls[c.span_id].start_ms));
        step.calls.forEach((c) => {
          ids.push(c.span_id);
          lanes.appendChild(el('div', 'lane-label', c.label + (c.model ? ' · ' + c.model : '') + ' · '
            + fmt(c.duration_ms) + (c.error !== undefined ? ' · failed: ' + c.error : '')));
          const track = el('div', 'fscale'); const bar = el('div', 'fbar');
          bar.style.left = pct(calls[c.span_id].start_ms - first, flowScale); bar.style.width = pct(c.duration_ms, flowScale);
          segments(bar, callParts(calls[c.span_id], c.duration_ms), c.duration_ms);
          track.appendChild(bar); lanes.appendChild(track);
        });
      } else if (step.kind === 'tools') {
        box.classList.add('tools');
        const tools = step.tools, times = tools.map((t) => fmt(t.duration_ms));
        let text = 'Tool calls (partly parallel): ' + tools.length + ' tools in ' + fmt(step.wall_ms);
        if (step.mode === 'single') text = 'Tool call: ' + tools[0].name;
        if (step.mode === 'sequential') {
          text = 'Tool calls, sequential: ' + times.join(' + ') + ' = ' + fmt(step.sum_ms);
        } else if (step.mode === 'parallel') {
          text = 'Tool calls, parallel: max(' + times.join(', ') + ') = ' + fmt(step.max_ms);
        }
        head.appendChild(el('span', '', text)); head.appendChild(el('b', '', fmt(step.wall_ms)));
        const lanes = el('div', 'lanes'); box.appendChild(lanes);
        let offset = 0;
        tools.forEach((tool) => {
          ids.push(tool.span_id);
          const lane = el('div', 'lane-label',
            tool.name + ' · ' + fmt(tool.duration_ms) + (tool.error ? ' · failed' : ''));
          if (tool.cache_hit !== undefined) {
            const mark = el('span', 'cachemark', tool.cache_hit ? 'cache hit' : 'cache miss');
            mark.style.background = tool.cache_hit ? colour.cache : '#8d99ae'; mark.style.marginLeft = '6px';
            lane.appendChild(mark);
            if (tool.cache_hit && tool.cache_saved_ms) {
              lane.appendChild(el('span', '', ' saved ' + fmt(tool.cache_saved_ms)));
            }
          }
          lanes.appendChild(lane);
          const track = el('div', 'fscale'); const bar = el('div', 'fbar');
          bar.style.left = pct(offset, flowScale); bar.style.width = pct(tool.duration_ms, flowScale);
          bar.style.background = tool.error ? '#d7263d' : colour.tool;
          track.appendChild(bar); lanes.appendChild(track);
          if (step.mode === 'sequential') offset += tool.duration_ms;
        });
      } else if (step.kind === 'cache') {
        box.classList.add('cache');
        const mark = el('span', 'cachemark', step.hit ? 'cache hit' : 'cache miss');
        mark.style.background = step.hit ? colour.cache : '#8d99ae';
        head.appendChild(mark);
        const saved = step.hit && step.saved_ms ? ' · saved ' + fmt(step.saved_ms) : '';
        head.appendChild(el('span', '', step.label + saved));
        head.appendChild(el('b', '', fmt(step.duration_ms)));
      } else {
        head.appendChild(el('span', '', (step.kind === 'outside' ? 'outside the agent · ' : '') + step.label));
        head.appendChild(el('b', '', fmt(step.duration_ms)));
        (step.inner || []).forEach((inner) => {
          if (inner.span_id) ids.push(inner.span_id);
          (inner.tools || []).forEach((t) => ids.push(t.span_id));
        });
      }
      const said = new Set();
      const aside = el('div', 'fwhatif');
      ids.forEach((id) => (notes[id] || []).forEach((s) => {
        if (said.has(s.title)) return; said.add(s.title);
        aside.appendChild(el('div', '', '⇢ ' + s.title + ': ' + (s.perceived
          ? 'the answer starts to appear ' + fmt(s.saving_ms) + ' sooner' : 'saves ' + fmt(s.saving_ms))));
      }));
      if (said.size) row.appendChild(aside);
      add(row);
    });
    add(el('div', 'arrow', '↓'));
    add(el('div', 'fbox total', 'Total: ' + fmt(trace.wall_ms)));
  };

  // --- the waterfall --------------------------------------------------------------------------------------
  const drawWaterfall = (trace, waterfall) => {
    const calls = {}; trace.llm_calls.forEach((c) => { calls[c.span_id] = c; });
    const byId = {}, depth = {};
    trace.spans.forEach((s) => { byId[s.span_id] = s; });
    const depthOf = (s) => {
      if (depth[s.span_id] !== undefined) return depth[s.span_id];
      let d = 0, p = s.parent_id, guard = 0;
      while (p && byId[p] && guard++ < 500) { d += 1; p = byId[p].parent_id; }
      return (depth[s.span_id] = d);
    };
    const axis = el('div', 'axis'), ticks = el('div', 'ticks'); axis.appendChild(ticks); waterfall.appendChild(axis);
    const step = niceStep(scale);
    for (let t = 0; t <= scale + 1e-9; t += step) {
      const tick = el('div', 'tick'); tick.style.left = pct(t, scale);
      tick.appendChild(el('span', '', tickLabel(Math.round(t), step))); ticks.appendChild(tick);
    }
    geometry.axes.push(trace.trace_id);
    const own = {};  // the critical path's pieces that are a span's own time, by span
    trace.critical_path.forEach((p) => { if (p.own) (own[p.span_id] = own[p.span_id] || []).push(p); });
    let bars = 0;
    trace.spans.forEach((s) => {
      const row = el('div', 'row' + (s.status === 'ERROR' ? ' error' : ''));
      const label = el('div', 'label', (s.status === 'ERROR' ? '✕ ' : '') + s.name);
      label.style.paddingLeft = (depthOf(s) * 12) + 'px'; row.appendChild(label);
      const track = el('div', 'track'); row.appendChild(track);
      const duration = s.end_ms - s.start_ms;
      const bar = el('div', 'bar' + (s.status === 'ERROR' ? ' error' : ''));
      bar.setAttribute('data-span', s.span_id); bar.setAttribute('data-phase', s.phase);
      bar.style.left = pct(s.start_ms, scale); bar.style.width = pct(duration, scale);
      if (s.phase === 'llm') segments(bar, callParts(calls[s.span_id], duration), Math.max(duration, 0.001));
      else bar.style.background = colour[s.phase] || '#8d99ae';
      track.appendChild(bar);
      if (duration / scale < 0.004) {  // shorter than the bar's least width: marked so it is not missed
        const marker = el('div', 'marker'); marker.style.left = pct(s.start_ms, scale); track.appendChild(marker);
      }
      const dur = el('div', 'dur', fmt(duration));
      dur.style.left = 'calc(' + pct(s.end_ms, scale) + ' + 6px)'; track.appendChild(dur);
      (own[s.span_id] || []).forEach((p) => {
        const band = el('div', 'band'); band.setAttribute('data-span', s.span_id);
        band.style.left = pct(p.start_ms, scale); band.style.width = pct(p.end_ms - p.start_ms, scale);
        track.appendChild(band);
      });
      const details = [s.name, fmt(duration) + ' from ' + fmt(s.start_ms), 'status ' + s.status]
        .concat(Object.entries(s.attributes).slice(0, 18).map(([k, v]) => k + ' = ' + v)).join('\n');
      hover(bar, details);
      waterfall.appendChild(row); bars += 1;
    });
    return bars;
  };

  // --- the phases and what-ifs of a trace --------------------------------------------------------------
  const drawPhases = (trace, table) => {
    Object.entries(labels).forEach(([phase, label]) => {
      const ms = trace.phases_ms[phase] || 0;
      if (!ms && !data.always_shown.includes(phase)) return;
      const tr = el('tr'); const swatch = el('td'); const box = el('i');
      box.style.cssText = 'display:inline-block;width:12px;height:12px;border-radius:2px;background:' + colour[phase];
      swatch.appendChild(box); tr.appendChild(swatch);
      tr.appendChild(el('td', '', label)); tr.appendChild(el('td', 'num', fmt(ms)));
      tr.appendChild(el('td', 'num', (trace.wall_ms ? ms / trace.wall_ms * 100 : 0).toFixed(1) + ' %'));
      table.appendChild(tr);
    });
  };
  const drawWhatifs = (trace, list) => {
    if (!trace.suggestions.length) {
      list.appendChild(el('li', '', 'Nothing to suggest' + (trace.nothing_to_suggest
        ? ': ' + trace.nothing_to_suggest + '.' : '.')));
    }
    trace.suggestions.forEach((s) => {
      const li = el('li'); const head = el('div');
      head.appendChild(el('span', 'grade ' + s.evidence, s.evidence));
      head.appendChild(el('span', 'title', s.title + ': '));
      head.appendChild(el('span', 'saving', s.perceived
        ? 'the answer starts to appear ' + fmt(s.saving_ms) + ' sooner'
        : 'saves ' + fmt(s.saving_ms) + ' → ' + fmt(s.total_after_ms)));
      head.setAttribute('title', 'evidence: ' + s.evidence + ' (' + s.basis + ')');
      li.appendChild(head); li.appendChild(el('div', '', s.explanation));
      if (s.assumes) li.appendChild(el('div', 'fnote', 'Assumes ' + s.assumes + '.'));
      if (s.lever) li.appendChild(el('div', 'lever', 'Apply: ' + s.lever));
      list.appendChild(li);
    });
  };

  // --- several traces: the summary and the list --------------------------------------------------------
  const drawSummary = (summary, root) => {
    root.appendChild(el('h2', '', 'Summary of ' + summary.trace_count.toLocaleString('en-US') + ' traces'));
    root.appendChild(el('h3', '', 'Where the time went: each phase at p50 and at p95, stacked'));
    const phases = Object.keys(labels).filter((p) => summary.phases_ms[p] && summary.phases_ms[p].p95 > 0);
    const stacked = (q) => phases.reduce((sum, p) => sum + summary.phases_ms[p][q], 0);
    const widest = Math.max(0.001, stacked('p50'), stacked('p95'));
    const table = el('table');
    ['p50', 'p95'].forEach((q) => {
      const tr = el('tr'); tr.appendChild(el('td', '', q)); const cell = el('td'); const stack = el('div', 'stack');
      stack.setAttribute('data-stack', q);
      phases.forEach((p) => {
        const part = el('span'); part.style.width = pct(summary.phases_ms[p][q], widest);
        part.style.background = colour[p]; hover(part, labels[p] + ': ' + fmt(summary.phases_ms[p][q]) + ' at ' + q);
        stack.appendChild(part);
      });
      cell.appendChild(stack); tr.appendChild(cell);
      tr.appendChild(el('td', 'num', 'total ' + fmt(summary.phases_ms.total[q]))); table.appendChild(tr);
    });
    root.appendChild(table);
    const walls = data.walls_ms;
    if (walls.length > 1) {
      root.appendChild(el('h3', '', 'Total time of the ' + walls.length.toLocaleString('en-US') + ' traces'));
      const low = Math.min(...walls), high = Math.max(...walls), bins = new Array(24).fill(0);
      walls.forEach((w) => { bins[Math.min(23, Math.floor((w - low) / Math.max(high - low, 0.001) * 24))] += 1; });
      const hist = el('div', 'hist'), most = Math.max(...bins);
      bins.forEach((n, i) => {
        const bin = el('span'); bin.style.height = (n / most * 100) + '%';
        hover(bin, n + ' traces from ' + fmt(low + (high - low) * i / 24)); hist.appendChild(bin);
      });
      root.appendChild(hist);
      const axis = el('div', 'histaxis');
      axis.appendChild(el('span', '', fmt(low))); axis.appendChild(el('span', '', fmt(high)));
      root.appendChild(axis);
    }
    const common = summary.common_path;
    root.appendChild(el('h3', '', 'Most common critical path (' + common.traces.toLocaleString('en-US') + ' of '
      + summary.trace_count.toLocaleString('en-US') + ' traces)'));
    root.appendChild(el('div', '', common.steps.length ? common.steps.join(' → ') : '(no steps)'));
    if (summary.suggestions.length) {
      root.appendChild(el('h3', '', 'What would save the most, over all traces'));
      const list = el('ol', 'whatif');
      summary.suggestions.slice(0, 8).forEach((s) => {
        const traces = s.traces.toLocaleString('en-US') + (s.traces === 1 ? ' trace, ' : ' traces, ');
        list.appendChild(el('li', '', s.title + ': in ' + traces + fmt(s.mean_saving_ms) + ' on average ('
          + fmt(s.total_saving_ms) + ' in all)'));
      });
      root.appendChild(list);
    }
  };
  const drawList = (rows, root) => {
    root.appendChild(el('h2', '', 'Traces'));
    if (data.row_count > rows.length) {
      root.appendChild(el('div', 'meta', 'the ' + rows.length.toLocaleString('en-US') + ' slowest of '
        + data.row_count.toLocaleString('en-US')));
    }
    const drawn = new Set(data.traces.map((t) => t.trace_id));
    const table = el('table'); table.id = 'trace-list';
    const head = el('tr');
    ['trace id', 'service', 'start (UTC)', 'wall', 'LLM calls', '1st token', 'top suggestion'].forEach((name) => {
      const th = el('th', name === 'wall' ? 'num sortable' : (name === 'LLM calls' ? 'num' : ''), name);
      head.appendChild(th);
    });
    table.appendChild(head);
    const body = el('tbody'); table.appendChild(body);
    const fill = (ordered) => {
      body.textContent = '';
      ordered.forEach((r) => {
        const tr = el('tr'); const id = el('td');
        if (drawn.has(r.trace_id)) {
          const a = el('a', '', r.trace_id.slice(0, 16)); a.href = '#trace-' + r.trace_id; id.appendChild(a);
        } else {
          id.textContent = r.trace_id.slice(0, 16);
        }
        tr.appendChild(id); tr.appendChild(el('td', '', r.service || '-'));
        tr.appendChild(el('td', '', new Date(r.start_unix_ns / 1e6).toISOString().slice(11, 23)));
        tr.appendChild(el('td', 'num', fmt(r.wall_ms))); tr.appendChild(el('td', 'num', String(r.llm_calls)));
        tr.appendChild(el('td', 'num', r.ttft)); tr.appendChild(el('td', '', r.top)); body.appendChild(tr);
      });
    };
    let descending = true;
    const sortable = head.querySelector('.sortable');
    const sort = () => {
      fill(rows.slice().sort((a, b) => descending ? b.wall_ms - a.wall_ms : a.wall_ms - b.wall_ms));
      sortable.textContent = 'wall ' + (descending ? '▼' : '▲');
    };
    sortable.addEventListener('click', () => { descending = !descending; sort(); });
    sort();
    root.appendChild(table);
  };

  // --- a comparison ---------------------------------------------------------------------------------------
  const drawComparison = (comparison, root) => {
    root.appendChild(el('h2', '', 'Before against after'));
    const side = (s) => s.typical ? s.traces.toLocaleString('en-US') + ' traces, typical ' + s.trace_id.slice(0, 16)
      : 'trace ' + s.trace_id.slice(0, 16);
    root.appendChild(el('div', 'meta', 'before: ' + comparison.before_source + ' (' + side(comparison.before)
      + ') · after: ' + comparison.after_source + ' (' + side(comparison.after) + ')'));
    const several = comparison.before.traces > 1 || comparison.after.traces > 1;
    const table = el('table'); table.id = 'comparison';
    const head = el('tr'); head.appendChild(el('th', '', ''));
    const columns = several ? ['p50 before', 'p50 after', 'change', 'p95 before', 'p95 after', 'change']
      : ['before', 'after', 'change'];
    columns.forEach((name) => head.appendChild(el('th', 'num', name)));
    table.appendChild(head);
    const change = (v) => v === null ? '-' : (v > 0 ? '+' : (v < 0 ? '-' : '±')) + fmt(Math.abs(v));
    comparison.figures.forEach((f) => {
      const tr = el('tr'); tr.appendChild(el('td', '', labels[f.name] || data.figure_labels[f.name] || f.name));
      const cells = [fmt(f.before.p50_ms), fmt(f.after.p50_ms), change(f.change.p50_ms)];
      if (several) cells.push(fmt(f.before.p95_ms), fmt(f.after.p95_ms), change(f.change.p95_ms));
      cells.forEach((c) => tr.appendChild(el('td', 'num', c)));
      table.appendChild(tr);
    });
    root.appendChild(table);
    root.appendChild(el('h3', '', 'Step by step' + (several ? ' (the typical traces)' : '')));
    const steps = el('table'); steps.id = 'lineup';
    comparison.steps.forEach((s) => {
      const tr = el('tr', s.change);
      tr.appendChild(el('td', '', {same: '', changed: '~', appeared: '+', disappeared: '-'}[s.change]));
      tr.appendChild(el('td', '', s.label));
      tr.appendChild(el('td', 'num', s.before_ms === null ? '' : fmt(s.before_ms)));
      tr.appendChild(el('td', 'num', s.after_ms === null ? '' : fmt(s.after_ms)));
      const what = (s.change === 'appeared' || s.change === 'disappeared') ? [s.change] : [];
      tr.appendChild(el('td', '', what.concat(s.notes).join('; ')));
      steps.appendChild(tr);
    });
    root.appendChild(steps);
  };

  // --- the page ---------------------------------------------------------------------------------------------
  const top = document.getElementById('top');
  if (data.comparison) drawComparison(data.comparison, top);
  if (data.summary && !data.comparison) { drawSummary(data.summary, top); drawList(data.rows, top); }
  const template = document.getElementById('trace-template');
  let bars = 0;
  data.traces.forEach((trace) => {
    const section = template.content.cloneNode(true).firstElementChild;
    section.id = 'trace-' + trace.trace_id;
    document.getElementById('traces').appendChild(section);
    const find = (cls) => section.querySelector('.' + cls);
    find('trace-title').textContent = (trace.caption ? trace.caption + ' · ' : '') + 'Trace ' + trace.trace_id
      + (trace.service ? ' · ' + trace.service : '') + ' · ' + trace.span_count.toLocaleString('en-US')
      + (trace.span_count === 1 ? ' span · ' : ' spans · ') + fmt(trace.wall_ms);
    (trace.failures || []).forEach((f) => find('notes').appendChild(
      el('div', 'failure', '✕ Failed: ' + f.name + ' (' + f.error + ') after ' + fmt(f.duration_ms))));
    (trace.notes || []).forEach((note) => find('notes').appendChild(el('div', 'fnote', '(' + note + ')')));
    drawFlow(trace, find('flow'));
    bars += drawWaterfall(trace, find('waterfall'));
    drawPhases(trace, find('phases'));
    drawWhatifs(trace, find('whatif'));
  });
  // where everything landed, for tests that read the page back (and anyone curious)
  const box = (node) => {
    const r = node.getBoundingClientRect();
    return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height].map(Math.round);
  };
  document.querySelectorAll('.waterfall .bar').forEach((bar) => {
    geometry.bars[bar.getAttribute('data-span')] = box(bar);
    const parts = Array.from(bar.children).map((p) => [p.getAttribute('data-part')].concat(box(p)));
    geometry.parts[bar.getAttribute('data-span')] = parts;
  });
  document.querySelectorAll('.waterfall .band').forEach((band) => {
    geometry.bands.push([band.getAttribute('data-span')].concat(box(band)));
  });
  document.querySelectorAll('section.trace').forEach((section) => {
    const ticks = section.querySelector('.ticks');
    geometry.traces[section.id.slice(6)] = {ticks: box(ticks)};
  });
  document.body.setAttribute('data-geometry', JSON.stringify(geometry));
  document.body.setAttribute('data-bars', String(bars));
})();
