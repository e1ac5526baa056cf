"""Wrapping a function so each call is one span: the four wrappers, by function kind.

Sync functions, coroutine functions, generator functions and async generator functions each get a
wrapper of the same kind, so ``inspect`` still sees what the function is. All span logic lives in the
synchronous ``Invocation``; the wrappers differ only in how they call and advance the user's code.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any, Final, Protocol, TypeVar

from .. import semconv
from ._invocation import FunctionCall

__all__ = ["Begin", "traced"]

F = TypeVar("F", bound=Callable[..., Any])


class Begin(Protocol):
    """Starts the span of one call of a traced function: a telemetry handler's ``start_*`` bound to its spec."""

    def __call__(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], *, attach_now: bool = True
    ) -> FunctionCall: ...


_GEN_END_EXHAUSTED: Final = {semconv.ANATOMY_GENERATOR_END: semconv.GENERATOR_END_EXHAUSTED}
_GEN_END_CLOSED: Final = {semconv.ANATOMY_GENERATOR_END: semconv.GENERATOR_END_CLOSED}
_GEN_END_ERROR: Final = {semconv.ANATOMY_GENERATOR_END: semconv.GENERATOR_END_ERROR}


def _wrap_function(fn: Callable[..., Any], begin: Begin) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = begin(args, kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.returned(result)
        return result

    return wrapper


def _wrap_coroutine_function(fn: Callable[..., Any], begin: Begin) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = begin(args, kwargs)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.returned(result)
        return result

    return wrapper


def _wrap_generator_function(fn: Callable[..., Any], begin: Begin) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        call = begin(args, kwargs, attach_now=False)
        inner: Generator[Any, Any, Any] = fn(*args, **kwargs)
        advance: Callable[[Any], Any] = inner.send
        value: Any = None
        while True:
            token = call.enter()
            try:
                item = advance(value)
            except StopIteration as stop:
                call.returned(stop.value, _GEN_END_EXHAUSTED)
                return stop.value
            except BaseException as exc:
                call.fail(exc, _GEN_END_ERROR)
                raise
            finally:
                call.leave(token)
            try:
                value = yield item
                advance = inner.send
            except GeneratorExit:
                token = call.enter()
                try:
                    inner.close()
                except BaseException as exc:
                    call.fail(exc, _GEN_END_ERROR)
                    raise
                finally:
                    call.leave(token)
                call.stop(_GEN_END_CLOSED)
                raise
            except BaseException as exc:
                advance, value = inner.throw, exc

    return wrapper


def _wrap_async_generator_function(fn: Callable[..., Any], begin: Begin) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        call = begin(args, kwargs, attach_now=False)
        inner: AsyncGenerator[Any, Any] = fn(*args, **kwargs)
        advance: Callable[[Any], Any] = inner.asend
        value: Any = None
        # A cancellation thrown in while the generator waits at a yield is how its consumer leaves it: the
        # event loop closes an abandoned async generator with an ``aclose()`` task, which ``asyncio.run``
        # then cancels. The generator was closed, not failing, when that cancellation comes back out.
        thrown_cancel: BaseException | None = None
        while True:
            token = call.enter()
            try:
                item = await advance(value)
            except StopAsyncIteration:
                call.stop(_GEN_END_CLOSED if thrown_cancel is not None else _GEN_END_EXHAUSTED)
                return
            except BaseException as exc:
                if exc is thrown_cancel:
                    call.stop(_GEN_END_CLOSED)
                else:
                    call.fail(exc, _GEN_END_ERROR)
                raise
            finally:
                call.leave(token)
            thrown_cancel = None
            try:
                value = yield item
                advance = inner.asend
            except GeneratorExit:
                token = call.enter()
                try:
                    await inner.aclose()
                except BaseException as exc:
                    call.fail(exc, _GEN_END_ERROR)
                    raise
                finally:
                    call.leave(token)
                call.stop(_GEN_END_CLOSED)
                raise
            except BaseException as exc:
                advance, value = inner.athrow, exc
                thrown_cancel = exc if isinstance(exc, asyncio.CancelledError) else None

    return wrapper


def traced(fn: F, begin: Begin) -> F:
    """Wrap ``fn`` so each call is a span started by ``begin``, choosing the wrapper by function kind."""
    if isinstance(fn, staticmethod | classmethod):
        return type(fn)(traced(fn.__func__, begin))
    if not callable(fn):
        raise TypeError(f"a tracing decorator must be applied to a function or method, not {fn!r}")
    if inspect.isasyncgenfunction(fn):
        wrapper = _wrap_async_generator_function(fn, begin)
    elif inspect.iscoroutinefunction(fn):
        wrapper = _wrap_coroutine_function(fn, begin)
    elif inspect.isgeneratorfunction(fn):
        wrapper = _wrap_generator_function(fn, begin)
    else:
        wrapper = _wrap_function(fn, begin)
    return wrapper  # type: ignore[return-value]
