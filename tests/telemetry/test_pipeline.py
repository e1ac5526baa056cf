"""Bounded flush and shutdown, and the guard that lets one exporter serve two configure() calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from agent_anatomy.telemetry._pipeline import GuardedExporter, processor_for, run_bounded, shutdown_pipeline


class StuckExporter(SpanExporter):
    """Blocks in export until aborted, like an OTLP exporter on a silent endpoint."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.shutdowns = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(30)
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.shutdowns += 1
        self.release.set()


def _make_span(provider: TracerProvider) -> None:
    with provider.get_tracer("t").start_as_current_span("s"):
        pass


def test_shutdown_aborts_a_stuck_exporter_within_the_timeout() -> None:
    stuck = StuckExporter()
    guarded = GuardedExporter(stuck)
    processor = BatchSpanProcessor(guarded, schedule_delay_millis=10)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    _make_span(provider)
    time.sleep(0.1)  # the worker is now blocked in export
    started = time.monotonic()
    assert shutdown_pipeline([processor], [guarded], timeout_s=1.0) is True
    assert time.monotonic() - started < 1.0 * 5, "within (a generous multiple of) its 1 s, not the exporter's 30 s"
    assert stuck.shutdowns == 1, "aborted once, and the processor's own shutdown call did not repeat it"


def test_run_bounded_returns_at_the_deadline() -> None:
    started = time.monotonic()
    assert run_bounded(lambda: time.sleep(5), 0.2, "sleep") is False
    assert time.monotonic() - started < 2.5, "at its 0.2 s deadline (generously), long before the 5 s sleep ends"
    assert run_bounded(lambda: None, 1.0, "nothing") is True
    assert run_bounded(lambda: 1 / 0, 1.0, "divide") is False


def test_shared_inner_exporter_shuts_down_with_its_last_guard() -> None:
    stuck = StuckExporter()
    first, second = GuardedExporter(stuck), GuardedExporter(stuck)
    first.shutdown()
    first.shutdown()
    assert stuck.shutdowns == 0
    assert first.export([]) is SpanExportResult.FAILURE
    second.shutdown()
    assert stuck.shutdowns == 1


def test_one_processor_per_provider() -> None:
    provider = TracerProvider()
    assert processor_for(provider) is processor_for(provider)
    assert processor_for(TracerProvider()) is not processor_for(provider)


def test_guards_never_shut_down_cannot_keep_a_later_exporter_alive() -> None:
    """A count left behind by a dropped exporter must not attach itself to a new one at the same address."""
    for _ in range(200):
        GuardedExporter(StuckExporter())  # dropped without shutdown, as a failed configure() might
    for _ in range(200):
        fresh = StuckExporter()
        GuardedExporter(fresh).shutdown()
        assert fresh.shutdowns == 1, "the only guard around it shut it down"
