"""JsonlSpanExporter: one OTLP JSON document per line, hex ids, the OTLP encoder's shapes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

from agent_anatomy.telemetry.jsonl import JsonlSpanExporter


def _write_trace(path: Path) -> tuple[int, int, int]:
    exporter = JsonlSpanExporter(path)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("scope-a", "1.2.3")
    with (
        tracer.start_as_current_span("root", kind=SpanKind.SERVER, attributes={"n": 3, "tags": ["x", "y"]}) as root,
        tracer.start_as_current_span("child") as child,
    ):
        child.add_event("first_token", {"gen_ai.response.time_to_first_chunk": 0.25})
        child.add_link(root.get_span_context(), {"why": "test"})
        child.set_status(StatusCode.ERROR, "boom")
    provider.shutdown()
    return root.get_span_context().trace_id, root.get_span_context().span_id, child.get_span_context().span_id


def test_one_span_per_line_with_hex_ids(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    trace_id, root_id, child_id = _write_trace(path)
    documents = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(documents) == 2
    spans = {}
    for document in documents:
        [resource_spans] = document["resourceSpans"]
        [scope_spans] = resource_spans["scopeSpans"]
        assert scope_spans["scope"] == {"name": "scope-a", "version": "1.2.3"}
        assert any(a["key"] == "service.name" for a in resource_spans["resource"]["attributes"])
        [span] = scope_spans["spans"]
        spans[span["name"]] = span
    child, root = spans["child"], spans["root"]
    assert child["traceId"] == root["traceId"] == f"{trace_id:032x}"
    assert root["spanId"] == f"{root_id:016x}" and child["spanId"] == f"{child_id:016x}"
    assert child["parentSpanId"] == root["spanId"] and "parentSpanId" not in root
    assert root["kind"] == 2 and child["kind"] == 1, "enums are integers, as OTLP JSON requires"
    assert child["status"] == {"code": 2, "message": "boom"}
    assert child["links"][0]["spanId"] == root["spanId"] and child["links"][0]["traceId"] == root["traceId"]
    assert child["events"][0]["name"] == "first_token"
    assert int(child["endTimeUnixNano"]) >= int(child["startTimeUnixNano"])
    assert {"key": "n", "value": {"intValue": "3"}} in root["attributes"]


def test_appends_across_exporters(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    _write_trace(path)
    _write_trace(path)
    assert len(path.read_text().splitlines()) == 4


def test_export_after_shutdown_fails_quietly(tmp_path: Path) -> None:
    exporter = JsonlSpanExporter(tmp_path / "t.jsonl")
    exporter.shutdown()
    assert exporter.export([]) is SpanExportResult.FAILURE


def test_write_error_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "t.jsonl"
    exporter = JsonlSpanExporter(path)
    exporter._file.close()  # type: ignore[union-attr]
    exporter._file = open(path, encoding="utf-8")  # noqa: SIM115 - read-only: every write fails
    provider = TracerProvider(shutdown_on_exit=False)
    ended: list[ReadableSpan] = []

    class Keep(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            ended.append(span)

    provider.add_span_processor(Keep())
    with provider.get_tracer("t").start_as_current_span("s"):
        pass
    with caplog.at_level(logging.WARNING):
        assert exporter.export(ended) is SpanExportResult.FAILURE
    assert f"could not write 1 spans to {path}" in caplog.text
    exporter.shutdown()
