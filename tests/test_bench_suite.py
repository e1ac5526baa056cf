"""``benchmarks/suite.py``: a run of some benchmarks keeps the latest results of the others (dated), and the
performance page's tables show only what was measured, each with its date."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "suite.py"
MACHINE = {"date": "2026-12-03 15:00 UTC", "cpu": "Test CPU", "cores": 2}


@pytest.fixture(scope="module")
def suite() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_suite", SUITE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lever_row(value: float) -> dict[str, Any]:
    return {
        "section": "levers",
        "name": "parallel tools",
        "value": value,
        "unit": "x",
        "spread": 0.1,
        "baseline": "sequential",
        "ratio": value,
        "target": ">= 2",
        "ok": True,
        "note": "",
    }


def _previous(path: Path, cpu: str = "Test CPU") -> None:
    runs = {"levers": {"rows": [_lever_row(3.5)], "extra": {}, "seconds": 60.0}}
    path.write_text(json.dumps({"machine": {**MACHINE, "date": "2026-12-01 08:00 UTC", "cpu": cpu}, "runs": runs}))


def test_a_partial_run_keeps_the_other_benchmarks_with_their_date(suite: ModuleType, tmp_path: Path) -> None:
    _previous(tmp_path / "latest.json")
    ran = {"decorators": {"rows": [_lever_row(1.1)], "extra": {}, "seconds": 5.0, "date": MACHINE["date"]}}
    runs = suite.kept_runs(tmp_path / "latest.json", ran, MACHINE)
    assert list(runs) == ["decorators", "levers"]  # the suite's order
    assert runs["levers"]["date"] == "2026-12-01 08:00 UTC" and runs["levers"]["rows"][0]["value"] == 3.5
    assert runs["decorators"] is ran["decorators"]


def test_results_of_another_machine_or_none_are_not_kept(suite: ModuleType, tmp_path: Path) -> None:
    _previous(tmp_path / "latest.json", cpu="Another CPU")
    assert list(suite.kept_runs(tmp_path / "latest.json", {}, MACHINE)) == []
    (tmp_path / "broken.json").write_text("{not json")
    assert suite.kept_runs(tmp_path / "broken.json", {}, MACHINE) == {}
    assert suite.kept_runs(tmp_path / "absent.json", {}, MACHINE) == {}


def test_the_performance_page_keeps_a_table_nothing_was_measured_for(suite: ModuleType, tmp_path: Path) -> None:
    readme = tmp_path / "performance.md"
    kept = "<!-- bench:levers -->\n*old*\n\n| old table |\n<!-- /bench:levers -->"
    readme.write_text(f"# x\n<!-- bench:peers -->\nold\n<!-- /bench:peers -->\n{kept}\n")
    suite.update_tables(readme, MACHINE, {})
    assert kept in readme.read_text()
    runs = {"levers": {"rows": [_lever_row(3.5)], "date": "2026-12-01 08:00 UTC"}}
    suite.update_tables(readme, MACHINE, runs)
    text = readme.read_text()
    assert "| old table |" not in text and "| levers | parallel tools | 3.5 x |" in text
    assert "*2026-12-01 08:00 UTC, Test CPU, 2 cores*" in text


def test_the_run_ends_with_each_target_met_or_not(suite: ModuleType) -> None:
    missed = {**_lever_row(1.2), "ok": False, "name": "cached tools"}
    untargeted = {**_lever_row(9.0), "ok": None, "name": "no target"}
    runs = {"levers": {"rows": [_lever_row(3.5), missed, untargeted]}, "anatomy": {"failed": "exit 1"}}
    lines = suite.target_lines(runs)
    assert lines[0] == "targets: 1 of 2 met"
    assert lines[1].split()[:2] == ["met", "levers:"] and "parallel tools" in lines[1] and "3.50" in lines[1]
    assert lines[2].split()[:3] == ["NOT", "MET", "levers:"] and "cached tools" in lines[2]
    assert not any("no target" in line for line in lines)
