"""The architecture as DESIGN.md draws it: layers import only downward, no package imports itself in a circle,
and no module imports another package's private module; spans start in the tracing layer's handler only, which
is resolved at the public edges and never looked up at span time; renderers format the typed report alone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "agent_anatomy"
LAYERS = ["semconv", "telemetry", "tracing", "levers", "anatomy", "sim", "zero_code", "cli"]
"""Lowest first. Modules at the root (errors, version, stats, environment_variables, catalogue, codec, lazy) sit below
them all."""
ROOT_MODULES = {"errors", "version", "stats", "environment_variables", "semconv", "catalogue", "codec", "lazy"}


def _package(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute dotted names (under agent_anatomy) each ``from . import`` in the file reaches, with lines: every
    one, at the top, inside a function or under ``TYPE_CHECKING``."""
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


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the modules of this distribution it imports (a name imported from a package counts as the
    package, or as its submodule when there is one of that name)."""
    modules = {_module(path): path for path in SOURCES}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported, _ in _imports(path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_cycle_check_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_package_imports_itself_in_a_circle() -> None:
    """Within a package (and so between them), no module reaches itself again through its imports, however they
    are made (inside functions, under TYPE_CHECKING): lower modules receive what they need instead."""
    graph = _import_graph()
    within = {name: {t for t in targets if t.split(".")[0] == name.split(".")[0]} for name, targets in graph.items()}
    assert _cycles(within) == []


RENDERERS = sorted(SRC.glob("anatomy/render*.py"))
RENDERER_IMPORTS = {"report", "document", "phases", "formatting"}
"""What a renderer may import of the anatomy layer, besides other renderers: the typed report and its JSON,
the names of the phases and how numbers read."""


@pytest.mark.parametrize("path", RENDERERS, ids=lambda p: p.name)
def test_renderers_import_the_report_and_nothing_of_the_analysis(path: Path) -> None:
    for name, line in _imports(path):
        parts = name.split(".")
        if parts[0] != "anatomy" or len(parts) < 2:
            continue
        module = parts[1]
        assert module in RENDERER_IMPORTS or module.startswith("render"), (
            f"{path.name}:{line} imports {name}: a renderer formats the report, it does not analyse"
        )


EDGES = {
    ("tracing/decorators.py", "build"),
    ("tracing/decorators.py", "span"),
    ("tracing/handler.py", "on_providers"),
    ("levers/executor.py", "__init__"),
    ("levers/router.py", "__init__"),
    ("levers/cache.py", "__init__"),
    ("levers/agent.py", "run_agent"),
    ("zero_code/bootstrap.py", "begin"),
}
"""The public edges where the process's telemetry handler is resolved: a decorator applied, ``span()`` called,
a handler on providers of one's own (an instrumentor's ``instrument()``), a lever built, an agent run started,
a program started under ``agent-anatomy run``."""


class _Lookups(ast.NodeVisitor):
    """Calls of ``default_handler``, ``installation`` (or the old ``get_handler``), by innermost function."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.found: set[str] = set()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if callee in ("default_handler", "installation", "get_handler"):
            self.found.add(self.functions[-1] if self.functions else "<module>")
        self.generic_visit(node)


def _handler_lookups() -> set[tuple[str, str]]:
    """(module, innermost function) of every lookup outside the setup layer and the handler's own module level."""
    found = set()
    for path in SOURCES:
        where = str(path.relative_to(SRC))
        if where.startswith("telemetry/"):
            continue
        lookups = _Lookups()
        lookups.visit(ast.parse(path.read_text()))
        found |= {(where, function) for function in lookups.found}
    return {(where, f) for where, f in found if not (where == "tracing/handler.py" and f in ("<module>",))}


def test_the_handler_is_resolved_at_the_public_edges_only() -> None:
    """No span-time lookup: the handler is found where a decorator is applied or a lever built, and held."""
    assert _handler_lookups() == EDGES
