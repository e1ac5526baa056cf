"""How the text reports read: separators, plurals, lines wrapped to the width without breaking colour codes."""

from __future__ import annotations

import io

import pytest

from agent_anatomy.anatomy.formatting import count, ms, output_width, visible_len, wrap


def test_numbers_have_separators_and_nouns_their_plurals() -> None:
    assert ms(14246.4) == "14,246 ms"
    assert [count(1, "trace"), count(14246, "span"), count(0, "call"), count(2, "entry", "entries")] == [
        "1 trace",
        "14,246 spans",
        "0 calls",
        "2 entries",
    ]


def test_wrap_keeps_the_indent_and_every_word() -> None:
    line = "     They ran one after another (801 ms + 601 ms); run together they take as long as the slowest."
    wrapped = wrap([line, "short"], 40)
    assert all(len(part) <= 40 for part in wrapped)
    assert wrapped[0].startswith("     They") and all(part.startswith("       ") for part in wrapped[1:-1])
    assert " ".join(part.strip() for part in wrapped[:-1]) == line.strip()
    assert wrapped[-1] == "short"


def test_wrap_does_not_count_or_split_colour_codes() -> None:
    coloured = "  \033[32m1. Parallelise tool batch 1: saves 600 ms → 5,110 ms and then some more words\033[0m"
    wrapped = wrap([coloured], 50)
    assert all(visible_len(part) <= 50 for part in wrapped)
    assert "".join(wrapped).count("\033[32m") == 1 and wrapped[-1].endswith("\033[0m")
    assert wrap(["x" * 90], 40) == ["x" * 90], "a word longer than the line stays whole"


def test_output_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert output_width(io.StringIO()) == 80, "not a terminal: 80 columns"
    monkeypatch.setenv("COLUMNS", "132")
    assert output_width(io.StringIO()) == 132
    monkeypatch.setenv("COLUMNS", "10")
    assert output_width(io.StringIO()) == 40, "never narrower than a report can be read at"
