"""The lifecycle of one traced operation: start a span, make it current, suspend it, end it once.

Every traced thing (a decorated function, a ``span()`` block, an LLM call or a stream) is an
``Invocation``, started by the tracing layer's ``TelemetryHandler``. All of it is synchronous and
I/O-free, so the sync and async wrappers around it differ only in how they call the user's code. The
context token is never held across a hand-back to the caller: a generator's span is made current around
each step only, so no "Failed to detach context" can happen when a generator is resumed or closed from
another context.
"""

from __future__ import annotations

import timeit
from collections.abc import Mapping
from contextvars import Token
from typing import Any, Final

from opentelemetry.context import Context, attach, detach
from opentelemetry.metrics import Histogram
from opentelemetry.trace import INVALID_SPAN, Span, Status, StatusCode, set_span_in_context
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ._content import value_json
from ._instruments import DurationTimer

__all__ = ["FunctionCall", "Invocation", "fq_exception_type"]

_ENDED: Final = Context()
"""The context of an ended invocation: it no longer holds its span's."""
_NON_ERRORS: Final = (GeneratorExit,)
"""Closing a generator early is a normal end, not a failure."""


def fq_exception_type(exc: BaseException) -> str:
    """The exception's fully qualified type, as the SDK's exception event spells it (builtins bare)."""
    exc_type = type(exc)
    module = exc_type.__module__
    if module and module != "builtins":
        return f"{module}.{exc_type.__qualname__}"
    return exc_type.__qualname__


class Invocation:
    """One span from start to a single end, with its context attached only while its code runs."""

    __slots__ = ("_context", "_error_type", "_finished", "_timer", "_token", "span")

    def __init__(
        self,
        span: Span,
        parent: Context | None = None,
        *,
        attach_now: bool = True,
        timer: DurationTimer | None = None,
    ) -> None:
        """``timer``: the histogram the span's duration goes to when it ends (agents, tools and workflows under
        the newest conventions), with its attributes and the start time."""
        self.span = span
        self._context = set_span_in_context(span, parent)
        self._finished = False
        self._token: Token[Context] | None = attach(self._context) if attach_now else None
        self._timer = timer
        self._error_type: str | None = None

    @property
    def context(self) -> Context:
        """The context in which this invocation's span is current."""
        return self._context

    @property
    def finished(self) -> bool:
        return self._finished

    def enter(self) -> Token[Context]:
        """Make the span current for one step of the operation; pair with ``leave`` in the same context."""
        return attach(self._context)

    @staticmethod
    def leave(token: Token[Context]) -> None:
        detach(token)

    def suspend(self) -> None:
        """Restore the caller's context while the operation is still running (handing back a stream)."""
        token, self._token = self._token, None
        if token is not None:
            detach(token)

    def stop(self, attributes: Mapping[str, AttributeValue] | None = None, *, end_ns: int | None = None) -> None:
        """End successfully, adding ``attributes`` first; at ``end_ns`` (epoch ns) when the operation ended earlier
        than it is known to have (a call whose usage is read afterwards). Later calls are no-ops."""
        if self._finished:
            return
        self._finished = True
        try:
            if attributes:
                self.span.set_attributes(attributes)
        finally:
            self._end(end_ns)

    def stop_failed(self, error_type: str, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        """End with status ERROR and ``error.type`` but no exception: the operation reported its own failure."""
        self._end_failed(error_type, error_type, attributes, None)

    def fail(
        self,
        exc: BaseException,
        attributes: Mapping[str, AttributeValue] | None = None,
        error_type: str | None = None,
    ) -> None:
        """End with the exception recorded (status ERROR, ``error.type``, exception event).

        ``error_type`` replaces the exception's type in ``error.type`` when the caller knows better
        (the API's ``overloaded_error`` rather than the SDK's exception class).
        """
        if isinstance(exc, _NON_ERRORS):
            self.stop(attributes)
            return
        self._end_failed(error_type or fq_exception_type(exc), f"{type(exc).__name__}: {exc}", attributes, exc)

    def _end_failed(
        self,
        error_type: str,
        description: str,
        attributes: Mapping[str, AttributeValue] | None,
        exc: BaseException | None,
    ) -> None:
        if self._finished:
            return
        self._finished = True
        span = self.span
        try:
            if attributes:
                span.set_attributes(attributes)
            self._error_type = error_type
            if span.is_recording():
                span.set_status(Status(StatusCode.ERROR, description))
                span.set_attribute(semconv.ERROR_TYPE, error_type)
                if exc is not None:
                    span.record_exception(exc)
        finally:
            self._end()

    def _end(self, end_ns: int | None = None) -> None:
        try:
            self.suspend()
            if self._timer is not None:
                self._record_duration(*self._timer)
        finally:
            self.span.end(end_time=end_ns)
            # An ended call may live on in a reference cycle (the SDK's MessageStream holds its proxy and sits
            # in one): it lets go of its span, so that waits for no cyclic collection.
            self._context = _ENDED
            self._timer = None
            self.span = INVALID_SPAN

    def _record_duration(self, histogram: Histogram, attributes: Mapping[str, Any], started: float) -> None:
        if self._error_type is not None:
            attributes = {**attributes, semconv.ERROR_TYPE: self._error_type}
        histogram.record(timeit.default_timer() - started, attributes, self._context)


class FunctionCall(Invocation):
    """An Invocation that may write what it returned as content: a decorated function's call, a tool call."""

    __slots__ = ("output_key",)
    output_key: str | None
    """Where the return value goes when recorded (set when the handler starts it); None: not recorded."""

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
