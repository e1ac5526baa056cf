"""How numbers and lines read in the text reports: milliseconds with separators, counts with plurals,
lines wrapped to the terminal's width without breaking the colour codes in them."""

from __future__ import annotations

import os
import re
import shutil
import sys
from typing import Final, TextIO

__all__ = ["DEFAULT_WIDTH", "count", "ms", "output_width", "visible_len", "wrap"]

DEFAULT_WIDTH: Final = 80
"""The width of a report written to a pipe or file, or to a terminal that does not say its size."""
_ANSI: Final = re.compile(r"\033\[[0-9;]*m")
_MIN_WIDTH: Final = 40


def ms(value: float) -> str:
    """Milliseconds, rounded, with thousands separators: ``14,246 ms``."""
    return f"{value:,.0f} ms"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 trace``, ``14,246 traces``; ``plural`` for nouns that do not take an ``s``."""
    return f"{number:,} {noun if number == 1 else (plural or noun + 's')}"


def output_width(stream: TextIO | None = None) -> int:
    """The columns of ``stream`` (standard output) when it is a terminal, else ``DEFAULT_WIDTH``; ``COLUMNS``
    wins, as for every other command-line tool."""
    stream = stream or sys.stdout
    if os.environ.get("COLUMNS", "").isdigit():
        return max(int(os.environ["COLUMNS"]), _MIN_WIDTH)
    try:
        if not stream.isatty():
            return DEFAULT_WIDTH
    except (AttributeError, ValueError):
        return DEFAULT_WIDTH
    return max(shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns, _MIN_WIDTH)


def visible_len(text: str) -> int:
    """The columns ``text`` takes on a terminal (colour codes take none)."""
    return len(_ANSI.sub("", text))


def wrap(lines: list[str], width: int) -> list[str]:
    """Each line at most ``width`` columns, broken at spaces; continuations are indented two past the line's
    own indent. A word longer than a line is left whole; colour codes do not count and are never split."""
    wrapped: list[str] = []
    for line in lines:
        if visible_len(line) <= width:
            wrapped.append(line)
            continue
        indent = len(line) - len(line.lstrip(" "))
        lead = " " * (indent + 2)
        current, used = line[:indent], indent
        for word in line[indent:].split(" "):
            size = visible_len(word)
            if used + 1 + size > width and used > len(lead) and current.strip():
                wrapped.append(current.rstrip(" "))
                current, used = lead, len(lead)
            elif current.strip():
                current, used = current + " ", used + 1
            current, used = current + word, used + size
        wrapped.append(current.rstrip(" "))
    return wrapped
