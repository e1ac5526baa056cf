"""The public surface: __all__ lists exactly the public names, and DESIGN.md's API is importable."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import agent_anatomy as aa


@pytest.mark.parametrize(
    "module_name",
    [
        "agent_anatomy",
        "agent_anatomy.telemetry",
        "agent_anatomy.tracing",
        "agent_anatomy.levers",
        "agent_anatomy.anatomy",
        "agent_anatomy.errors",
    ],
)
def test_all_matches_public_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported_modules = {"semconv", "anatomy"}
    public = {
        name
        for name in dir(module)  # (a lazy package's names are in dir() before they are first used)
        if not name.startswith("_")
        and name not in ("annotations", "TYPE_CHECKING", "attach")
        and (name in exported_modules or not isinstance(getattr(module, name), ModuleType))
    }
    assert set(module.__all__) - {"__version__"} == public


LAZY = [
    Path(aa.__file__),
    Path(aa.__file__).parent / "anatomy/__init__.py",
    Path(aa.__file__).parent / "anatomy/sources/__init__.py",
]


def _typed_imports(tree: ast.Module) -> dict[str, set[str]]:
    """What a package's ``if TYPE_CHECKING:`` block imports, by module (``.`` for its submodules)."""
    found: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.level == 1
                module = f".{statement.module}" if statement.module else "."
                found.setdefault(module, set()).update(alias.name for alias in statement.names)
    return found


def _attached(tree: ast.Module) -> dict[str, set[str]]:
    """The table a package gives ``attach``: module -> names."""
    call = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", "") == "attach"
    )
    table = ast.literal_eval(call.args[1])
    return {module: set(names) for module, names in table.items()}


@pytest.mark.parametrize("init", LAZY, ids=lambda p: str(p.relative_to(Path(aa.__file__).parents[1])))
def test_a_lazy_package_says_its_names_once_in_three_places_that_agree(init: Path) -> None:
    tree = ast.parse(init.read_text())
    typed, attached = _typed_imports(tree), _attached(tree)
    assert typed == attached, "the TYPE_CHECKING imports and the attach table differ"
    all_names = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
    )
    assert set(all_names) - {"__version__"} == {name for names in attached.values() for name in names}


def test_a_report_on_a_file_imports_neither_the_tracing_nor_the_otel_sdk() -> None:
    """What the lazy packages are for: a large report's workers (and the report itself) import the anatomy alone."""
    code = (
        "import sys; from agent_anatomy.anatomy import Anatomy; import agent_anatomy.anatomy.large; "
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'wrapt', 'anthropic', "
        "'agent_anatomy.tracing', 'agent_anatomy.levers', 'agent_anatomy.telemetry'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
    attribute = subprocess.run(
        [sys.executable, "-c", "import agent_anatomy as aa; print(aa.configure.__module__, aa.nope)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "module 'agent_anatomy' has no attribute 'nope'" in attribute.stderr


def test_design_api_is_exported() -> None:
    for name in ("configure", "tool", "agent", "step", "workflow", "span", "last_trace", "trace_spans"):
        assert callable(getattr(aa, name)), name
    assert aa.__version__
