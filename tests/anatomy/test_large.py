"""Reports over large JSON Lines files: indexed, analysed trace by trace on worker processes, figures kept.

The same file read the ordinary way (every span in memory) and the large way must give the same report.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.formatting import ms
from agent_anatomy.anatomy.reporting import row_of, trace_report
from agent_anatomy.errors import ConfigurationError, TraceNotFoundError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_anatomy import agent_traces, write_exporter_jsonl  # noqa: E402


@pytest.fixture(scope="module")
def traces_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("large") / "traces.jsonl"
    write_exporter_jsonl(path, agent_traces(60, turns=3, seed=11))
    lines = path.read_text().splitlines()
    random.Random(3).shuffle(lines)  # spans of many traces interleaved, as a busy exporter writes them
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_large_way_gives_the_ordinary_report(traces_file: Path) -> None:
    ordinary = Anatomy.from_file(traces_file, large_after=10**9)
    large = Anatomy.from_file(traces_file, large_after=1, workers=1)
    assert large.figures is not None and ordinary.figures is None and len(large) == len(ordinary) == 60
    assert large.to_dict() == ordinary.to_dict()
    assert large.render(color=False) == ordinary.render(color=False)


def test_without_its_reports_a_large_file_reports_the_same(traces_file: Path) -> None:
    """``reports=False`` (what the text report and ``list`` ask for) keeps figures and rows only: the rows are
    those the reports give, and what needs a report has it made again from the trace's spans."""
    kept = Anatomy.from_file(traces_file, large_after=1, workers=1)
    rows_only = Anatomy.from_file(traces_file, large_after=1, workers=1, reports=False)
    assert rows_only.rows() == kept.rows()
    assert any(row.ttft != "not streamed" for row in kept.rows()) and any(row.top != "-" for row in kept.rows())
    assert rows_only.render(color=False) == kept.render(color=False)
    assert rows_only.to_dict() == kept.to_dict()
    assert "".join(rows_only.render_parts("json")) == "".join(kept.render_parts("json"))


def test_a_row_made_without_the_report_is_the_reports_row(traces_file: Path) -> None:
    ordinary = Anatomy.from_file(traces_file, large_after=10**9)
    for analysis in ordinary.traces:
        row, report = row_of(analysis), trace_report(analysis)
        first = report.llm_calls[0] if report.llm_calls else None
        top = report.suggestions[0] if report.suggestions else None
        assert (row.trace_id, row.service, row.start_unix_ns, row.wall_ms, row.llm_calls) == (
            report.trace_id,
            report.service,
            report.start_unix_ns,
            report.wall_ms,
            len(report.llm_calls),
        )
        assert row.ttft_ms == (first.ttft_ms if first else None)
        if first is None:
            assert row.ttft == "no LLM"
        elif first.ttft_ms is not None:
            assert row.ttft == ms(first.ttft_ms)
        else:
            assert row.ttft == ("not streamed" if first.streamed is False else "not recorded")
        assert row.top == (f"{top.title} ({ms(top.saving_ms)})" if top else "-")


def test_worker_processes_give_the_same_report(traces_file: Path) -> None:
    one = Anatomy.from_file(traces_file, large_after=1, workers=1)
    two = Anatomy.from_file(traces_file, large_after=1, workers=2)
    assert two.to_dict() == one.to_dict()


def test_one_trace_of_a_large_file_is_read_alone(traces_file: Path) -> None:
    ordinary = Anatomy.from_file(traces_file, large_after=10**9)
    wanted = ordinary.traces[17].trace_id
    alone = Anatomy.from_file(traces_file, trace_id=wanted, large_after=1)
    assert alone.figures is None and len(alone.trace.tree) == len(ordinary.traces[17].tree)
    assert alone.trace.phases == ordinary.traces[17].phases


def test_what_a_large_report_does_not_keep_it_says(traces_file: Path) -> None:
    large = Anatomy.from_file(traces_file, large_after=1, workers=1)
    with pytest.raises(TraceNotFoundError, match="keeps their figures, not their spans"):
        large.trace  # noqa: B018
    with pytest.raises(ConfigurationError, match="--spans"):
        large.to_dict(spans=True)
    page = large.render("html")
    assert "showing the 20 slowest of 60 traces" in page
    slowest = max(large.figures or [], key=lambda f: f.wall_ns)
    assert slowest.trace_id in page


def test_a_large_report_of_few_traces_draws_them_all(tmp_path: Path) -> None:
    """At most 20 traces: every one is read again with its spans and drawn (the page raised before)."""
    path = tmp_path / "few.jsonl"
    write_exporter_jsonl(path, agent_traces(4, turns=2, seed=3))
    large = Anatomy.from_file(path, large_after=1, workers=1)
    assert large.figures is not None and len(large) == 4
    page = large.render("html")
    ordinary = Anatomy.from_file(path, large_after=10**9)
    for trace in ordinary.traces:
        assert trace.trace_id in page
    assert "showing the" not in page, "all four are drawn, none left out"


def test_the_command_reports_a_file_of_traces(traces_file: Path) -> None:
    command = [sys.executable, "-m", "agent_anatomy.cli", "report", str(traces_file), "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["traces"]) == 60


def test_the_commands_text_and_list_of_a_large_file_are_the_reports(tmp_path: Path) -> None:
    """The text report and ``list`` keep no report per trace (``reports=False``): what they print is what the
    reports say."""
    path = tmp_path / "large.jsonl"
    write_exporter_jsonl(path, agent_traces(240, turns=2, seed=5))
    anatomy = Anatomy.from_file(path, workers=1)
    assert anatomy.figures is not None, "read the large way"
    for command, expected in (
        ("report", anatomy.render(color=False, width=80)),
        ("list", None),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "agent_anatomy.cli", command, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "COLUMNS": "80"},
        )
        assert done.returncode == 0, done.stderr
        if expected is not None:
            assert done.stdout.strip() == expected.strip()
        else:
            assert done.stdout.startswith("240 traces in") and all(
                row.trace_id[:16] in done.stdout for row in anatomy.rows()
            )


def test_progress_is_told_of_reading_then_analysing(traces_file: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    Anatomy.from_file(traces_file, large_after=1, workers=1, progress=lambda *report: seen.append(report))
    whats = [what for what, _, _ in seen]
    assert whats[0] == "reading" and whats[-1] == "analysing" and sorted(set(whats)) == ["analysing", "reading"]
    assert seen[-1][1] == seen[-1][2], "ends at 100 %"
    analysing = [done for what, done, _ in seen if what == "analysing"]
    assert analysing == sorted(analysing)


def test_a_large_json_report_comes_a_trace_at_a_time(traces_file: Path) -> None:
    """``render_parts``: the head, each trace's entry, the summary; joined, exactly ``render``'s document."""
    large = Anatomy.from_file(traces_file, large_after=1, workers=1)
    parts = list(large.render_parts("json"))
    assert len(parts) == 60 + 2, "one piece a trace, besides the head and the tail"
    assert "".join(parts) == large.render("json")
    ordinary = Anatomy.from_file(traces_file, large_after=10**9)
    assert json.loads("".join(parts)) == ordinary.to_dict()
    assert list(ordinary.render_parts("text", color=False)) == [ordinary.render("text", color=False)]


def test_workers_started_while_the_file_is_indexed_give_the_same_report(
    traces_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_anatomy.anatomy import _anatomy

    one = Anatomy.from_file(traces_file, large_after=1, workers=1)
    monkeypatch.setattr(_anatomy, "EARLY_WORKERS_BYTES", 0)  # every file counts as likely large
    ahead = Anatomy.from_file(traces_file, large_after=1, workers=2)
    assert ahead.to_dict() == one.to_dict()
    # started for a file that turns out not to be large (60 traces, not 61): stopped again, the report the
    # ordinary one
    started: list[object] = []
    real_workers = _anatomy.Workers
    monkeypatch.setattr(_anatomy, "Workers", lambda *a: started.append(a) or real_workers(*a))
    ordinary = Anatomy.from_file(traces_file, large_after=61, workers=2)
    assert ordinary.figures is None and ordinary.to_dict() == one.to_dict()
    assert len(started) == 1 and not multiprocessing.active_children(), "every worker process was reaped"
    # a file too small to hold large_after traces starts none
    assert Anatomy.from_file(traces_file, large_after=10**9, workers=2).to_dict() == one.to_dict()
    assert len(started) == 1, "no workers started for a file that cannot be large"


_UNGUARDED_SCRIPT = """
import sys
from agent_anatomy.anatomy import Anatomy
# no `if __name__ == "__main__":`, as most scripts are written
print(Anatomy.from_file(sys.argv[1], large_after=1, workers=2).render("json"))
"""


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_a_script_without_a_main_guard_reports_on_worker_processes(traces_file: Path, tmp_path: Path, how: str) -> None:
    """The workers are spawned processes, which by default run the caller's main module again: a script
    without a main guard then ran its report again in each worker and failed with BrokenProcessPool, and a
    script read on standard input could not be re-run at all. Neither is run again now."""
    script = tmp_path / "report_script.py"
    script.write_text(_UNGUARDED_SCRIPT)
    command = [sys.executable, str(script) if how == "file" else "-", str(traces_file)]
    done = subprocess.run(
        command,
        input=_UNGUARDED_SCRIPT if how == "stdin" else None,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    one = Anatomy.from_file(traces_file, large_after=1, workers=1)
    assert json.loads(done.stdout) == one.to_dict()


def test_the_second_pass_reads_the_records_the_first_kept_or_else_the_lines(
    traces_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first pass keeps each trace's records for the second, which then parses no line again. A trace whose
    records could not be kept, or a chunk whose file could not be written, is read from its lines: the same
    report either way."""
    import contextlib
    import marshal

    from agent_anatomy.anatomy import large

    ordinary = Anatomy.from_file(traces_file, large_after=10**9).to_dict()
    read_again: list[str] = []
    real_read = large.TraceIndex.read

    def counted(index: large.TraceIndex, trace_id: str) -> list[large.SpanRecord]:
        read_again.append(trace_id)
        return real_read(index, trace_id)

    monkeypatch.setattr(large.TraceIndex, "read", counted)
    assert Anatomy.from_file(traces_file, large_after=1, workers=1).to_dict() == ordinary
    assert len(read_again) == 60, "each trace's lines parsed once, by the first pass"

    odd = large.SpanRecord("ab" * 16, "cd" * 8, None, "chat", 1, 2, {"x": object()})  # not a value marshal writes
    assert marshal.loads(large._packed([odd])[large._LENGTH.size :]) is None
    read_again.clear()
    real_packed = large._packed
    packed_count = [0]

    def every_other(records: list[large.SpanRecord]) -> bytes:
        packed_count[0] += 1
        nothing = marshal.dumps(None)  # what is written for records marshal cannot write
        return real_packed(records) if packed_count[0] % 2 else large._LENGTH.pack(len(nothing)) + nothing

    monkeypatch.setattr(large, "_packed", every_other)
    assert Anatomy.from_file(traces_file, large_after=1, workers=1).to_dict() == ordinary
    assert len(read_again) == 60 + 30, "the traces not kept were read again"

    read_again.clear()
    missing = tmp_path / "gone"
    monkeypatch.setattr(large.tempfile, "TemporaryDirectory", lambda **_: contextlib.nullcontext(str(missing)))
    assert Anatomy.from_file(traces_file, large_after=1, workers=1).to_dict() == ordinary
    assert len(read_again) == 120, "with nowhere to keep them, every trace was read twice"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bad_line_of_a_large_file_is_named_by_its_number(traces_file: Path, tmp_path: Path, workers: int) -> None:
    """A line cut short in a large file: the same one-line error as the ordinary reading, naming the line (it
    said line 0), and from worker processes too (the error did not unpickle: BrokenProcessPool)."""
    from agent_anatomy.errors import SourceError

    lines = traces_file.read_text().splitlines()
    lines[150] = lines[150][:-40]  # ids and all still there, so the index takes it
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=r"line 151 is not valid JSON") as ordinary:
        Anatomy.from_file(broken, large_after=10**9)
    with pytest.raises(SourceError, match=r"line 151 is not valid JSON") as large:
        Anatomy.from_file(broken, large_after=1, workers=workers)
    assert str(large.value) == str(ordinary.value) and large.value.source == str(broken)
    if workers == 2:  # the command, on a file of enough traces to be read the large way
        many = tmp_path / "many.jsonl"
        write_exporter_jsonl(many, agent_traces(210, turns=1, seed=5))
        lines = many.read_text().splitlines()
        lines[150] = lines[150][:-40]
        many.write_text("\n".join(lines) + "\n")
        with pytest.raises(SourceError, match=r"line 151 is not valid JSON") as ordinary:
            Anatomy.from_file(many, large_after=10**9)
        done = subprocess.run(
            [sys.executable, "-m", "agent_anatomy.cli", "report", str(many)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines() == [f"agent-anatomy: error: {ordinary.value}"]
