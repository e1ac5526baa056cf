"""A missing collector costs one line and no waiting; exports resume when it answers again."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import agent_anatomy as aa
from agent_anatomy.telemetry._endpoint import EndpointWatch
from agent_anatomy.telemetry._pipeline import GuardedExporter
from tests._processes import running
from tests._receivers import closed_port


class CountingExporter(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: object) -> SpanExportResult:
        self.calls += 1
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def test_a_closed_endpoint_is_reported_once_and_exports_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    watch = EndpointWatch(f"http://127.0.0.1:{port}", retry_after_s=0.2)
    inner = CountingExporter()
    guarded = GuardedExporter(inner, watch)
    with caplog.at_level(logging.WARNING, logger="agent_anatomy"):
        results = [guarded.export([]) for _ in range(50)]
    assert results == [SpanExportResult.FAILURE] * 50
    assert inner.calls == 1, "after the first failure, exports are dropped without reaching the exporter"
    assert watch.dropped == 49
    notices = [r.getMessage() for r in caplog.records if "nothing answers" in r.getMessage()]
    assert notices == [
        f"agent-anatomy: nothing answers at the OTLP endpoint 127.0.0.1:{port} (http://127.0.0.1:{port}); "
        "telemetry is dropped until it does (checked every 0.2 s)"
    ]

    with socket.socket() as listener:  # a collector comes up on that port
        listener.bind(("127.0.0.1", port))
        listener.listen()
        time.sleep(0.25)  # past the retry window
        with caplog.at_level(logging.WARNING, logger="agent_anatomy"):
            assert watch.available()
        assert any("answers again (49 export(s) dropped" in r.getMessage() for r in caplog.records)


def test_a_listening_endpoint_is_left_to_the_exporter() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        watch = EndpointWatch(f"127.0.0.1:{listener.getsockname()[1]}")
        inner = CountingExporter()
        guarded = GuardedExporter(inner, watch)
        for _ in range(3):
            guarded.export([])
    assert inner.calls == 3, "an endpoint that accepts connections is not second-guessed"


def test_configure_notices_a_missing_collector_without_the_application_waiting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    with caplog.at_level(logging.WARNING, logger="agent_anatomy"):
        handle = aa.configure(
            exporter="otlp", endpoint=f"http://127.0.0.1:{port}", tracer_provider=TracerProvider(), metrics=False
        )
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:  # the probe runs in the background
            time.sleep(0.01)
        handle.shutdown(timeout_s=5.0)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"agent-anatomy: nothing answers at the OTLP endpoint 127.0.0.1:{port}"
    ]


def test_demo_exporting_to_no_collector_says_so_once_and_exits_promptly() -> None:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
    with running(
        [sys.executable, "-m", "agent_anatomy.cli", "demo", "--export", "otlp", "--no-color"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as demo:
        assert demo.stdout is not None
        last_line_at = time.monotonic()
        for _line in demo.stdout:
            last_line_at = time.monotonic()
        stderr = demo.stderr.read() if demo.stderr else ""
        demo.wait(60)
        exit_s = time.monotonic() - last_line_at
    assert demo.returncode == 0, stderr
    assert stderr.strip().splitlines() == [stderr.strip()], f"one line, not one per retry: {stderr}"
    assert "nothing answers at the OTLP endpoint 127.0.0.1" in stderr
    # Flush and shutdown are bounded by 5 s each; with the endpoint known down they need not wait at all.
    assert exit_s < 5.0, f"{exit_s:.1f} s from the last line to exit"
