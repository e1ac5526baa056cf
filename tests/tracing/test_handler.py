"""The telemetry handler: resolved once at a public edge, it follows configure() without a lookup per span."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.tracing import TelemetryHandler, default_handler, tool_spec
from tests.conftest import make_traced


@aa.tool
def lookup(user_id: str) -> str:
    """Decorated at import, long before any configure()."""
    return f"user {user_id}"


def _private_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_a_tool_decorated_at_import_follows_each_configure() -> None:
    first = make_traced()
    lookup("u1")
    assert [s.name for s in first.spans()] == ["execute_tool lookup"]
    assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in first.span("execute_tool lookup").attributes

    second = make_traced(capture_content=True)
    lookup("u2")
    [span] = second.spans()
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"user_id": "u2"}', "the new content setting"
    assert [s.name for s in first.spans()] == ["execute_tool lookup"], "nothing more went to the first provider"


def test_the_process_handler_is_one_object_that_configure_rebinds() -> None:
    before = default_handler()
    traced = make_traced(capture_content=True)
    assert default_handler() is before
    assert before.capture_content is True
    assert before.tracer is not None
    traced.handle.shutdown()
    aa.configure(exporter="memory", capture_content=False, tracer_provider=TracerProvider())
    assert before.capture_content is False


def test_a_handler_on_its_own_provider_keeps_its_spans_there() -> None:
    traced = make_traced()
    provider, exporter = _private_provider()
    own = TelemetryHandler.on_providers(provider)

    async def noop() -> str:
        return "ok"

    executor = aa.ParallelExecutor({"noop": noop}, handler=own)
    asyncio.run(executor.run([{"id": "c1", "name": "noop", "input": {}}]))
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["execute_tool noop", "tool_batch"]
    assert traced.spans() == [], "the configured provider got none of them"


def test_a_derived_handler_takes_what_it_does_not_fix_from_the_process() -> None:
    provider, _ = _private_provider()
    own = TelemetryHandler.on_providers(provider)
    make_traced(capture_content=False)
    assert own.capture_content is False
    make_traced(capture_content=True)
    assert own.capture_content is True, "followed the second configure()"


def test_an_instrumentor_without_providers_uses_the_process_handler() -> None:
    assert TelemetryHandler.for_instrumentor({}) is default_handler()
    assert TelemetryHandler.on_providers() is default_handler()
    provider, exporter = _private_provider()
    own = TelemetryHandler.for_instrumentor({"tracer_provider": provider, "capture_content": True})
    assert own is not default_handler() and own.capture_content is True
    own.start("mine").stop()
    assert [s.name for s in exporter.get_finished_spans()] == ["mine"]


def test_a_tool_span_takes_its_call_id_and_input_hash() -> None:
    traced = make_traced(capture_content=True)
    call = default_handler().start_tool(tool_spec("fetch"), raw_input={"q": 1}, call_id="toolu_1", input_hash="ab12")
    call.returned({"rows": 2})
    span = traced.span("execute_tool fetch")
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "toolu_1"
    assert span.attributes[semconv.ANATOMY_TOOL_INPUT_HASH] == "ab12"
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"q": 1}'
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == '{"rows": 2}'


@pytest.mark.parametrize("capture", [False, True])
def test_the_cache_key_text_is_recorded_only_with_content_capture(capture: bool) -> None:
    traced = make_traced(capture_content=capture)
    cache = aa.ResultCache()

    @cache.cached(ttl_s=60)
    def square(n: int) -> int:
        return n * n

    assert square(3) == 9
    span = traced.span("cache_lookup square")
    assert span.attributes[semconv.ANATOMY_CACHE_HIT] is False
    assert (semconv.ANATOMY_CACHE_KEY in span.attributes) is capture
    assert len(str(span.attributes[semconv.ANATOMY_CACHE_KEY_HASH])) >= 16


def test_with_metrics_off_an_llm_call_records_none_and_with_a_meter_it_records_them() -> None:
    """configure(metrics=False) gives the API's no-op meter: the handler's instruments know it, and an LLM call
    skips its metrics (building their attributes cost every call); on a real meter every call records them."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    provider, exporter = _private_provider()
    off = TelemetryHandler.on_providers(provider, NoOpMeterProvider())
    assert off.instruments.recording is False
    reader = InMemoryMetricReader()
    on = TelemetryHandler.on_providers(provider, MeterProvider(metric_readers=[reader]))
    assert on.instruments.recording is True
    for handler in (off, on):
        call = handler.start_llm_call({semconv.GEN_AI_REQUEST_MODEL: "claude-haiku-4-5"}, stream=False)
        call.end()
    assert len(exporter.get_finished_spans()) == 2, "both calls still have their span"
    data = reader.get_metrics_data()
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert semconv.METRIC_CLIENT_OPERATION_DURATION in names


def test_on_the_placeholder_meter_an_llm_call_records_only_once_the_application_sets_a_provider(
    otel_globals: None,
) -> None:
    """Before any MeterProvider is set, the API's placeholder meter drops what it is given: an LLM call then
    records nothing (building the metric attributes cost every call about 10 µs). Once the application sets a
    provider, the placeholder's instruments forward to it, and the next call records there."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    provider, exporter = _private_provider()
    handler = TelemetryHandler.on_providers(provider)  # the meter: the global placeholder's
    assert handler.instruments.recording is False
    handler.start_llm_call({semconv.GEN_AI_REQUEST_MODEL: "claude-haiku-4-5"}, stream=False).end()
    reader = InMemoryMetricReader()
    application = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(application)
    assert handler.instruments.recording is True
    handler.start_llm_call({semconv.GEN_AI_REQUEST_MODEL: "claude-haiku-4-5"}, stream=False).end()
    assert len(exporter.get_finished_spans()) == 2, "both calls have their span"
    data = reader.get_metrics_data()
    durations = [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == semconv.METRIC_CLIENT_OPERATION_DURATION
        for point in m.data.data_points
    ]
    assert [p.count for p in durations] == [1], "the call after the provider was set, and only it"
    application.shutdown()
