"""Comparing before and after: figures per phase, steps lined up, the typical trace of many."""

from __future__ import annotations

import json

import pytest

from agent_anatomy.anatomy import Anatomy, compared
from agent_anatomy.anatomy.compare import compare, line_up
from agent_anatomy.anatomy.report import CacheStep, LLMStep, ToolEntry, ToolsStep, TraceReport
from tests.anatomy._build import optimised_trace, seed_trace


def _documents(anatomy: Anatomy) -> list[TraceReport]:
    return anatomy.trace_reports()


def test_identical_inputs_give_zero_differences() -> None:
    seed = _documents(Anatomy([seed_trace()]))
    comparison = compare(seed, seed)
    assert comparison.figures, "there are figures to compare"
    for figure in comparison.figures:
        assert figure.change_p50 == 0 and figure.change_p95 == 0, figure.name
    assert [s.change for s in comparison.steps] == ["same"] * 5
    assert all(not s.notes for s in comparison.steps)


def test_the_seed_against_its_optimised_run_gives_the_known_differences() -> None:
    comparison = compare(_documents(Anatomy([seed_trace()])), _documents(Anatomy([optimised_trace()])))
    figures = {f.name: f for f in comparison.figures}
    assert figures["total"].change_p50 == pytest.approx(3010 - 5710)
    assert figures["tool"].change_p50 == pytest.approx((800 + 700) - (1400 + 700))
    # the answer starts with the last call's first token: 4,810 + 300 before, 2,110 + 300 after
    assert figures["first_text"].change_p50 == pytest.approx(2410 - 5110)
    steps = [(s.change, s.label, s.before_ms, s.after_ms, s.notes) for s in comparison.steps]
    assert steps[0][:4] == ("changed", "LLM call 1", 1500, 300)
    assert "model claude-sonnet-4-6 → claude-haiku-4-5" in steps[0][4]
    assert "TTFT 500 → 250 ms" in steps[0][4]
    assert steps[1][:4] == ("changed", "Tool batch 1", 1400, 800)
    assert steps[1][4] == ("sequential → parallel",)
    assert steps[3][:4] == ("same", "Tool batch 2", 700, 700), "the second batch was parallel already"
    assert steps[4][1:4] == ("LLM call 3", 900, 900)


def _llm(label: str, model: str, ms: float) -> LLMStep:
    return LLMStep("llm", label, "s1", model, None, ms, None, None, True, 1)


def _tools(label: str, mode: str, *names: str) -> ToolsStep:
    tools = tuple(ToolEntry(n, "s2", 100.0, False) for n in names)
    return ToolsStep("tools", label, mode, tools, 100.0, 100.0, 100.0)


def test_steps_that_appear_and_disappear() -> None:
    cache = CacheStep("cache", "cache_lookup search", True, 1.0, None)
    before = [_llm("LLM call 1", "a", 500), _tools("Tool batch 1", "single", "search"), _llm("LLM call 2", "a", 400)]
    after = [_llm("LLM call 1", "a", 500), cache, _llm("LLM call 2", "b", 300), _llm("LLM call 3", "b", 200)]
    changes = [(c.change, c.label) for c in line_up(before, after)]
    assert changes == [
        ("same", "LLM call 1"),
        ("disappeared", "Tool batch 1"),
        ("appeared", "cache_lookup search"),
        ("changed", "LLM call 2"),
        ("appeared", "LLM call 3"),
    ]


def test_many_traces_compare_percentiles_and_line_up_the_typical_trace() -> None:
    before = Anatomy([seed_trace(trace=f"{n + 1:032x}", stretch=1 + n / 10) for n in range(5)])
    after = Anatomy([optimised_trace(trace=f"{n + 1:031x}f") for n in range(3)])
    comparison = compare(_documents(before), _documents(after))
    total = next(f for f in comparison.figures if f.name == "total")
    assert total.before_p50 == pytest.approx(5710 * 1.2) and total.before_p95 == pytest.approx(5710 * 1.4)
    assert total.after_p50 == pytest.approx(3010)
    assert comparison.before_typical and comparison.before_trace_id == f"{3:032x}", "the median of five"
    text = compared(before, after, "before.jsonl", "after.jsonl", "text", color=False)
    assert "Before: before.jsonl (5 traces, typical 0000000000000000)" in text
    assert "p50" in text.splitlines() and "p95" in text.splitlines()
    assert "Step by step of the typical traces" in text


def test_json_and_text_say_the_same() -> None:
    before, after = Anatomy([seed_trace()]), Anatomy([optimised_trace()])
    document = json.loads(compared(before, after, "a", "b", "json"))
    assert document["schema"] == "agent-anatomy/compare@1"
    assert (document["before_source"], document["after_source"]) == ("a", "b")
    total = next(f for f in document["figures"] if f["name"] == "total")
    assert total["change"]["p50_ms"] == pytest.approx(-2700)
    text = compared(before, after, "a", "b", "text", color=False)
    assert "  total                               5,710 ms   3,010 ms  -2,700 ms (-47%)" in text.splitlines()
    assert "~ Tool batch 1      1,400 → 800 ms       -600 ms   sequential → parallel" in text
    assert all(len(line) <= 80 for line in text.splitlines()), "fits a terminal"
