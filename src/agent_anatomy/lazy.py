"""Package namespaces whose names are imported when first used (PEP 562), so that importing one part of
agent-anatomy imports that part alone: a large report's worker processes need the anatomy and nothing of the
tracing, the levers or the OpenTelemetry SDK, each of which would otherwise spend a third of a second
importing all of it, and ``opentelemetry-instrument`` loading our instrumentor no longer imports the anatomy.

A package passes ``attach`` the names it exports, by module, imports the same names under
``if TYPE_CHECKING:`` for type checkers and editors, and lists them in ``__all__``
(``tests/test_public_api.py`` checks that the three agree).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["attach"]


def attach(package: str, exports: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``. ``exports``: module (relative, as ``.name``) -> the names it
    gives the package; under ``"."``, the package's submodules that are names of it."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if module == ".":
            value = importlib.import_module(f".{name}", package)
        else:
            value = getattr(importlib.import_module(module, package), name)
        vars(sys.modules[package])[name] = value  # looked up once: found directly from then on
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
