"""The Invocation lifecycle: one end per span, context restored, BaseException handled."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from agent_anatomy import semconv
from agent_anatomy.tracing import Invocation, default_handler
from agent_anatomy.tracing._invocation import fq_exception_type
from tests.conftest import Traced


def test_stop_ends_once_and_restores_context(traced: Traced) -> None:
    call = default_handler().start("op")
    assert trace.get_current_span() is call.span
    call.stop({"a": 1})
    call.stop({"b": 2})
    call.fail(RuntimeError("late"))
    [span] = traced.spans()
    assert dict(span.attributes) == {"a": 1}
    assert span.status.status_code is StatusCode.UNSET
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_suspend_then_enter_for_steps(traced: Traced) -> None:
    call = default_handler().start("stream")
    call.suspend()
    assert trace.get_current_span() is trace.INVALID_SPAN
    token = call.enter()
    assert trace.get_current_span() is call.span
    call.leave(token)
    assert trace.get_current_span() is trace.INVALID_SPAN
    call.stop()
    assert traced.span("stream").end_time is not None


def test_not_attached_when_asked(traced: Traced) -> None:
    call = default_handler().start("background", attach_now=False)
    assert trace.get_current_span() is trace.INVALID_SPAN
    call.stop()
    assert traced.span("background").end_time is not None


def test_generator_exit_is_not_an_error(traced: Traced) -> None:
    call = default_handler().start("gen")
    call.fail(GeneratorExit())
    span = traced.span("gen")
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in span.attributes


def test_non_recording_span_gets_no_error_attributes(traced: Traced) -> None:
    call = Invocation(trace.INVALID_SPAN)
    call.fail(ValueError("x"))
    assert call.finished
    assert traced.spans() == []


class CustomError(Exception):
    class Nested(Exception):
        pass


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError(), "ValueError"),
        (TimeoutError(), "TimeoutError"),
        (CustomError(), f"{__name__}.CustomError"),
        (CustomError.Nested(), f"{__name__}.CustomError.Nested"),
    ],
)
def test_fq_exception_type(exc: BaseException, expected: str) -> None:
    assert fq_exception_type(exc) == expected


def test_an_ended_invocation_lets_go_of_its_span(traced: Traced) -> None:
    """An ended call may live on in a reference cycle (a MessageStream holds its stream proxy): it keeps no
    span or context for the cyclic collector to wait for, and the span it ended is exported whole."""
    call = default_handler().start("op", attributes={"k": 1})
    call.stop({"done": True})
    assert call.finished
    assert call.span is trace.INVALID_SPAN
    assert trace.get_current_span(call.context) is trace.INVALID_SPAN
    [exported] = traced.spans()
    assert dict(exported.attributes) == {"k": 1, "done": True}
    call.stop({"again": True})  # a second end is a no-op, on the invalid span or anywhere
    assert dict(traced.spans()[0].attributes) == {"k": 1, "done": True}
