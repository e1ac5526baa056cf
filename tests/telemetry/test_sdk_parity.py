"""configure() reads OTEL_* as the OTel SDK's own auto-configuration does: same exporter, same endpoint."""

from __future__ import annotations

import pytest
from opentelemetry.sdk import _configuration as sdk_configuration

from agent_anatomy.telemetry._exporters import _otlp_span_exporter
from agent_anatomy.telemetry._settings import resolve

SCENARIOS = [
    {},
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"},
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://gw.example:443/otlp"},
    {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:9999/custom/path",
    },
    {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4317", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:1"},
]


def _resolve_from_env() -> object:
    return resolve(
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


@pytest.mark.parametrize("env", SCENARIOS, ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()) or "defaults")
def test_same_exporter_and_endpoint_as_the_sdk(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (sdk_name,) = sdk_configuration._get_exporter_names("traces")
    sdk_classes, _, _ = sdk_configuration._import_exporters([sdk_name], [], [])
    theirs = sdk_classes[sdk_name]()
    ours = _otlp_span_exporter(_resolve_from_env())  # type: ignore[arg-type]
    try:
        assert type(ours) is type(theirs)
        assert ours._endpoint == theirs._endpoint  # type: ignore[attr-defined]
    finally:
        ours.shutdown()
        theirs.shutdown()
