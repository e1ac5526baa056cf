"""Settings resolution: arguments beat OTEL_* variables, which beat the OTel SDK's defaults."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    DEFAULT_ON,
    ParentBasedTraceIdRatio,
    TraceIdRatioBased,
)

from agent_anatomy.errors import ConfigurationError
from agent_anatomy.telemetry._settings import (
    ExporterSpec,
    parse_exporters,
    parse_headers,
    resolve,
    resolve_endpoint,
    resolve_protocol,
    resolve_sampler,
)


def _resolve(**overrides: Any):
    arguments: dict[str, Any] = dict(
        service_name=None,
        exporter=None,
        endpoint=None,
        protocol=None,
        capture_content=None,
        sampler=None,
        sampler_arg=None,
        headers=None,
        resource_attributes=None,
        metrics=None,
        max_queue_size=None,
        max_export_batch_size=None,
    )
    arguments.update(overrides)
    return resolve(**arguments)


# --- exporters --------------------------------------------------------------------------------------------


def test_default_exporter_is_otlp_over_grpc_to_localhost() -> None:
    settings = _resolve()
    assert settings.exporters == (ExporterSpec("otlp"),)
    assert settings.protocol == "grpc"
    assert settings.traces_endpoint == "http://localhost:4317"
    assert settings.capture_content is False
    assert settings.disabled is False


def test_several_exporters_in_one_string_and_in_a_list() -> None:
    custom = InMemorySpanExporter()
    assert parse_exporters("console, jsonl:out/t.jsonl,none", setting="exporter") == (
        ExporterSpec("console"),
        ExporterSpec("jsonl", path="out/t.jsonl"),
    )
    assert parse_exporters(["memory", custom], setting="exporter") == (
        ExporterSpec("memory"),
        ExporterSpec("custom", exporter=custom),
    )
    assert parse_exporters("none", setting="exporter") == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "zipkin",
            r"exporter='zipkin' is not a known exporter; choose from otlp, console, jsonl:PATH, memory, none",
        ),
        ("jsonl", r"the jsonl exporter needs a file path, as in 'jsonl:traces.jsonl'"),
        ("jsonl:  ", r"needs a file path"),
        ("otlp:grpc", r"'otlp:grpc' is not a known exporter"),
        ([42], r"must be exporter names or SpanExporter objects, got 42"),
    ],
)
def test_bad_exporter_names_the_choices(value: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        parse_exporters(value, setting="exporter")
    assert isinstance(raised.value, ValueError)
    assert raised.value.setting == "exporter"


def test_exporter_from_env_and_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert _resolve().exporters == (ExporterSpec("console"),)
    assert _resolve(exporter="memory").exporters == (ExporterSpec("memory"),)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "prometheus")
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_EXPORTER='prometheus'"):
        _resolve()


# --- protocol and endpoints ----------------------------------------------------------------------------------


def test_protocol_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_protocol(None) == "grpc"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    assert resolve_protocol(None) == "http/protobuf"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    assert resolve_protocol(None) == "grpc"
    assert resolve_protocol("HTTP/protobuf") == "http/protobuf"


@pytest.mark.parametrize("value", ["http/json", "http", "thrift"])
def test_bad_protocol_names_the_choices(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"choose from grpc, http/protobuf") as raised:
        resolve_protocol(value)
    assert raised.value.value == value


def test_bad_protocol_from_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(ConfigurationError, match=r"OTEL_EXPORTER_OTLP_PROTOCOL='http/json'"):
        resolve_protocol(None)


def test_http_endpoints_follow_the_sdk_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_endpoint(None, "http/protobuf", "traces") == "http://localhost:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert resolve_endpoint(None, "http/protobuf", "traces") == "http://collector:4318/v1/traces"
    assert resolve_endpoint(None, "http/protobuf", "metrics") == "http://collector:4318/v1/metrics"
    assert resolve_endpoint(None, "grpc", "traces") == "http://collector:4318/"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom")
    assert resolve_endpoint(None, "http/protobuf", "traces") == "http://traces:9999/custom"
    assert resolve_endpoint(None, "http/protobuf", "metrics") == "http://collector:4318/v1/metrics"


def test_explicit_endpoint_beats_env_and_gets_a_path_when_it_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env:1/v1/traces")
    assert resolve_endpoint("http://arg:4318", "http/protobuf", "traces") == "http://arg:4318/v1/traces"
    assert resolve_endpoint("http://arg:4318/otlp/v1/traces", "http/protobuf", "traces") == (
        "http://arg:4318/otlp/v1/traces"
    )
    assert resolve_endpoint("http://arg:4317", "grpc", "traces") == "http://arg:4317"


@pytest.mark.parametrize("bad", ["localhost:4317", "ftp://x:1", "http://"])
def test_bad_endpoint(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="is not an endpoint URL"):
        resolve_endpoint(bad, "grpc", "traces")


def test_headers_from_mapping_and_string() -> None:
    assert parse_headers({"X-Key": 1}) == {"X-Key": "1"}  # type: ignore[dict-item]
    assert parse_headers("api-key=a%20b, Team=x") == {"api-key": "a b", "team": "x"}
    with pytest.raises(ConfigurationError, match="'nokey' is not of the form key=value"):
        parse_headers("a=b,nokey")


# --- sampler ---------------------------------------------------------------------------------------------------


def test_sampler_by_name_and_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_sampler(None, None) is None
    assert resolve_sampler("always_off", None) is ALWAYS_OFF
    assert resolve_sampler("parentbased_always_on", None) is DEFAULT_ON
    ratio = resolve_sampler("traceidratio", 0.25)
    assert isinstance(ratio, TraceIdRatioBased) and ratio.rate == 0.25
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    from_env = resolve_sampler(None, None)
    assert isinstance(from_env, ParentBasedTraceIdRatio)
    assert "0.5" in from_env.get_description()


def test_bad_sampler_values(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="'sometimes' is not a known sampler; choose from always_on"):
        resolve_sampler("sometimes", None)
    with pytest.raises(ConfigurationError, match=r"sampler_arg=1\.5 is not a sampling ratio"):
        resolve_sampler("traceidratio", 1.5)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "half")
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_SAMPLER_ARG='half'"):
        resolve_sampler(None, None)


# --- flags -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("SPAN_ONLY", True), ("span_and_event", True), ("false", False), ("NO_CONTENT", False)],
)
def test_capture_content_from_env(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    assert _resolve().capture_content is expected
    assert _resolve(capture_content=not expected).capture_content is (not expected)


def test_bad_flag_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "maybe")
    with pytest.raises(ConfigurationError, match="OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT='maybe'"):
        _resolve()


def test_sdk_disabled_and_metrics_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    settings = _resolve()
    assert settings.disabled is True
    assert settings.metrics is False


@pytest.mark.parametrize("bad", [0, -5, True, 2.5])
def test_batch_sizes_must_be_positive_integers(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="must be a positive integer"):
        _resolve(max_queue_size=bad)
