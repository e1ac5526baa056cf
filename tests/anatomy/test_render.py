"""Rendering: JSON schema and numbers agreeing with the text, colour rules, the HTML page in Chromium."""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent_anatomy.anatomy import Anatomy
from tests.anatomy._build import optimised_trace, seed_trace


@pytest.fixture
def seed() -> Anatomy:
    return Anatomy([seed_trace()])


def test_json_schema_and_numbers(seed: Anatomy) -> None:
    document = seed.to_dict()
    assert document["schema"] == "agent-anatomy/anatomy@1"
    [trace] = document["traces"]
    assert set(trace) == {
        "trace_id",
        "service",
        "notes",
        "agents",
        "span_count",
        "start_unix_ns",
        "wall_ms",
        "phases_ms",
        "steps",
        "critical_path",
        "llm_calls",
        "batches",
        "levers",
        "suggestions",
    }, "per-span details only when asked"
    assert {"span_id", "phase", "attributes"} <= set(seed.to_dict(spans=True)["traces"][0]["spans"][0])
    assert trace["wall_ms"] == 5710.0
    assert [s["kind"] for s in trace["steps"]] == ["agent", "llm", "tools", "llm", "tools", "llm"]
    assert trace["steps"][1] == {
        "kind": "llm",
        "label": "LLM call 1",
        "span_id": trace["llm_calls"][0]["span_id"],
        "model": "claude-sonnet-4-6",
        "route_step": None,
        "duration_ms": 1500.0,
        "ttft_ms": 500.0,
        "thinking_ms": None,
        "streamed": True,
        "attempts": 1,
    }
    assert trace["steps"][2]["mode"] == "sequential" and trace["steps"][2]["sum_ms"] == 1400.0
    suggestion = trace["suggestions"][0]
    assert (suggestion["saving_ms"], suggestion["total_after_ms"]) == (600.0, 5110.0)
    assert (suggestion["evidence"], suggestion["basis"]) == ("proven", "this trace's spans")
    text = seed.render(color=False)
    for step in trace["steps"]:
        if "duration_ms" in step and step["duration_ms"] >= 1:
            assert f"{step['duration_ms']:,.0f} ms" in text, "the text shows the JSON's numbers"
    assert seed.render("json") == seed.render("json"), "stable output"


def test_colour_follows_the_terminal_and_no_color(seed: Anatomy, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "\033[" in seed.render(color=True)
    assert "\033[" not in seed.render(color=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in seed.render()
    monkeypatch.delenv("NO_COLOR")
    assert "\033[" not in seed.render(), "piped (not a terminal under pytest): plain"


def test_unknown_format(seed: Anatomy) -> None:
    with pytest.raises(ValueError, match="format='pdf' is not one of text, json, html"):
        seed.render("pdf")  # type: ignore[arg-type]


def test_html_is_self_contained(seed: Anatomy) -> None:
    page = seed.render("html")
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)=["']?https?:""", page), "no network fetches"
    assert "@import" not in page and "url(" not in page
    assert '"schema": "agent-anatomy/anatomy@1"' in page


def _chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("AGENT_ANATOMY_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return binary


_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
]


def _drawn(page: str, tmp_path: Path, height: int = 2600) -> tuple[str, dict[str, Any], Any]:
    """The page as Chromium lays it out: its DOM after the script ran, the geometry the script wrote down,
    and a screenshot of the same window (same size, so the same layout) to read pixels from."""
    from PIL import Image

    binary = _chromium()
    path = tmp_path / "anatomy.html"
    path.write_text(page)
    flags = [*_FLAGS, f"--window-size=1400,{height}"]
    dom = subprocess.run(
        [
            binary,
            *flags,
            f"--user-data-dir={tmp_path / 'dom'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert re.search(r'<div id="errors">\s*</div>', dom.stdout), "no script error reached the page"
    assert not re.search(r"CONSOLE\(\d+\)", dom.stderr), "the page wrote nothing to the console"
    shot = tmp_path / "anatomy.png"
    result = subprocess.run(
        [binary, *flags, f"--user-data-dir={tmp_path / 'shot'}", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    geometry = json.loads(html_lib.unescape(re.search(r'data-geometry="([^"]*)"', dom.stdout).group(1)))  # type: ignore[union-attr]
    return dom.stdout, geometry, Image.open(shot).convert("RGB")


def _colour(image: Any, x: float, y: float) -> tuple[int, int, int]:
    return tuple(image.getpixel((round(x), round(y))))  # type: ignore[no-any-return]


def _near(actual: tuple[int, int, int], hex_colour: str, tolerance: int = 12) -> bool:
    wanted = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - w) <= tolerance for a, w in zip(actual, wanted, strict=True))


def _middle(box: list[float]) -> tuple[float, float]:
    x, y, width, height = box[-4:]
    return x + width / 2, y + height / 2


@pytest.mark.slow
def test_html_draws_the_anatomy_in_headless_chromium(tmp_path: Path) -> None:
    from agent_anatomy.anatomy.render_html import _PHASE_COLOURS

    naive, optimised = seed_trace(), optimised_trace()
    anatomy = Anatomy([naive, optimised])
    dom, geometry, image = _drawn(anatomy.render("html"), tmp_path, height=4400)
    names = {s.span_id: s.name for tree in (naive, optimised) for s in tree.spans.values()}
    assert dom.count('class="row') == len(names), "one waterfall row per span"
    assert "rendered" not in dom, "no leftover status in the header"

    # one time scale: the 5,710 ms trace is drawn 5,710 / 3,010 as wide as the 3,010 ms one
    [naive_root] = [s for s in naive.spans.values() if s.parent_id is None]
    [fast_root] = [s for s in optimised.spans.values() if s.parent_id is None]
    ratio = geometry["bars"][naive_root.span_id][2] / geometry["bars"][fast_root.span_id][2]
    assert ratio == pytest.approx(5710 / 3010, rel=0.02)

    # a time axis with second ticks, on each trace
    for label in ("1 s", "2 s", "3 s", "4 s", "5 s"):
        assert f"<span>{label}</span>" in dom
    assert len(geometry["axes"]) == 2

    # the streamed LLM call shows both tones: waiting for 500 ms of its 1,500, then generating
    first_call = min((s for s in naive.spans.values() if s.name.startswith("chat")), key=lambda s: s.start_ns)
    parts = {part[0]: part[1:] for part in geometry["parts"][first_call.span_id]}
    assert set(parts) == {"waiting", "generating"}
    assert parts["waiting"][2] / (parts["waiting"][2] + parts["generating"][2]) == pytest.approx(1 / 3, abs=0.02)
    assert _near(_colour(image, *_middle(parts["waiting"])), _PHASE_COLOURS["llm_time_to_first_token"])
    assert _near(_colour(image, *_middle(parts["generating"])), _PHASE_COLOURS["llm_generation"])
    # a tool bar in its colour
    profile = next(s for s in naive.spans.values() if s.name == "execute_tool get_user_profile")
    assert _near(_colour(image, *_middle(geometry["bars"][profile.span_id])), _PHASE_COLOURS["tool"])

    # the critical path: a band under the part of each span that is on it, and only there
    banded = {}
    for span_id, *box in geometry["bands"]:
        banded.setdefault(names[span_id], []).append(box)
        bar = geometry["bars"][span_id]
        assert bar[0] - 1 <= box[0] and box[0] + box[2] <= bar[0] + bar[2] + 1, "a band lies under its own bar"
        assert _near(_colour(image, *_middle(box)), "#d7263d", 30)
    naive_bands = [names[i] for i, *_ in geometry["bands"] if i in naive.spans]
    assert naive_bands.count("chat claude-sonnet-4-6") == 3
    assert naive_bands.count("execute_tool get_transaction_history") == 2, "in sequence, then the longer of two"
    assert "execute_tool get_user_profile" in naive_bands
    assert "execute_tool get_product_catalog" not in naive_bands, "the shorter parallel tool is off the path"
    assert "tool_batch" not in naive_bands, "a batch has no time of its own on the path"

    # the flow: the seed's steps with their durations and the parallel batch's max written out
    assert "Tool calls, sequential: 800 ms + 600 ms = 1,400 ms" in dom
    assert "Tool calls, parallel: max(500 ms, 700 ms) = 700 ms" in dom
    assert "TTFT 500 ms → streaming starts" in dom
    assert "Total: 5,710 ms" in dom and "Total: 3,010 ms" in dom
    assert "⇢ Parallelise tool batch 1" in dom, "the what-if beside the step it would change"


@pytest.mark.slow
def test_html_marks_failures_and_spans_too_short_to_see(tmp_path: Path) -> None:
    """A failed tool is crossed and dashed; a 1 ms cache lookup in a 5.7 s trace keeps a visible bar and a
    marker; its hit is marked on its tool in the flow."""
    import dataclasses

    from agent_anatomy import semconv
    from agent_anatomy.anatomy import TraceTree
    from tests.anatomy._build import span

    seed = seed_trace()
    profile = next(s for s in seed.spans.values() if s.name == "execute_tool get_user_profile")
    catalog = next(s for s in seed.spans.values() if s.name == "execute_tool get_product_catalog")
    hit = {semconv.ANATOMY_CACHE_HIT.replace(".", "__"): True}
    lookup = span("cache_lookup get_product_catalog", 4110, 4111, catalog, **hit)
    spans = [dataclasses.replace(s, status="ERROR") if s is profile else s for s in seed.spans.values()]
    dom, geometry, _ = _drawn(Anatomy([TraceTree(seed.trace_id, [*spans, lookup])]).render("html"), tmp_path)
    assert (
        '<div class="row error"><div class="label" style="padding-left: 24px;">✕ execute_tool get_user_profile' in dom
    )
    assert geometry["bars"][lookup.span_id][2] >= 3, "a least width"
    assert dom.count('<div class="marker"') == 1, "one span too short to see, marked"
    assert "get_product_catalog · 500 ms · failed" not in dom and "get_user_profile · 800 ms · failed" in dom
    assert '<span class="cachemark" style="background: rgb(67, 170, 139); margin-left: 6px;">cache hit</span>' in dom


@pytest.mark.slow
def test_html_of_many_traces_starts_with_a_summary_in_chromium(tmp_path: Path) -> None:
    trees = [seed_trace(trace=f"{n + 1:032x}", stretch=1 + n / 10) for n in range(6)]
    dom, geometry, _ = _drawn(Anatomy(trees).render("html"), tmp_path, height=1400)
    assert "Summary of 6 traces" in dom
    assert dom.count('data-stack="') == 2, "phase p50 and p95 as stacked bars"
    assert dom.count('<tr><td><a href="#trace-') == 6, "every trace listed, each opening its anatomy"
    listed = re.findall(r'<td class="num">([\d,]+) ms</td><td class="num">3</td>', dom)
    walls = [int(w.replace(",", "")) for w in listed]
    assert walls == sorted(walls, reverse=True), "slowest first"
    assert len(geometry["axes"]) == 6


def test_a_many_trace_text_report_starts_with_its_traces() -> None:
    from agent_anatomy.anatomy import TraceTree
    from agent_anatomy.anatomy.render_text import TABLE_ROWS
    from tests.anatomy._build import llm, span

    trees = []
    for n in range(TABLE_ROWS + 5):
        trace_id = f"{n + 1:04x}" + "c" * 28
        agent = span("invoke_agent a", 0, 1000 + n, trace=trace_id)
        call = llm("m", 0, 900, agent, ttft=200)
        call.trace_id = trace_id
        trees.append(TraceTree(trace_id, [agent, call]))
    text = Anatomy(trees).render(color=False)
    lines = text.splitlines()
    assert lines[0] == f"Traces: the {TABLE_ROWS} slowest of {TABLE_ROWS + 5} (--format json lists every one)"
    assert lines[2].startswith(f"  {TABLE_ROWS + 5:04x}cccc") and "200 ms" in lines[2], "slowest first, its TTFT"
    assert f"{1:04x}cccc" not in text.split("Latency anatomy of")[0], "the fastest are left out of the table"
    assert f"Latency anatomy of {TABLE_ROWS + 5} traces" in text


def test_html_of_many_traces_says_which_it_shows() -> None:
    from agent_anatomy.anatomy import TraceTree
    from agent_anatomy.anatomy.render_html import MAX_TRACES
    from tests.anatomy._build import span

    trees = [TraceTree(f"{n + 1:032x}", [span("invoke_agent a", 0, 100 + n, trace=f"{n + 1:032x}")]) for n in range(25)]
    page = Anatomy(trees).render("html")
    assert f"showing the {MAX_TRACES} slowest of 25 traces" in page


def _flow_traces() -> list[Any]:
    """Traces of every shape the tests make: the seed agents, each fixture file's traces, one bare LLM span, an
    agent with start-up and code of its own around its tools, LLM calls made at once, a failed run."""
    from agent_anatomy.anatomy.model import TraceTree
    from agent_anatomy.anatomy.sources import records_from_file
    from tests.anatomy._build import TRACE, llm, span

    trees = [seed_trace(), optimised_trace()]
    fixtures = Path(__file__).parent / "fixtures"
    for path in sorted(fixtures.glob("*.json*")):
        try:
            records = records_from_file(path)
        except Exception:  # the malformed fixtures
            continue
        trees.extend(Anatomy.from_records(records).traces[i].tree for i in range(len(Anatomy.from_records(records))))
    trees.append(TraceTree("1" * 32, [llm("claude-sonnet-4-6", 0, 2343, None, ttft=None, trace="1" * 32)]))
    agent = span("invoke_agent mcp", 0, 4089, trace="2" * 32)
    trees.append(
        TraceTree(
            "2" * 32,
            [
                agent,
                span("mcp start-up", 0, 571, agent, trace="2" * 32),
                llm("claude-sonnet-4-6", 600, 2100, agent, ttft=400, trace="2" * 32),
                span("execute_tool sqrt", 2200, 2207, agent, trace="2" * 32),
                llm("claude-sonnet-4-6", 2300, 3900, agent, ttft=400, trace="2" * 32),
            ],
        )
    )
    fan = span("invoke_workflow parallel", 0, 1700, trace="3" * 32)
    calls = [
        llm("claude-sonnet-4-6", 10, 1500 + 60 * i, fan, ttft=300, tokens=90 + i, trace="3" * 32) for i in range(3)
    ]
    failed = span("invoke_agent crashing", 0, 900, trace="4" * 32, error__type="KeyError")
    failed.status = "ERROR"
    trees.append(TraceTree("3" * 32, [fan, *calls]))
    trees.append(TraceTree("4" * 32, [failed, llm("claude-sonnet-4-6", 0, 800, failed, ttft=None, trace="4" * 32)]))
    assert TRACE not in {t.trace_id for t in trees[2:]}
    return trees


def test_every_step_of_the_flow_is_reported_and_the_steps_add_up() -> None:
    """Agent code and start-up included: the flow's steps cover the whole trace."""
    from agent_anatomy.anatomy.report import step_ms

    for trace in Anatomy(_flow_traces()).report().traces:
        total = sum(step_ms(step) or 0 for step in trace.steps)
        assert total == pytest.approx(trace.wall_ms, abs=1 + 0.5 * len(trace.steps)), trace.trace_id


@pytest.mark.slow
def test_the_html_flows_boxes_add_up_to_the_total_on_every_trace(tmp_path: Path) -> None:
    """Read in headless Chromium: each trace's flow draws a box per step, and the boxes add up to its total."""
    trees = _flow_traces()
    assert len(trees) <= 20, "one page draws every trace"
    dom, _, _ = _drawn(Anatomy(trees).render("html"), tmp_path, height=3000)
    sections = dom.split('<section class="trace" id="trace-')[1:]  # (not the template's)
    assert len(sections) == len(trees)
    for section in sections:
        flow = section.split('class="flow"', 1)[1].split('class="waterfall"', 1)[0]
        boxes = [float(ms) for ms in re.findall(r'data-ms="([0-9.]+)"', flow)]
        total = float(re.search(r"Total: ([0-9,]+) ms", flow).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert boxes, section[:80]
        assert sum(boxes) == pytest.approx(total, abs=1 + 0.5 * len(boxes)), section[:120]
    assert "agent code" in dom and "mcp start-up" in dom, "the agent's own steps are drawn"
    assert "✕ Failed: invoke_agent crashing (KeyError)" in dom
