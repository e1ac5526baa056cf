"""The anatomy metrics processor: each finished trace's anatomy as histograms, bounded and never in the way."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Tracer, set_span_in_context

from agent_anatomy import semconv
from agent_anatomy.anatomy import AnatomyMetricsProcessor, TraceTree
from agent_anatomy.anatomy import metrics as anatomy_metrics
from tests.anatomy._build import ms, seed_trace


class Fleet:
    """A tracer whose spans go to an AnatomyMetricsProcessor recording on an in-memory metric reader."""

    def __init__(self, **options: Any) -> None:
        self.reader = InMemoryMetricReader()
        self.processor = AnatomyMetricsProcessor(MeterProvider(metric_readers=[self.reader]), **options)
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.processor)
        self.tracer: Tracer = self.provider.get_tracer("test")

    def points(self, name: str) -> list[Any]:
        """The data points of one metric, read once (exemplars are kept per collection)."""
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def by(self, name: str, key: str) -> dict[Any, Any]:
        return {point.attributes.get(key): point for point in self.points(name)}


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    made = Fleet(grace_s=0.2)
    yield made
    made.processor.shutdown()


def replay(tracer: Tracer, tree: TraceTree, *, end_root: bool = True) -> int:
    """The hand-built trace as real SDK spans with its times; returns the trace id. Children end first."""
    spans: dict[str, Any] = {}
    for record in sorted(tree.spans.values(), key=lambda r: r.start_ns):
        parent = spans.get(record.parent_id) if record.parent_id else None
        context = set_span_in_context(parent) if parent is not None else None
        kind = SpanKind.CLIENT if record.name.startswith("chat") else SpanKind.INTERNAL
        spans[record.span_id] = tracer.start_span(
            record.name, context=context, kind=kind, attributes=record.attributes, start_time=record.start_ns
        )
    for record in sorted(tree.spans.values(), key=lambda r: (r.parent_id is None, r.end_ns)):
        if record.parent_id is None and not end_root:
            continue
        spans[record.span_id].end(end_time=record.end_ns)
    root = next(iter(spans.values()))
    return int(root.get_span_context().trace_id)


def test_a_traces_anatomy_as_metrics(fleet: Fleet) -> None:
    trace_id = replay(fleet.tracer, seed_trace())
    assert fleet.processor.force_flush(10_000)
    [duration] = fleet.points(semconv.METRIC_ANATOMY_TRACE_DURATION)
    assert (duration.count, duration.sum) == (1, pytest.approx(5.71))
    phases = fleet.by(semconv.METRIC_ANATOMY_PHASE_DURATION, semconv.ANATOMY_PHASE)
    assert phases["tool"].sum == pytest.approx(2.1) and phases["llm_time_to_first_token"].sum == pytest.approx(1.2)
    assert sum(p.sum for p in phases.values()) == pytest.approx(5.71), "the phases add up to the trace"
    [ttft] = fleet.points(semconv.METRIC_ANATOMY_TIME_TO_FIRST_TOKEN)
    assert dict(ttft.attributes) == {semconv.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-6"}
    assert (ttft.count, ttft.sum, ttft.min, ttft.max) == (3, pytest.approx(1.2), pytest.approx(0.3), pytest.approx(0.5))
    savings = fleet.by(semconv.METRIC_ANATOMY_SAVING_AVAILABLE, semconv.ANATOMY_WHATIF_KIND)
    assert savings["parallelise"].sum == pytest.approx(0.6), "the first batch's shorter tool"
    path = fleet.by(semconv.METRIC_ANATOMY_CRITICAL_PATH, semconv.ANATOMY_PHASE)
    assert path["tool"].sum == pytest.approx(0.8 + 0.6 + 0.7)
    # an exemplar leads from the bucket to the trace
    assert [e.trace_id for e in duration.exemplars] == [trace_id]
    # labels stay few: no trace id, no user data
    for name in (semconv.METRIC_ANATOMY_PHASE_DURATION, semconv.METRIC_ANATOMY_TIME_TO_FIRST_TOKEN):
        for point in fleet.points(name):
            assert set(point.attributes) <= {
                semconv.ANATOMY_PHASE,
                semconv.GEN_AI_REQUEST_MODEL,
                semconv.ANATOMY_ROUTE_STEP,
            }


def test_buckets_run_from_10_ms_to_10_minutes(fleet: Fleet) -> None:
    replay(fleet.tracer, seed_trace())
    fleet.processor.force_flush(10_000)
    [duration] = fleet.points(semconv.METRIC_ANATOMY_TRACE_DURATION)
    assert duration.explicit_bounds[0] == 0.01 and duration.explicit_bounds[-1] == 600.0


def test_stragglers_within_the_grace_join_and_later_ones_are_counted(fleet: Fleet) -> None:
    tree = seed_trace()
    replay(fleet.tracer, tree)
    root = fleet.processor.pending_traces()
    assert len(root) == 1, "held for its grace"
    [trace_id] = root
    # a span of the same trace that ends after its root (a background task's): still in the grace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    parent = set_span_in_context(NonRecordingSpan(SpanContext(trace_id, 1, False, TraceFlags(1))))
    straggler = fleet.tracer.start_span(
        "execute_tool audit_log",
        context=parent,
        attributes={semconv.GEN_AI_OPERATION_NAME: "execute_tool"},
        start_time=ms(5700),
    )
    straggler.end(end_time=ms(5810))  # 100 ms after the root
    assert fleet.processor.force_flush(10_000)
    [duration] = fleet.points(semconv.METRIC_ANATOMY_TRACE_DURATION)
    assert duration.sum == pytest.approx(5.81), "the straggler lengthened the trace: it was in it"
    late = fleet.tracer.start_span("late", context=parent)
    late.end()
    dropped = fleet.by(semconv.METRIC_ANATOMY_TRACES_DROPPED, semconv.ANATOMY_DROP_REASON)
    assert dropped[semconv.DROP_LATE].value == 1


def test_bounds_drop_the_oldest_and_count_it() -> None:
    fleet = Fleet(grace_s=60, max_traces=2, max_spans=4)
    try:
        for n in range(3):  # three traces whose roots never end
            replay(fleet.tracer, seed_trace(trace=f"{n + 1:032x}"), end_root=False)
        assert fleet.processor.traces_in_flight == 2
        dropped = fleet.by(semconv.METRIC_ANATOMY_TRACES_DROPPED, semconv.ANATOMY_DROP_REASON)
        assert dropped[semconv.DROP_TRACES_IN_FLIGHT].value == 1
        # each held trace went past 4 spans: counted once per trace, not per span
        assert dropped[semconv.DROP_SPANS_PER_TRACE].value == 3
    finally:
        fleet.processor.shutdown()


def test_a_failing_analysis_never_reaches_the_application(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(tree: object) -> None:
        raise RuntimeError("analysis broke")

    monkeypatch.setattr(anatomy_metrics, "analyse_trace", broken)
    with caplog.at_level(logging.WARNING, logger="agent_anatomy.anatomy.metrics"):
        for n in range(2):
            replay(fleet.tracer, seed_trace(trace=f"{n + 1:032x}"))  # ending spans raises nothing
        assert fleet.processor.force_flush(10_000)
    dropped = fleet.by(semconv.METRIC_ANATOMY_TRACES_DROPPED, semconv.ANATOMY_DROP_REASON)
    assert dropped[semconv.DROP_FAILED].value == 2
    warnings = [r for r in caplog.records if "could not analyse trace" in r.getMessage()]
    assert len(warnings) == 1, "logged once"


def test_ending_spans_never_waits_for_an_analysis(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    injected_s = 1.0
    real = anatomy_metrics.analyse_trace

    def slow(tree: TraceTree) -> Any:
        time.sleep(injected_s)
        return real(tree)

    monkeypatch.setattr(anatomy_metrics, "analyse_trace", slow)
    replay(fleet.tracer, seed_trace(trace="1" * 32))
    fleet.processor.force_flush(0)  # the worker starts the slow analysis at once
    started = time.perf_counter()
    replay(fleet.tracer, seed_trace(trace="2" * 32))  # 10 spans end while the worker is busy
    assert time.perf_counter() - started < injected_s / 2
    assert fleet.processor.force_flush(10_000)
    [duration] = fleet.points(semconv.METRIC_ANATOMY_TRACE_DURATION)
    assert duration.count == 2


def test_configure_adds_it_by_argument_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent_anatomy as aa
    from agent_anatomy.errors import ConfigurationError

    def processors(telemetry: Any) -> list[str]:
        return [type(p).__name__ for p in telemetry._processor.processors]

    provider = TracerProvider()
    telemetry = aa.configure(exporter="memory", anatomy_metrics=True, instrument=False, tracer_provider=provider)
    assert "AnatomyMetricsProcessor" in processors(telemetry)
    monkeypatch.setenv("AGENT_ANATOMY_METRICS", "true")
    assert "AnatomyMetricsProcessor" in processors(
        aa.configure(exporter="memory", instrument=False, tracer_provider=provider)
    )
    monkeypatch.setenv("AGENT_ANATOMY_METRICS", "false")
    assert "AnatomyMetricsProcessor" not in processors(
        aa.configure(exporter="memory", instrument=False, tracer_provider=provider)
    )
    monkeypatch.setenv("AGENT_ANATOMY_METRICS", "maybe")
    with pytest.raises(ConfigurationError, match="AGENT_ANATOMY_METRICS='maybe' is not a valid flag"):
        aa.configure(exporter="memory", instrument=False, tracer_provider=provider)


def test_a_sample_ratio_picks_traces_by_id_as_the_sdk_sampler_does() -> None:
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class Ids(RandomIdGenerator):
        """Trace ids whose lower 64 bits are, in turn, the least and the greatest."""

        def __init__(self) -> None:
            self.next = 0

        def generate_trace_id(self) -> int:
            self.next += 1
            return (self.next << 64) | (0 if self.next % 2 else (1 << 64) - 1)

    fleet = Fleet(grace_s=0, sample_ratio=0.5)
    fleet.provider = TracerProvider(id_generator=Ids())
    fleet.provider.add_span_processor(fleet.processor)
    tracer = fleet.provider.get_tracer("test")
    try:
        kept = [replay(tracer, seed_trace(trace=f"{n + 1:032x}")) for n in range(4)]
        assert fleet.processor.force_flush(10_000)
        [duration] = fleet.points(semconv.METRIC_ANATOMY_TRACE_DURATION)
        assert duration.count == 2, "the two traces whose ids fall under the ratio"
        assert {e.trace_id for e in duration.exemplars} <= {t for t in kept if t & ((1 << 64) - 1) == 0}
    finally:
        fleet.processor.shutdown()


@pytest.mark.parametrize(
    "options", [{"grace_s": -1}, {"max_traces": 0}, {"max_spans": 0}, {"sample_ratio": 0}, {"sample_ratio": 1.5}]
)
def test_settings_out_of_range_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="are needed"):
        AnatomyMetricsProcessor(MeterProvider(), **options)
