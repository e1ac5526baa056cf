"""configure(): exporters, providers it respects, idempotence, disabled mode, bounded flush and shutdown."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_anatomy as aa
from agent_anatomy import semconv
from tests._processes import running
from tests._receivers import GrpcReceiver, HttpReceiver, SilentPort, closed_port


@aa.tool
def lookup(key: str) -> str:
    return key


@aa.agent
def run_agent() -> str:
    return lookup("a") + lookup("b")


def _names(spans) -> list[str]:
    return sorted(span.name for span in spans)


EXPECTED = ["execute_tool lookup", "execute_tool lookup", "invoke_agent run_agent"]


# --- memory, console, jsonl, custom ----------------------------------------------------------------------


def test_memory_exporter_and_recorder(otel_globals: None) -> None:
    handle = aa.configure(exporter="memory", service_name="support-bot")
    run_agent()
    assert _names(handle.finished_spans()) == EXPECTED
    assert _names(aa.last_trace()) == EXPECTED
    resource = handle.finished_spans()[0].resource
    assert resource.attributes[semconv.SERVICE_NAME] == "support-bot"
    assert handle.enabled and handle.recorder is not None
    assert trace.get_tracer_provider() is handle.tracer_provider, "no provider was set: ours becomes global"
    assert metrics.get_meter_provider() is handle.meter_provider
    assert handle.metric_reader is not None


def test_finished_spans_without_memory_exporter_is_a_clear_error() -> None:
    handle = aa.configure(exporter="none", tracer_provider=TracerProvider())
    with pytest.raises(aa.ConfigurationError, match=r"configure\(exporter='memory'\)"):
        handle.finished_spans()


def test_console_exporter_prints_spans(capsys: pytest.CaptureFixture[str]) -> None:
    handle = aa.configure(exporter="console", tracer_provider=TracerProvider(), metrics=False)
    run_agent()
    handle.shutdown()
    out = capsys.readouterr().out
    assert out.count('"name": "execute_tool lookup"') == 2
    assert '"name": "invoke_agent run_agent"' in out


def test_jsonl_and_custom_exporters_together(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    custom = InMemorySpanExporter()
    handle = aa.configure(exporter=[f"jsonl:{path}", custom], tracer_provider=TracerProvider())
    run_agent()
    assert handle.force_flush(timeout_s=5)
    lines = path.read_text().splitlines()
    names = [json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] for line in lines]
    assert sorted(names) == EXPECTED
    assert _names(custom.get_finished_spans()) == EXPECTED


def test_jsonl_with_an_unwritable_path_fails_at_configure(tmp_path: Path) -> None:
    with pytest.raises(aa.ConfigurationError, match="cannot open the file for appending"):
        aa.configure(exporter=f"jsonl:{tmp_path}/missing-dir/spans.jsonl", tracer_provider=TracerProvider())


def test_bad_arguments_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="choose from otlp, console, jsonl:PATH, memory, none"):
        aa.configure(exporter="jaeger")
    with pytest.raises(ValueError, match="choose from grpc, http/protobuf"):
        aa.configure(exporter="otlp", protocol="udp")
    with pytest.raises(aa.ConfigurationError, match=r"tracer_provider must be an opentelemetry\.sdk\.trace"):
        aa.configure(exporter="memory", tracer_provider=trace.NoOpTracerProvider())  # type: ignore[arg-type]


# --- providers and idempotence ------------------------------------------------------------------------------


def test_existing_tracer_provider_is_kept_and_gets_our_processors(
    otel_globals: None, caplog: pytest.LogCaptureFixture
) -> None:
    theirs = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(theirs))
    trace.set_tracer_provider(provider)
    with caplog.at_level(logging.WARNING):
        handle = aa.configure(exporter="memory", service_name="ignored")
    assert handle.tracer_provider is provider
    assert trace.get_tracer_provider() is provider
    assert "already set a TracerProvider" in caplog.text
    run_agent()
    assert _names(theirs.get_finished_spans()) == EXPECTED, "the application's exporter still gets every span"
    assert _names(handle.finished_spans()) == EXPECTED


def test_configure_twice_does_not_double_export(otel_globals: None) -> None:
    shared = InMemorySpanExporter()
    first = aa.configure(exporter=["memory", shared])
    second = aa.configure(exporter=["memory", shared])
    assert first.tracer_provider is second.tracer_provider
    run_agent()
    assert first.finished_spans() == []
    assert _names(second.finished_spans()) == EXPECTED
    assert second.force_flush()
    assert _names(shared.get_finished_spans()) == EXPECTED, "each span once, and the reused exporter still works"
    assert "retired" not in repr(second)
    assert repr(first).startswith("<Telemetry shut down")


def test_reconfigure_on_another_provider_retires_the_first() -> None:
    first = aa.configure(exporter="memory", tracer_provider=TracerProvider())
    second = aa.configure(exporter="memory", tracer_provider=TracerProvider())
    run_agent()
    assert first.finished_spans() == []
    assert _names(second.finished_spans()) == EXPECTED


def test_sdk_disabled(monkeypatch: pytest.MonkeyPatch, otel_globals: None) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    handle = aa.configure(exporter="memory")
    assert not handle.enabled
    assert run_agent() == "ab"
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider), "nothing global was set"
    with pytest.raises(aa.TraceNotFoundError):
        aa.last_trace()
    assert handle.shutdown() is True


def test_explicit_providers_leave_globals_alone(otel_globals: None) -> None:
    provider, meter_provider = TracerProvider(), MeterProvider()
    handle = aa.configure(exporter="memory", tracer_provider=provider, meter_provider=meter_provider)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert handle.meter_provider is meter_provider
    run_agent()
    assert _names(handle.finished_spans()) == EXPECTED


def test_sampler_argument_applies_to_our_provider(otel_globals: None) -> None:
    handle = aa.configure(exporter="memory", sampler="always_off")
    run_agent()
    assert handle.finished_spans() == []


def test_context_manager_shuts_down() -> None:
    with aa.configure(exporter="memory", tracer_provider=TracerProvider()) as handle:
        run_agent()
    run_agent()
    assert len(handle.finished_spans()) == 3, "spans after shutdown are not exported"


# --- OTLP export to local receivers ---------------------------------------------------------------------------


def test_otlp_grpc_export_with_headers(otel_globals: None) -> None:
    receiver = GrpcReceiver()
    try:
        handle = aa.configure(
            exporter="otlp",
            endpoint=receiver.endpoint,
            headers={"x-team": "agents"},
            service_name="grpc-test",
            metrics=False,
        )
        run_agent()
        assert handle.force_flush(timeout_s=10)
        assert receiver.received.event.wait(5)
        assert sorted(receiver.received.span_names) == EXPECTED
        assert receiver.received.headers[0]["x-team"] == "agents"
        assert receiver.received.resources[0]["service.name"] == "grpc-test"
    finally:
        receiver.stop()


def test_otlp_http_export_from_environment(monkeypatch: pytest.MonkeyPatch, otel_globals: None) -> None:
    receiver = HttpReceiver()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret%20value")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
        handle = aa.configure(metrics=False)
        assert handle.settings.traces_endpoint == f"{receiver.base}/v1/traces"
        run_agent()
        assert handle.force_flush(timeout_s=10)
        assert sorted(receiver.received.span_names) == EXPECTED
        assert receiver.received.headers[0]["api-key"] == "secret value"
        assert receiver.received.resources[0]["service.name"] == "from-env"
    finally:
        receiver.stop()


# --- a dead exporter never stalls the program ------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize("endpoint_kind", ["refused", "silent"])
def test_shutdown_and_flush_are_bounded_with_a_dead_endpoint(protocol: str, endpoint_kind: str) -> None:
    silent = SilentPort() if endpoint_kind == "silent" else None
    endpoint = silent.endpoint if silent else f"http://127.0.0.1:{closed_port()}"
    try:
        handle = aa.configure(
            exporter="otlp",
            endpoint=endpoint,
            protocol=protocol,
            tracer_provider=TracerProvider(),
            metrics=False,
        )
        # An export on the application's thread would block for the exporter's 10 s timeout; bounds are
        # generous multiples of the timeouts given, far below what an unbounded wait would take.
        started = time.monotonic()
        for _ in range(20):
            assert run_agent() == "ab"
        assert time.monotonic() - started < 5.0, "exporting is off the application's thread"
        started = time.monotonic()
        handle.force_flush(timeout_s=0.5)
        assert time.monotonic() - started < 0.5 * 6
        started = time.monotonic()
        handle.shutdown(timeout_s=1.0)
        assert time.monotonic() - started < 1.0 * 5
    finally:
        if silent:
            silent.stop()


def test_exit_is_bounded_with_a_dead_endpoint(tmp_path: Path) -> None:
    """configure() registers a bounded shutdown at exit; the SDK's own 30 s exit flush is not used."""
    silent = SilentPort()
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import agent_anatomy as aa
            aa.configure(exporter="otlp", endpoint="{silent.endpoint}", shutdown_timeout_s=1.0)

            @aa.tool
            def work():
                return 1

            for _ in range(50):
                work()
            print("done")
            """
        )
    )
    # Timed from the script's last line to the process's exit: the interval the bounded shutdown owns
    # (importing the SDK before it can take seconds on a loaded machine, and is not what is checked here).
    try:
        with running([sys.executable, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
            assert process.stdout is not None
            last_line = process.stdout.readline()
            done_at = time.monotonic()
            _, stderr = process.communicate(timeout=60)
            exit_s = time.monotonic() - done_at
    finally:
        silent.stop()
    assert process.returncode == 0, stderr
    assert last_line.strip() == "done"
    assert exit_s < 1.0 * 5, f"exit took {exit_s:.1f} s after the last line, with shutdown_timeout_s=1.0"


def test_spans_still_buffered_at_exit_are_exported(tmp_path: Path) -> None:
    """The exit hook runs its bounded shutdown on every Python: 3.12+ refuse new threads in atexit callbacks."""
    target = tmp_path / "spans.jsonl"
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import agent_anatomy as aa
            aa.configure(exporter="jsonl:{target}", metrics=False)

            @aa.tool
            def work():
                return 1

            for _ in range(50):
                work()
            """
        )
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "nothing on stderr: no 'Exception ignored in atexit callback'"
    assert len(target.read_text().splitlines()) == 50, "the batch still queued at exit was written"


def test_joining_an_exporting_provider_does_not_export_again_from_the_same_env(
    otel_globals: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under opentelemetry-instrument the SDK already exports by OTEL_TRACES_EXPORTER; configure() must not too."""
    theirs = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(theirs))
    trace.set_tracer_provider(provider)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    handle = aa.configure()
    assert handle.settings.exporters == ()
    run_agent()
    assert _names(theirs.get_finished_spans()) == EXPECTED
    assert _names(aa.last_trace()) == EXPECTED, "the recorder still sees every span"
    explicit = aa.configure(exporter="memory")
    assert [spec.kind for spec in explicit.settings.exporters] == ["memory"], "an explicit exporter is honoured"


# --- instrumentations, found through the opentelemetry_instrumentor entry point ------------------------------


def test_configure_instruments_what_the_entry_points_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_anatomy.tracing import AnthropicInstrumentor, McpInstrumentor

    aa.configure(exporter="memory", metrics=False)
    assert AnthropicInstrumentor().is_instrumented_by_opentelemetry
    assert McpInstrumentor().is_instrumented_by_opentelemetry, "mcp is installed (dev extra): its client is traced"


@pytest.mark.parametrize("disabled", ["mcp", "anthropic, mcp"])
def test_disabled_instrumentations_are_skipped(monkeypatch: pytest.MonkeyPatch, disabled: str) -> None:
    from agent_anatomy.tracing import AnthropicInstrumentor, McpInstrumentor

    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", disabled)
    aa.configure(exporter="memory", metrics=False)
    assert AnthropicInstrumentor().is_instrumented_by_opentelemetry is ("anthropic" not in disabled)
    assert not McpInstrumentor().is_instrumented_by_opentelemetry


def test_instrument_false_instruments_nothing() -> None:
    from agent_anatomy.tracing import AnthropicInstrumentor, McpInstrumentor

    aa.configure(exporter="memory", metrics=False, instrument=False)
    assert not AnthropicInstrumentor().is_instrumented_by_opentelemetry
    assert not McpInstrumentor().is_instrumented_by_opentelemetry


def test_an_applications_meter_provider_gets_no_orphan_readers(
    otel_globals: None, caplog: pytest.LogCaptureFixture
) -> None:
    """An SDK MeterProvider takes no readers once made: configure() builds none for it (a reader never
    registered would export nothing and warn on every collect, at exit too)."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider

    application = MeterProvider()
    metrics.set_meter_provider(application)
    handle = aa.configure(exporter="memory", metrics=True)
    assert handle.metric_reader is None
    handle.force_flush()
    handle.shutdown(timeout_s=2.0)
    assert "Cannot call collect" not in caplog.text
    application.shutdown()


@pytest.mark.parametrize("given", [True, False])
def test_the_metrics_describe_the_service_the_spans_do(otel_globals: None, given: bool) -> None:
    """With the application's TracerProvider (given to configure(), or set before it), the meter provider
    configure() makes takes that provider's resource: metrics and spans name one service (they did not: the
    metrics said ``unknown_service``, and a collector filed them under another job than the spans)."""
    from opentelemetry.sdk.resources import Resource

    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot", "deployment": "eu"}))
    if not given:
        trace.set_tracer_provider(provider)
    handle = aa.configure(exporter="memory", metrics=True, tracer_provider=provider if given else None)
    meters = handle.meter_provider
    assert meters is not None and meters._sdk_config.resource.attributes == provider.resource.attributes  # type: ignore[attr-defined]
    handle.shutdown(timeout_s=2.0)


def test_an_sdk_outside_the_range_gets_one_warning_and_no_instrumentation(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A pinned SDK the instrumentation does not cover is said at WARNING, in one line naming both (it was
    said at DEBUG only: the report then showed no LLM call and no reason); nothing is instrumented."""
    import anthropic

    from agent_anatomy.tracing import AnthropicInstrumentor

    monkeypatch.setattr(AnthropicInstrumentor, "instrumentation_dependencies", lambda self: ("anthropic >= 9",))
    with caplog.at_level(logging.WARNING, logger="agent_anatomy"):
        aa.configure(exporter="memory", metrics=False)
    assert not AnthropicInstrumentor().is_instrumented_by_opentelemetry
    [message] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert message == (
        f"agent-anatomy: anthropic {anthropic.__version__} is installed; agent-anatomy instruments "
        "anthropic >= 9: its calls are not traced"
    )
