"""Carrying the current span into threads, so work submitted from a span is parented to it.

asyncio already copies the context into ``create_task``, ``gather`` and ``asyncio.to_thread``; plain
thread pools and ``loop.run_in_executor`` do not. ``bind_context`` fixes one callable and
``ContextThreadPoolExecutor`` fixes every task submitted to a pool.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

__all__ = ["ContextThreadPoolExecutor", "bind_context"]

P = ParamSpec("P")
R = TypeVar("R")


def bind_context(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` made to run in a copy of the context current now (the caller's span is its parent).

    For ``loop.run_in_executor(None, bind_context(work), arg)`` and threads started by hand.
    Each call runs in its own copy, so one call's spans never leak into another's context.
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(fn, *args, **kwargs)

    return run_in_context


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in the context that was current when they were submitted."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
