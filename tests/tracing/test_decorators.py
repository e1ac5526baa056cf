"""@tool, @agent, @step, @workflow and span(): names, kinds, attributes, lifecycles, errors, content."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from tests.conftest import Traced


class LookupError_(Exception):
    """A user exception type, to check error.type is fully qualified."""


# --- names, kinds and attributes ---------------------------------------------------------------------


def test_tool_span_name_kind_and_attributes(traced: Traced) -> None:
    @aa.tool
    def get_user_profile(user_id: str) -> dict[str, str]:
        """Fetch a user's profile.

        Longer text that is not part of the description.
        """
        return {"id": user_id}

    assert get_user_profile("u1") == {"id": "u1"}
    span = traced.span("execute_tool get_user_profile")
    assert span.kind is SpanKind.INTERNAL
    assert span.attributes == {
        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_EXECUTE_TOOL,
        semconv.GEN_AI_TOOL_NAME: "get_user_profile",
        semconv.GEN_AI_TOOL_TYPE: "function",
        semconv.GEN_AI_TOOL_DESCRIPTION: "Fetch a user's profile.",
    }
    assert span.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize(
    ("decorator", "span_name", "expected"),
    [
        (
            aa.agent(name="support", description="Answers support questions"),
            "invoke_agent support",
            {
                semconv.GEN_AI_OPERATION_NAME: "invoke_agent",
                semconv.GEN_AI_AGENT_NAME: "support",
                semconv.GEN_AI_AGENT_DESCRIPTION: "Answers support questions",
                semconv.GEN_AI_PROVIDER_NAME: "anthropic",
            },
        ),
        (
            aa.workflow(name="nightly"),
            "invoke_workflow nightly",
            {semconv.GEN_AI_OPERATION_NAME: "invoke_workflow", semconv.GEN_AI_WORKFLOW_NAME: "nightly"},
        ),
        (
            aa.step(name="route_query", step_type="routing"),
            "step route_query",
            {semconv.ANATOMY_STEP_NAME: "route_query", semconv.ANATOMY_STEP_TYPE: "routing"},
        ),
        (
            aa.tool(name="refund", side_effects=True, attributes={"team": "billing"}),
            "execute_tool refund",
            {
                semconv.GEN_AI_OPERATION_NAME: "execute_tool",
                semconv.GEN_AI_TOOL_NAME: "refund",
                semconv.GEN_AI_TOOL_TYPE: "function",
                semconv.ANATOMY_TOOL_SIDE_EFFECTS: True,
                "team": "billing",
            },
        ),
    ],
)
def test_decorators_with_arguments(traced: Traced, decorator, span_name: str, expected: dict) -> None:
    @decorator
    def work() -> int:
        return 7

    assert work() == 7
    span = traced.span(span_name)
    assert span.kind is SpanKind.INTERNAL
    assert dict(span.attributes) == expected


@pytest.mark.parametrize("decorator", [aa.tool, aa.agent, aa.step, aa.workflow])
def test_bare_called_and_named_forms(traced: Traced, decorator) -> None:
    @decorator
    def bare() -> str:
        return "a"

    @decorator()
    def called() -> str:
        return "b"

    @decorator("custom")
    def named() -> str:
        return "c"

    assert (bare(), called(), named()) == ("a", "b", "c")
    suffixes = sorted(span.name.split(" ", 1)[1] for span in traced.spans())
    assert suffixes == ["bare", "called", "custom"]


def test_name_given_twice_is_an_error() -> None:
    with pytest.raises(TypeError, match="name given twice"):
        aa.tool("a", name="b")


def test_decorating_a_non_function_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="must be applied to a function"):
        aa.tool(42)  # type: ignore[call-overload]


def test_nesting_gives_parent_child(traced: Traced) -> None:
    @aa.tool
    def lookup() -> int:
        return 1

    @aa.step(step_type="extraction")
    def extract() -> int:
        return lookup() + lookup()

    @aa.agent
    def support() -> int:
        return extract()

    assert support() == 2
    agent_span = traced.span("invoke_agent support")
    step_span = traced.span("step extract")
    tools = [s for s in traced.spans() if s.name == "execute_tool lookup"]
    assert step_span.parent.span_id == agent_span.context.span_id
    assert [t.parent.span_id for t in tools] == [step_span.context.span_id] * 2
    assert {s.context.trace_id for s in traced.spans()} == {agent_span.context.trace_id}
    assert agent_span.parent is None


# --- function kinds keep their identity ----------------------------------------------------------------


def test_wrappers_keep_name_doc_signature_and_kind() -> None:
    @aa.tool
    async def fetch(user_id: str, *, limit: int = 5) -> list[str]:
        """Fetch things."""
        return []

    @aa.tool
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    @aa.agent
    async def chunks(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch things."
    assert str(inspect.signature(fetch)) == "(user_id: 'str', *, limit: 'int' = 5) -> 'list[str]'"
    assert inspect.iscoroutinefunction(fetch)
    assert inspect.isgeneratorfunction(numbers)
    assert inspect.isasyncgenfunction(chunks)
    info = aa.tool_info(fetch)
    assert info is not None
    assert (info.name, info.description, info.side_effects, info.function) == ("fetch", "Fetch things.", False, fetch)
    assert info.original is fetch.__wrapped__ and info.input_schema is None
    assert aa.tool_info(chunks) is None


async def test_coroutine_span_covers_the_await(traced: Traced) -> None:
    @aa.tool
    async def slow() -> str:
        await asyncio.sleep(0.2)
        return "done"

    assert await slow() == "done"
    span = traced.span("execute_tool slow")
    assert (span.end_time - span.start_time) / 1e9 >= 0.19


def test_methods_static_and_class_methods(traced_with_content: Traced) -> None:
    class Service:
        factor = 3

        @aa.tool
        def scale(self, x: int) -> int:
            return x * self.factor

        @aa.tool
        @staticmethod
        def add(a: int, b: int) -> int:
            return a + b

        @aa.tool
        @classmethod
        def get_factor(cls) -> int:
            return cls.factor

    service = Service()
    assert service.scale(2) == 6
    assert Service.add(1, 2) == 3
    assert service.get_factor() == 3
    scale = traced_with_content.span("execute_tool scale")
    assert scale.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"x": 2}'
    assert traced_with_content.span("execute_tool add").attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] == (
        '{"a": 1, "b": 2}'
    )
    assert traced_with_content.span("execute_tool get_factor").attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == "3"


# --- errors ---------------------------------------------------------------------------------------------


def test_exception_is_recorded_and_reraised_unchanged(traced: Traced) -> None:
    error = LookupError_("user u9 not found")

    @aa.tool
    def lookup() -> None:
        raise error

    with pytest.raises(LookupError_) as raised:
        lookup()
    assert raised.value is error
    span = traced.span("execute_tool lookup")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "LookupError_: user u9 not found"
    assert span.attributes[semconv.ERROR_TYPE] == f"{__name__}.LookupError_"
    [event] = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == f"{__name__}.LookupError_"


async def test_async_exception_and_cancellation_are_recorded(traced: Traced) -> None:
    @aa.tool
    async def fails() -> None:
        raise ValueError("bad input")

    @aa.tool
    async def hangs() -> None:
        await asyncio.sleep(10)

    with pytest.raises(ValueError, match="bad input"):
        await fails()
    task = asyncio.create_task(hangs())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert traced.span("execute_tool fails").attributes[semconv.ERROR_TYPE] == "ValueError"
    cancelled = traced.span("execute_tool hangs")
    assert cancelled.status.status_code is StatusCode.ERROR
    assert cancelled.attributes[semconv.ERROR_TYPE] == "asyncio.exceptions.CancelledError"


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_base_exceptions_end_the_span(traced: Traced, exc_type: type[BaseException]) -> None:
    @aa.step
    def interrupted() -> None:
        raise exc_type()

    with pytest.raises(exc_type):
        interrupted()
    span = traced.span("step interrupted")
    assert span.end_time is not None
    assert span.attributes[semconv.ERROR_TYPE] == exc_type.__name__
    assert trace.get_current_span() is trace.INVALID_SPAN


# --- generators -----------------------------------------------------------------------------------------


def _gen_end(traced: Traced, name: str) -> str:
    return traced.span(name).attributes[semconv.ANATOMY_GENERATOR_END]


def test_generator_span_lasts_until_exhausted_and_is_not_current_between_items(traced: Traced) -> None:
    seen_inside: list[bool] = []

    @aa.tool
    def items(n: int) -> Iterator[int]:
        for i in range(n):
            seen_inside.append(trace.get_current_span().is_recording())
            yield i

    gen = items(3)
    outside: list[bool] = []
    for value in gen:
        outside.append(trace.get_current_span().is_recording())
        assert value < 3
    assert seen_inside == [True, True, True]
    assert outside == [False, False, False]
    assert _gen_end(traced, "execute_tool items") == semconv.GENERATOR_END_EXHAUSTED


def test_generator_break_closes_the_span(traced: Traced, caplog: pytest.LogCaptureFixture) -> None:
    finalised: list[bool] = []

    @aa.tool
    def items() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            finalised.append(trace.get_current_span().is_recording())

    with caplog.at_level(logging.ERROR):
        for value in items():
            if value == 2:
                break
        gc.collect()
    assert finalised == [True], "the generator's cleanup ran with its span current"
    assert _gen_end(traced, "execute_tool items") == semconv.GENERATOR_END_CLOSED
    assert "Failed to detach context" not in caplog.text


def test_generator_send_throw_and_return_value(traced_with_content: Traced) -> None:
    @aa.step
    def accumulate() -> Iterator[int]:
        total = 0
        while True:
            try:
                value = yield total
            except ValueError:
                value = 100
            if value is None:
                return total
            total += value

    gen = accumulate()
    assert next(gen) == 0
    assert gen.send(5) == 5
    assert gen.throw(ValueError("use 100")) == 105
    with pytest.raises(StopIteration) as stop:
        gen.send(None)
    assert stop.value.value == 105
    span = traced_with_content.span("step accumulate")
    assert span.attributes[semconv.ANATOMY_OUTPUT] == "105"
    assert span.attributes[semconv.ANATOMY_GENERATOR_END] == semconv.GENERATOR_END_EXHAUSTED


def test_generator_error_mid_way(traced: Traced) -> None:
    @aa.tool
    def items() -> Iterator[int]:
        yield 1
        raise RuntimeError("source went away")

    gen = items()
    assert next(gen) == 1
    with pytest.raises(RuntimeError, match="source went away"):
        next(gen)
    span = traced.span("execute_tool items")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ANATOMY_GENERATOR_END] == semconv.GENERATOR_END_ERROR


def test_abandoned_generator_span_ends_on_garbage_collection(traced: Traced) -> None:
    @aa.tool
    def items() -> Iterator[int]:
        yield from range(10)

    gen = items()
    next(gen)
    assert traced.spans() == []
    del gen
    gc.collect()
    assert _gen_end(traced, "execute_tool items") == semconv.GENERATOR_END_CLOSED


def test_generator_never_started_makes_no_span(traced: Traced) -> None:
    @aa.tool
    def items() -> Iterator[int]:
        yield 1

    gen = items()
    del gen
    gc.collect()
    assert traced.spans() == []


async def test_async_generator_exhausted_and_parented(traced: Traced) -> None:
    @aa.tool
    async def tokens() -> AsyncIterator[str]:
        for token in ("a", "b"):
            await asyncio.sleep(0)
            yield token

    @aa.agent
    async def run() -> list[str]:
        return [token async for token in tokens()]

    assert await run() == ["a", "b"]
    tool_span = traced.span("execute_tool tokens")
    assert tool_span.parent.span_id == traced.span("invoke_agent run").context.span_id
    assert tool_span.attributes[semconv.ANATOMY_GENERATOR_END] == semconv.GENERATOR_END_EXHAUSTED


async def test_async_generator_early_break_ends_span_without_detach_errors(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    cleaned_up = asyncio.Event()

    @aa.tool
    async def tokens() -> AsyncIterator[int]:
        try:
            for i in range(1000):
                await asyncio.sleep(0)
                yield i
        finally:
            cleaned_up.set()

    async def consume() -> None:
        async for token in tokens():
            if token == 3:
                break

    with caplog.at_level(logging.ERROR):
        await asyncio.create_task(consume())
        gc.collect()
        await asyncio.wait_for(cleaned_up.wait(), timeout=2)
        await asyncio.sleep(0)
    assert _gen_end(traced, "execute_tool tokens") == semconv.GENERATOR_END_CLOSED
    assert "Failed to detach context" not in caplog.text
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_async_generator_aclose_and_athrow(traced: Traced) -> None:
    @aa.tool
    async def numbers() -> AsyncIterator[int]:
        value = 0
        while True:
            try:
                yield value
            except KeyError:
                value = -1
            else:
                value += 1

    agen = numbers()
    assert await agen.__anext__() == 0
    assert await agen.athrow(KeyError("x")) == -1
    await agen.aclose()
    assert _gen_end(traced, "execute_tool numbers") == semconv.GENERATOR_END_CLOSED


# --- content capture ---------------------------------------------------------------------------------------


def test_content_is_not_captured_by_default(traced: Traced) -> None:
    @aa.tool
    def lookup(secret: str) -> str:
        return f"result for {secret}"

    @aa.agent
    def run(question: str) -> str:
        return lookup(question)

    run("MARKER-123")
    for span in traced.spans():
        for key, value in span.attributes.items():
            assert "MARKER-123" not in str(value), key
        assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in span.attributes
        assert semconv.ANATOMY_INPUT not in span.attributes


def test_content_captured_when_enabled(traced_with_content: Traced) -> None:
    @aa.tool
    def lookup(user_id: str, fields: tuple[str, ...] = ("name",)) -> dict[str, object]:
        return {"id": user_id, "fields": list(fields)}

    @aa.agent
    def run(question: str) -> str:
        lookup("u1")
        return "answer"

    run("why?")
    tool_span = traced_with_content.span("execute_tool lookup")
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"user_id": "u1"}'
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == '{"id": "u1", "fields": ["name"]}'
    agent_span = traced_with_content.span("invoke_agent run")
    assert agent_span.attributes[semconv.ANATOMY_INPUT] == '{"question": "why?"}'
    assert agent_span.attributes[semconv.ANATOMY_OUTPUT] == "answer"


def test_content_capture_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import make_traced

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    traced = make_traced()

    @aa.tool
    def echo(text: str) -> str:
        return text

    echo("hello")
    assert traced.span("execute_tool echo").attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == "hello"


def test_record_args_overrides_capture_setting(traced: Traced) -> None:
    @aa.tool(record_args=True, record_result=False)
    def lookup(user_id: str) -> str:
        return "private result"

    lookup("u7")
    span = traced.span("execute_tool lookup")
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"user_id": "u7"}'
    assert semconv.GEN_AI_TOOL_CALL_RESULT not in span.attributes


def test_unserialisable_and_huge_content_never_breaks_the_call(traced_with_content: Traced) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    loop: list[object] = []
    loop.append(loop)

    @aa.tool
    def odd(value: object) -> object:
        return "x" * 100_000

    assert odd(Opaque()) == "x" * 100_000
    assert odd(loop) == "x" * 100_000
    spans = [s for s in traced_with_content.spans() if s.name == "execute_tool odd"]
    assert spans[0].attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"value": "<Opaque>"}'
    assert "[[...]]" in spans[1].attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]
    result = spans[0].attributes[semconv.GEN_AI_TOOL_CALL_RESULT]
    assert len(result) == 16_384 and result.endswith("…[truncated]")


# --- span() ------------------------------------------------------------------------------------------------


def test_span_context_manager(traced: Traced) -> None:
    @aa.tool
    def inner() -> None:
        return None

    with aa.span("load documents", attributes={"docs": 3}) as current:
        assert trace.get_current_span() is current
        inner()
    block = traced.span("load documents")
    assert block.attributes["docs"] == 3
    assert traced.span("execute_tool inner").parent.span_id == block.context.span_id
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_span_async_and_error(traced: Traced) -> None:
    with pytest.raises(ZeroDivisionError):
        async with aa.span("divide", kind=SpanKind.CLIENT):
            await asyncio.sleep(0)
            1 / 0  # noqa: B018
    block = traced.span("divide")
    assert block.kind is SpanKind.CLIENT
    assert block.attributes[semconv.ERROR_TYPE] == "ZeroDivisionError"


def test_span_scope_cannot_be_reentered() -> None:
    scope = aa.span("once")
    with scope:
        pass
    with pytest.raises(RuntimeError, match="entered twice"), scope:
        pass


def test_span_needs_a_name() -> None:
    with pytest.raises(TypeError, match="non-empty name"):
        aa.span("")


def test_decorators_work_before_configure_on_the_global_provider(otel_globals: None) -> None:
    """Without configure(), spans follow whatever provider the application sets later."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    @aa.tool
    def lookup() -> int:
        return 1

    assert lookup() == 1  # no provider yet: a no-op span, and the call still works
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert lookup() == 1
    assert [s.name for s in exporter.get_finished_spans()] == ["execute_tool lookup"]


def test_async_generator_left_with_break_at_the_end_of_asyncio_run_is_closed(traced: Traced) -> None:
    """The loop closes the abandoned generator with an aclose() task that asyncio.run cancels: still 'closed'."""

    @aa.agent(name="numbers")
    async def numbers() -> AsyncIterator[int]:
        for n in range(5):
            yield n

    async def main() -> None:
        async for _ in numbers():
            break  # the last statement of the coroutine asyncio.run runs

    asyncio.run(main())
    span = traced.span("invoke_agent numbers")
    assert span.attributes[semconv.ANATOMY_GENERATOR_END] == semconv.GENERATOR_END_CLOSED
    assert span.status.status_code is not StatusCode.ERROR
    assert semconv.ERROR_TYPE not in span.attributes


def test_async_generator_cancelled_inside_its_own_work_is_an_error(traced: Traced) -> None:
    """Control: a cancellation that reaches the generator while it awaits its own work is recorded as such."""

    @aa.agent(name="waits")
    async def waits() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(10)
        yield 2

    async def main() -> None:
        async def consume() -> None:
            async for _ in waits():
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    span = traced.span("invoke_agent waits")
    assert span.attributes[semconv.ANATOMY_GENERATOR_END] == semconv.GENERATOR_END_ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "asyncio.exceptions.CancelledError"
