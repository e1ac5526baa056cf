"""The public surface: __all__ lists exactly the public names, and DESIGN.md's API is importable."""

from __future__ import annotations

import importlib
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
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name != "annotations"
        and (not isinstance(value, ModuleType) or name in exported_modules)
    }
    assert set(module.__all__) - {"__version__"} == public


def test_design_api_is_exported() -> None:
    for name in ("configure", "tool", "agent", "step", "workflow", "span", "last_trace", "trace_spans"):
        assert callable(getattr(aa, name)), name
    assert aa.__version__
