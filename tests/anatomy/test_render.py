"""Rendering: JSON schema and numbers agreeing with the text, colour rules, the HTML page in Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_anatomy.anatomy import Anatomy
from tests.anatomy._build import seed_trace


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
    [suggestion] = trace["suggestions"]
    assert (suggestion["saving_ms"], suggestion["total_after_ms"]) == (600.0, 5110.0)
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
    "--window-size=1400,1000",
]


@pytest.mark.slow
def test_html_renders_in_headless_chromium(seed: Anatomy, tmp_path: Path) -> None:
    binary = _chromium()
    page = tmp_path / "anatomy.html"
    page.write_text(seed.render("html"))
    url = page.as_uri()
    dom = subprocess.run(
        [
            binary,
            *_FLAGS,
            f"--user-data-dir={tmp_path / 'profile-dom'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-bars="10"' in dom.stdout, "one bar per span"
    assert "rendered 10 bars" in dom.stdout
    assert re.search(r'<div id="errors">\s*</div>', dom.stdout), "no script error reached the page"
    assert not re.search(r"CONSOLE\(\d+\)", dom.stderr), "the page wrote nothing to the console"
    assert dom.stdout.count('class="bar ') == 10
    assert dom.stdout.count(" critical") >= 7, "the critical path is outlined"
    shot = tmp_path / "anatomy.png"
    result = subprocess.run(
        [binary, *_FLAGS, f"--user-data-dir={tmp_path / 'profile-shot'}", f"--screenshot={shot}", url],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_many_trace_text_report_starts_with_its_traces() -> None:
    from agent_anatomy.anatomy import TraceTree
    from agent_anatomy.anatomy.render import TABLE_ROWS
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
