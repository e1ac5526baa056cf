"""A budget's verdicts as a table people read and as JUnit XML that CI systems show as tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from .formatting import count, ms
from .report import Verdict

__all__ = ["budget_lines", "junit_xml"]


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return ms(value) if unit == "ms" else f"{value:,.0f}"


def _outcome(verdict: Verdict) -> str:
    if verdict.value is None:
        return "not measured"
    if verdict.passed:
        return "ok"
    return f"over by {_value(verdict.over, verdict.limit.unit)}"


def _note(verdict: Verdict) -> str | None:
    """What a value was taken over when that is not every trace: the reader must know it."""
    limit = verdict.limit
    if limit.selector is not None:
        kind, name = limit.selector
        whose = f"{name}'s calls" if kind == "model" else f"the calls of step {name}"
        if verdict.population == 0:
            return f"{limit.label}: no trace has one of {whose}"
        if verdict.measured < verdict.population:
            return (
                f"{limit.label}: {verdict.measured:,} of {whose} ({verdict.population:,}) recorded a first token "
                "(the others did not stream, or their trace does not say)"
            )
        return None
    if verdict.measured < verdict.population:
        return f"{limit.label}: {verdict.measured:,} of {count(verdict.population, 'trace')} record it"
    return None


def budget_lines(verdicts: Sequence[Verdict], source: str, traces: str) -> list[str]:
    """The check's report: one row per limit, what was measured and by how much it is over, then notes on
    limits measured over fewer traces or calls than there were."""
    missed = [v for v in verdicts if not v.passed]
    width = max(12, *(len(v.limit.label) for v in verdicts))
    lines = [f"Latency budget {source} against {traces}", ""]
    lines.append(f"    {'':<{width}} {'limit':>10} {'measured':>10}  outcome")
    for verdict in verdicts:
        unit = verdict.limit.unit
        lines.append(
            f"  {'✓' if verdict.passed else '✗'} {verdict.limit.label:<{width}} "
            f"{_value(verdict.limit.limit, unit):>10} {_value(verdict.value, unit):>10}  {_outcome(verdict)}"
        )
    notes = [note for note in map(_note, verdicts) if note]
    if notes:
        lines.extend(["", *(f"  {note}" for note in notes)])
    lines.append("")
    if missed:
        unmeasured = sum(1 for v in missed if v.value is None)
        detail = f" ({unmeasured:,} not measured)" if unmeasured else ""
        lines.append(f"{len(missed):,} of {count(len(verdicts), 'limit')} missed{detail}")
    else:
        lines.append(f"All {count(len(verdicts), 'limit')} met")
    return lines


def junit_xml(verdicts: Sequence[Verdict], source: str) -> str:
    """One test suite, one test case per limit; a limit over or not measured is a failure."""
    failures = sum(1 for v in verdicts if not v.passed)
    suite = ET.Element(
        "testsuite", name=f"agent-anatomy budget {source}", tests=str(len(verdicts)), failures=str(failures)
    )
    for verdict in verdicts:
        unit = verdict.limit.unit
        case = ET.SubElement(
            suite,
            "testcase",
            classname="agent-anatomy.budget",
            name=f"{verdict.limit.label} <= {_value(verdict.limit.limit, unit)}",
        )
        if not verdict.passed:
            message = (
                "not measured: no trace records it"
                if verdict.value is None
                else f"measured {_value(verdict.value, unit)}, over by {_value(verdict.over, unit)}"
            )
            ET.SubElement(case, "failure", message=message, type="budget").text = message
    suites = ET.Element("testsuites", tests=str(len(verdicts)), failures=str(failures))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
