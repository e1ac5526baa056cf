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
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ._content import arguments_json, value_json
from ._invocation import Invocation
from .ambient import with_agent
from .handler import TelemetryHandler, get_handler

__all__ = ["TracedSpec", "traced"]

F = TypeVar("F", bound=Callable[..., Any])

_BY_SIGNATURE: Final = object()
"""``TracedSpec.begin``'s default: record the call's arguments bound to the function's signature."""


@dataclass(frozen=True, slots=True)
class TracedSpec:
    """What a decorated function's spans look like, fixed when it is decorated."""

    name: str
    kind: SpanKind
    attributes: Mapping[str, AttributeValue]
    input_key: str
    output_key: str
    record_args: bool | None = None
    """True: always record arguments; False: never; None: when content capture is on."""
    record_result: bool | None = None
    signature: inspect.Signature | None = None
    agent_name: str | None = None
    """Set on an agent's spec: the name its tools' spans carry as ``gen_ai.agent.name``."""

    def begin(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        attach_now: bool = True,
        attributes: Mapping[str, AttributeValue] | None = None,
        raw_arguments: object = _BY_SIGNATURE,
        handler: TelemetryHandler | None = None,
    ) -> _Call:
        """Start the span for one call, recording the arguments if allowed.

        ``attributes`` are this call's own (a tool call's id), set at start so samplers see them.
        ``raw_arguments``, when given, is recorded as it is instead of ``args``/``kwargs`` bound to the
        signature: an executor records the input the model sent. ``handler``: the one to start it with (an
        executor passes its batch's down), else the configured one.
        """
        if handler is None:
            handler = get_handler()
        call = handler.start(
            self.name,
            kind=self.kind,
            attributes={**self.attributes, **attributes} if attributes else self.attributes,
            parent=with_agent(self.agent_name) if self.agent_name else None,
            attach_now=attach_now,
            invocation=_Call,
        )
        assert isinstance(call, _Call)
        span = call.span
        record_args, record_result = handler.records(self.record_args), handler.records(self.record_result)
        if record_args and span.is_recording():
            recorded = (
                arguments_json(self.signature, args, kwargs)
                if raw_arguments is _BY_SIGNATURE
                else value_json(raw_arguments)
            )
            span.set_attribute(self.input_key, recorded)
        call.output_key = self.output_key if record_result else None
        return call


class _Call(Invocation):
    """An Invocation that may write the function's return value as content."""

    __slots__ = ("output_key",)
    output_key: str | None
    """Where the return value goes when recorded (set by ``TracedSpec.begin``); None: not recorded."""

    def returned(self, value: object, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        self._record_output(value)
        self.stop(attributes)

    def returned_error(self, error_type: str, value: object) -> None:
        """The function returned a value that says it failed (a tool's error result): an error, no exception."""
        self._record_output(value)
        self.stop_failed(error_type)

    def _record_output(self, value: object) -> None:
        key = self.output_key
        if key is not None and value is not None and self.span.is_recording():
            self.span.set_attribute(key, value_json(value))


_GEN_END_EXHAUSTED: Final = {semconv.ANATOMY_GENERATOR_END: semconv.GENERATOR_END_EXHAUSTED}
_GEN_END_CLOSED: Final = {semconv.ANATOMY_GENERATOR_END: semconv.GENERATOR_END_CLOSED}
_GEN_END_ERROR: Final = {semconv.ANATOMY_GENERATOR_END: semconv.GENERATOR_END_ERROR}


def _wrap_function(fn: Callable[..., Any], spec: TracedSpec) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = spec.begin(args, kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.returned(result)
        return result

    return wrapper


def _wrap_coroutine_function(fn: Callable[..., Any], spec: TracedSpec) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = spec.begin(args, kwargs)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.returned(result)
        return result

    return wrapper


def _wrap_generator_function(fn: Callable[..., Any], spec: TracedSpec) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        call = spec.begin(args, kwargs, attach_now=False)
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


def _wrap_async_generator_function(fn: Callable[..., Any], spec: TracedSpec) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        call = spec.begin(args, kwargs, attach_now=False)
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


def traced(fn: F, spec: TracedSpec) -> F:
    """Wrap ``fn`` so each call is a span described by ``spec``, choosing the wrapper by function kind."""
    if isinstance(fn, staticmethod | classmethod):
        return type(fn)(traced(fn.__func__, spec))
    if not callable(fn):
        raise TypeError(f"a tracing decorator must be applied to a function or method, not {fn!r}")
    if inspect.isasyncgenfunction(fn):
        wrapper = _wrap_async_generator_function(fn, spec)
    elif inspect.iscoroutinefunction(fn):
        wrapper = _wrap_coroutine_function(fn, spec)
    elif inspect.isgeneratorfunction(fn):
        wrapper = _wrap_generator_function(fn, spec)
    else:
        wrapper = _wrap_function(fn, spec)
    return wrapper  # type: ignore[return-value]
