"""Latency budgets: the file's shape, what each limit measures, and the verdicts as text and JUnit XML."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.budget import Budget, check, first_text_ms
from agent_anatomy.anatomy.render_budget import budget_lines, junit_xml
from agent_anatomy.anatomy.report import TraceReport
from agent_anatomy.errors import ConfigurationError
from tests.anatomy._build import optimised_trace, seed_trace


def _documents(*stretches: float) -> list[TraceReport]:
    trees = [seed_trace(trace=f"{n + 1:032x}", stretch=s) for n, s in enumerate(stretches)]
    return Anatomy(trees).trace_reports()


def _budget(text: str, tmp_path: Path) -> Budget:
    path = tmp_path / "budget.toml"
    path.write_text(text)
    return Budget.load(path)


def test_every_measure_against_known_traces(tmp_path: Path) -> None:
    budget = _budget(
        """
        [total]
        p50_ms = 6000
        p95_ms = 6000
        [first_text]
        p95_ms = 5000
        [tool_time]
        max_ms = 2100
        [llm_calls]
        max = 3
        [ttft.model."claude-sonnet-4-6"]
        p95_ms = 450
        [ttft.step."LLM call 1"]
        p50_ms = 500
        """,
        tmp_path,
    )
    # three seed traces at 1x, 1.1x and 1.2x: 5,710, 6,281 and 6,852 ms
    verdicts = {v.limit.label: v for v in check(budget, _documents(1.0, 1.1, 1.2))}
    assert verdicts["total p50"].value == pytest.approx(6281) and not verdicts["total p50"].passed
    assert verdicts["total p50"].over == pytest.approx(281)
    assert verdicts["total p95"].value == pytest.approx(6852)
    # the answer starts with the last call's first token: 4,810 + 300 ms into the trace
    assert verdicts["first text p95"].value == pytest.approx(5110 * 1.2) and not verdicts["first text p95"].passed
    # tools: 1,400 ms sequential plus 700 in parallel, per trace
    assert verdicts["tool time max"].value == pytest.approx(2100 * 1.2)
    assert verdicts["LLM calls max"].value == 3 and verdicts["LLM calls max"].passed
    # the model's calls: TTFT 500, 400, 300 ms at three stretches; nine calls, p95 is the slowest
    model = verdicts["TTFT claude-sonnet-4-6 p95"]
    assert (model.measured, model.population, model.value) == (9, 9, pytest.approx(600))
    step = verdicts["TTFT step LLM call 1 p50"]
    assert (step.measured, step.value, step.passed) == (3, pytest.approx(550), False)


def test_a_met_budget_and_the_report(tmp_path: Path) -> None:
    budget = _budget("[total]\np95_ms = 6000\n[llm_calls]\np50 = 3\n", tmp_path)
    verdicts = check(budget, _documents(1.0))
    assert all(v.passed for v in verdicts)
    lines = budget_lines(verdicts, "budget.toml", "1 trace")
    assert lines[-1] == "All 2 limits met"
    assert any(line.startswith("  ✓ total p95") and "5,710 ms" in line and line.endswith("ok") for line in lines)


def test_what_no_trace_records_is_not_measured_and_does_not_pass(tmp_path: Path) -> None:
    budget = _budget('[ttft.model."claude-haiku-4-5"]\np95_ms = 400\n[total]\np95_ms = 9000\n', tmp_path)
    verdicts = check(budget, _documents(1.0))
    haiku = verdicts[0]
    assert haiku.value is None and haiku.population == 0 and not haiku.passed
    text = "\n".join(budget_lines(verdicts, "b.toml", "1 trace"))
    assert "not measured" in text and "no trace has one of claude-haiku-4-5's calls" in text
    assert text.endswith("1 of 2 limits missed (1 not measured)")


def test_first_text_of_an_unstreamed_answer_is_its_end() -> None:
    [report] = Anatomy([optimised_trace()]).trace_reports()
    assert first_text_ms(report) == pytest.approx(2110 + 300)

    def last_call(**changes: object) -> TraceReport:
        calls = (*report.llm_calls[:-1], dataclasses.replace(report.llm_calls[-1], **changes))  # type: ignore[arg-type]
        return dataclasses.replace(report, llm_calls=calls)

    assert first_text_ms(last_call(ttft_ms=None, first_text_ms=None, streamed=False)) == pytest.approx(3010)
    assert first_text_ms(last_call(ttft_ms=None, first_text_ms=None, streamed=None)) is None, "not guessed"


def test_junit_xml_has_a_test_per_limit(tmp_path: Path) -> None:
    budget = _budget("[total]\np50_ms = 1000\np95_ms = 9000\n", tmp_path)
    root = ET.fromstring(junit_xml(check(budget, _documents(1.0)), "budget.toml"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["total p50 <= 1,000 ms", "total p95 <= 9,000 ms"]
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("message") == "measured 5,710 ms, over by 4,710 ms"
    assert cases[1].find("failure") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[total\np95_ms = 1", "not valid TOML"),
        ("[latency]\np95_ms = 1\n", "[latency] is not a measure a budget knows (total, first_text, tool_time"),
        ("[total]\np96_ms = 1\n", "[total] p96_ms is not a limit it takes (p50_ms, p90_ms, p95_ms, p99_ms, max_ms)"),
        ("[total]\np95 = 1\n", "[total] p95 is not a limit it takes"),
        ("[llm_calls]\nmax_ms = 3\n", "[llm_calls] max_ms is not a limit it takes (p50, p90, p95, p99, max)"),
        ("[total]\np95_ms = -5\n", "[total] p95_ms = -5 is not a non-negative number"),
        ('[total]\np95_ms = "fast"\n', "is not a non-negative number"),
        ("[total]\n", "[total] must be a table of limits"),
        ('[ttft.region."eu"]\np95_ms = 1\n', "[ttft.region] is not one of [ttft.model.NAME], [ttft.step.NAME]"),
        ("", "the budget sets no limit"),
    ],
)
def test_a_malformed_budget_is_one_clear_error(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        _budget(text, tmp_path)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert str(tmp_path / "budget.toml") in str(raised.value), "the file is named"


def test_a_missing_budget_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"--budget .*nope\.toml: cannot read it: No such file"):
        Budget.load(tmp_path / "nope.toml")
