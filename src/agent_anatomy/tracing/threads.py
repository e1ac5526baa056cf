"""The trace context carried into threads: ``threading.Thread`` and ``ThreadPoolExecutor.submit`` (and so
``map``), as the cookbook's parallel workflows fan out LLM calls.

Python starts a thread with an empty context, so without this every call made on a worker thread is the root of
a trace of its own and the agent's trace shows none of them. Only OpenTelemetry's context is carried, never the
program's other context variables: what the program's threads see of its own state does not change. The
contrib ``opentelemetry-instrumentation-threading`` does the same, but pins ``opentelemetry-instrumentation`` to
its own release, which would pin every other contrib instrumentation a user has installed.
"""

from __future__ import annotations

import concurrent.futures
import functools
import threading
from collections.abc import Callable, Collection
from typing import Any, Final

import wrapt
from opentelemetry import context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

__all__ = ["ThreadingInstrumentor"]

_STARTED_IN: Final = "_agent_anatomy_context"
"""The attribute of a ``Thread`` that holds the context it was started in."""


def _start(wrapped: Callable[..., Any], instance: threading.Thread, args: Any, kwargs: Any) -> Any:
    setattr(instance, _STARTED_IN, context.get_current())
    return wrapped(*args, **kwargs)


def _run(wrapped: Callable[..., Any], instance: threading.Thread, args: Any, kwargs: Any) -> Any:
    started_in = getattr(instance, _STARTED_IN, None)
    if started_in is None:
        return wrapped(*args, **kwargs)
    token = context.attach(started_in)
    try:
        return wrapped(*args, **kwargs)
    finally:
        context.detach(token)


def _submit(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    if not args:  # submit(fn=...) is not a call Python accepts; let it say so
        return wrapped(*args, **kwargs)
    function, *rest = args
    return wrapped(_in_context(function, context.get_current()), *rest, **kwargs)


def _in_context(function: Callable[..., Any], submitted_in: context.Context) -> Callable[..., Any]:
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        token = context.attach(submitted_in)
        try:
            return function(*args, **kwargs)
        finally:
            context.detach(token)

    return run


_WRAPS: Final = (
    (threading.Thread, "start", _start),
    (threading.Thread, "run", _run),
    (concurrent.futures.ThreadPoolExecutor, "submit", _submit),
)


class ThreadingInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Carries the trace context into threads and thread pools (idempotent, reversible)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        for owner, name, wrapper in _WRAPS:
            wrapt.wrap_function_wrapper(owner, name, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        for owner, name, _ in _WRAPS:
            unwrap(owner, name)
