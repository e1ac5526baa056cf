"""The architecture as DESIGN.md draws it: layers import only downward, and no module imports another
package's private module; spans start in the tracing layer's handler only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "agent_anatomy"
LAYERS = ["semconv", "telemetry", "tracing", "levers", "anatomy", "sim", "cli"]
"""Lowest first. Modules at the root (errors, version, stats, environment_variables) sit below them all."""
ROOT_MODULES = {"errors", "version", "stats", "environment_variables", "semconv"}


def _package(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute dotted names (under agent_anatomy) each ``from . import`` in the file reaches, with lines."""
    module_parts = list(path.relative_to(SRC).with_suffix("").parts)
    package_parts = module_parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package_parts[: len(package_parts) - (node.level - 1)] if node.level > 1 else package_parts
            target = [*base, *(node.module.split(".") if node.module else [])]
            names = [target] if node.module else [[*target, alias.name] for alias in node.names]
            found.extend((".".join(name), node.lineno) for name in names)
    return found


SOURCES = sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_module_of_another_package(path: Path) -> None:
    own = _package(path)
    for name, line in _imports(path):
        parts = name.split(".")
        if len(parts) < 2 or parts[0] == own:
            continue
        private = [part for part in parts[1:] if part.startswith("_") and not part.startswith("__")]
        assert not private, f"{path.relative_to(SRC)}:{line} imports {name}, a private module of {parts[0]}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_layers_import_downward_only(path: Path) -> None:
    own = _package(path)
    if own in ROOT_MODULES or own not in LAYERS:
        return
    for name, line in _imports(path):
        other = name.split(".")[0]
        if other in LAYERS and other != own:
            assert LAYERS.index(other) < LAYERS.index(own), f"{path.relative_to(SRC)}:{line} imports upward: {name}"


def test_spans_start_in_the_handler_only() -> None:
    """Every span is started through the TelemetryHandler (``handler.start_span`` / ``handler.start``)."""
    through_handler = re.compile(r"(handler|_handler\(\)|get_handler\(\))\.start_span\(")
    starts = []
    for path in SOURCES:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if ".start_span(" in line and "def start_span" not in line and not through_handler.search(line):
                starts.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    others = [where for where in starts if not where.startswith("tracing/handler.py")]
    assert not others, others
