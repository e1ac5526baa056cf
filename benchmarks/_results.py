"""One row per measured figure, shared by every benchmark so the suite can gather them into one table.

Each benchmark prints its own human-readable output and, given ``--json PATH``, also writes its rows
there; ``suite.py`` runs every benchmark that way and renders the rows as Markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    """A figure and the baseline it was measured against in the same run."""

    section: str
    name: str
    value: float
    unit: str
    baseline: str = ""
    ratio: float | None = None
    spread: float | None = None
    target: str = ""
    ok: bool | None = None
    note: str = ""


@dataclass
class Results:
    """The rows one benchmark produced, written as JSON when the suite asked for them."""

    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, section: str, name: str, value: float, unit: str, **fields: Any) -> Row:
        row = Row(section, name, value, unit, **fields)
        self.rows.append(row)
        return row

    def write(self, path: Path | None) -> None:
        if path is None:
            return
        payload = {"rows": [asdict(row) for row in self.rows], "extra": self.extra}
        path.write_text(json.dumps(payload, indent=2))


def verdict(ok: bool) -> str:
    """How a target is reported as the run goes: ``met`` or ``NOT MET``."""
    return "met" if ok else "NOT MET"


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON rows here")


def half_iqr(values: list[float]) -> float:
    """Half the interquartile range: the spread shown next to a median."""
    if len(values) < 2:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return (quartiles[2] - quartiles[0]) / 2
