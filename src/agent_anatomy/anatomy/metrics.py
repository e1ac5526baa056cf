"""The fleet view: every process computes the anatomy of its own finished traces and records it as metrics.

``AnatomyMetricsProcessor`` is a span processor (``configure(anatomy_metrics=True)`` adds it). It keeps the
spans of each trace in flight; when the trace's local root ends, it waits ``grace_s`` for stragglers, then
analyses the trace on a thread of its own and records histograms (seconds, buckets from 10 ms to 10 min):
the trace's duration and each phase's, time to first token, to first visible text and per output token
per model and router step, critical-path time per phase, what-if savings still available per kind, time each lever
saved. Labels are bounded (agent and model names, phases, kinds; never a trace id or user data); each
measurement carries the trace's root as its context, so an SDK that keeps exemplars links a slow bucket to
the trace. Bounded by design: at most ``max_traces`` in flight and ``max_spans`` per trace, the oldest
dropped and counted in ``agent_anatomy.processor.dropped``; ``on_end`` never blocks on the analysis, and a
failing analysis is logged once and counted, never raised.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from opentelemetry import metrics
from opentelemetry.context import Context
from opentelemetry.metrics import Histogram, Meter, MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ..version import __version__
from .analysis import TraceAnalysis, analyse_trace
from .model import group_traces
from .phases import PHASE_GAP, PHASES
from .sources import records_from_readable
from .whatif import judged, model_speeds

__all__ = ["BUCKETS_S", "PER_TOKEN_BUCKETS_S", "AnatomyInstruments", "AnatomyMetricsProcessor"]

_logger = logging.getLogger(__name__)

BUCKETS_S: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 150.0, 300.0, 600.0)
"""Histogram bucket bounds, 10 ms to 10 min: an agent's phases span four orders of magnitude."""
PER_TOKEN_BUCKETS_S: Final = (
    0.0005,
    0.001,
    0.002,
    0.004,
    0.006,
    0.008,
    0.01,
    0.0125,
    0.015,
    0.02,
    0.025,
    0.033,
    0.05,
    0.1,
)
"""Bucket bounds of time per output token: 0.5 ms (a simulator's 2,000 tokens/s) to 100 ms (10 tokens/s)."""
_TRACE_ID_MASK: Final = (1 << 64) - 1
_TRACE_ID_SPACE: Final = 1 << 64
"""Sampling reads the trace id's lower 64 bits, as the OTel SDK's ``TraceIdRatioBased`` sampler does."""
_ANALYSED_REMEMBERED: Final = 10_000
"""Trace ids kept after their analysis, so a span ending later is counted as late, not as a new trace."""


class AnatomyInstruments:
    """The fleet view's instruments, made once on a meter; ``record(analysis)`` records one trace."""

    def __init__(self, meter: Meter) -> None:
        def histogram(name: str, description: str) -> Histogram:
            return meter.create_histogram(
                name, unit="s", description=description, explicit_bucket_boundaries_advisory=list(BUCKETS_S)
            )

        self.trace_duration = histogram(semconv.METRIC_ANATOMY_TRACE_DURATION, "Wall time of each finished trace")
        self.phase_duration = histogram(
            semconv.METRIC_ANATOMY_PHASE_DURATION,
            "Each trace's time in each phase it spent time in; a trace's phases add up to its duration",
        )
        self.first_token = histogram(
            semconv.METRIC_ANATOMY_TIME_TO_FIRST_TOKEN, "Time to first token of each streamed LLM call"
        )
        self.first_text = histogram(
            semconv.METRIC_ANATOMY_TIME_TO_FIRST_TEXT, "Time to the first visible text of each streamed LLM call"
        )
        self.per_token = meter.create_histogram(
            semconv.METRIC_ANATOMY_TIME_PER_OUTPUT_TOKEN,
            unit="s",
            description="Time per output token of each streamed LLM call, after its first (its output speed)",
            explicit_bucket_boundaries_advisory=list(PER_TOKEN_BUCKETS_S),
        )
        self.critical_path = histogram(
            semconv.METRIC_ANATOMY_CRITICAL_PATH, "Each trace's critical-path time per phase of the span on it"
        )
        self.saving = histogram(
            semconv.METRIC_ANATOMY_SAVING_AVAILABLE, "Time each trace's what-ifs would save, per kind"
        )
        self.lever_saved = histogram(semconv.METRIC_ANATOMY_LEVER_SAVED, "Time each lever saved in each trace")
        self.dropped = meter.create_counter(
            semconv.METRIC_ANATOMY_TRACES_DROPPED,
            unit="{trace}",
            description="Traces (or their spans) the anatomy processor did not analyse, by reason",
        )

    def record(self, analysis: TraceAnalysis, context: Context | None = None) -> None:
        """One trace's figures; ``context`` (the trace's root) lets the SDK keep exemplars."""
        agent = analysis.agent_span
        base: dict[str, AttributeValue] = {}
        if agent is not None and agent.attributes.get(semconv.GEN_AI_AGENT_NAME):
            base[semconv.GEN_AI_AGENT_NAME] = str(agent.attributes[semconv.GEN_AI_AGENT_NAME])
        self.trace_duration.record(analysis.wall_ns / 1e9, base, context)
        for phase in PHASES:  # the phases it spent time in (a phase's zeros follow from the trace count)
            if analysis.phases[phase]:
                self.phase_duration.record(
                    analysis.phases[phase] / 1e9, {**base, semconv.ANATOMY_PHASE: phase}, context
                )
        for call in analysis.llm_calls:
            if call.ttft_ns is None or call.route_outcome == semconv.ROUTE_OUTCOME_LOST:
                continue
            labels = {**base, semconv.GEN_AI_REQUEST_MODEL: call.model or "unknown"}
            if call.step:
                labels[semconv.ANATOMY_ROUTE_STEP] = call.step
            self.first_token.record(call.ttft_ns / 1e9, labels, context)
            if call.first_text_ns is not None:
                self.first_text.record(call.first_text_ns / 1e9, labels, context)
            if call.tokens_per_second:
                self.per_token.record(1 / call.tokens_per_second, labels, context)
        phase_of = analysis.span_phases()
        on_path: dict[str, int] = collections.Counter()
        for segment in analysis.critical_path:
            if segment.own:
                on_path[phase_of.get(segment.span_id, PHASE_GAP) if segment.span_id else PHASE_GAP] += (
                    segment.duration_ns
                )
        for phase, ns in on_path.items():
            self.critical_path.record(ns / 1e9, {**base, semconv.ANATOMY_PHASE: phase}, context)
        savings: dict[str, int] = collections.Counter()
        for suggestion in analysis.suggestions:
            savings[suggestion.kind] += suggestion.saving_ns
        for kind, ns in savings.items():
            self.saving.record(ns / 1e9, {**base, semconv.ANATOMY_WHATIF_KIND: kind}, context)
        for lever, ns in (
            (semconv.LEVER_PARALLEL, analysis.parallel_saved_ns),
            (semconv.LEVER_CACHE, analysis.cache_saved_ns),
        ):
            if ns:
                self.lever_saved.record(ns / 1e9, {**base, semconv.ANATOMY_LEVER: lever}, context)


@dataclass
class _Pending:
    spans: list[ReadableSpan] = field(default_factory=list)
    root: SpanContext | None = None
    overflow: bool = False


class AnatomyMetricsProcessor(SpanProcessor):
    """Records each finished trace's anatomy as metrics on ``meter_provider`` (default: the global one).

    ``grace_s``: how long after a trace's local root ends its stragglers may still join it.
    ``max_traces``: traces held in flight at most (the oldest is dropped). ``max_spans``: spans of one
    trace at most (the trace is analysed with those it has, and the drop is counted). ``sample_ratio``:
    the share of traces analysed, chosen by trace id as ``TraceIdRatioBased`` does (so every process
    picks the same traces); the others cost one comparison per span. The histograms then describe a
    uniform sample: their percentiles hold, their counts are the sample's.
    """

    def __init__(
        self,
        meter_provider: MeterProvider | None = None,
        *,
        grace_s: float = 1.0,
        max_traces: int = 1000,
        max_spans: int = 2000,
        sample_ratio: float = 1.0,
    ) -> None:
        self.check_options(grace_s=grace_s, max_traces=max_traces, max_spans=max_spans, sample_ratio=sample_ratio)
        self.sample_ratio = sample_ratio
        self._sample_below = round(sample_ratio * _TRACE_ID_SPACE)
        provider = meter_provider or metrics.get_meter_provider()
        self.instruments = AnatomyInstruments(provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__))
        self.grace_s = grace_s
        self.max_traces = max_traces
        self.max_spans = max_spans
        self._lock = threading.Condition()
        self._pending: collections.OrderedDict[int, _Pending] = collections.OrderedDict()
        self._due: collections.deque[tuple[float, int]] = collections.deque()
        self._analysed: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._busy = 0
        self._stopped = False
        self._warned = False
        self._thread: threading.Thread | None = None

    @staticmethod
    def check_options(
        *, grace_s: float = 1.0, max_traces: int = 1000, max_spans: int = 2000, sample_ratio: float = 1.0
    ) -> None:
        """ValueError unless the options make a processor (``TypeError`` for an option it does not take)."""
        if grace_s < 0 or max_traces < 1 or max_spans < 1 or not 0 < sample_ratio <= 1:
            raise ValueError(
                f"grace_s={grace_s!r}, max_traces={max_traces!r}, max_spans={max_spans!r}, "
                f"sample_ratio={sample_ratio!r}: a grace of 0 s or more, room for at least one trace and span, "
                "and a ratio above 0 and at most 1 are needed"
            )

    # --- SpanProcessor: on the application's threads, never waiting for an analysis --------------------

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or self._stopped:
            return
        trace_id = context.trace_id
        if trace_id & _TRACE_ID_MASK >= self._sample_below:  # not in the sample: nothing held
            return
        dropped: str | None = None
        with self._lock:
            if trace_id in self._analysed:
                dropped = semconv.DROP_LATE
            else:
                pending = self._pending.get(trace_id)
                if pending is None:
                    if len(self._pending) >= self.max_traces:
                        self._drop_oldest()
                    pending = self._pending[trace_id] = _Pending()
                if len(pending.spans) < self.max_spans:
                    pending.spans.append(span)
                elif not pending.overflow:
                    pending.overflow = True
                    dropped = semconv.DROP_SPANS_PER_TRACE
                parent = span.parent
                if (parent is None or parent.is_remote) and pending.root is None:
                    pending.root = context
                    self._due.append((time.monotonic() + self.grace_s, trace_id))
                    self._start_worker()
                    self._lock.notify()
        if dropped is not None:
            self.instruments.dropped.add(1, {semconv.ANATOMY_DROP_REASON: dropped})

    def _drop_oldest(self) -> None:
        """Make room: the trace that has waited longest for its root goes (one already due is kept)."""
        for trace_id, pending in self._pending.items():
            if pending.root is None:
                del self._pending[trace_id]
                break
        else:
            self._pending.popitem(last=False)
        self.instruments.dropped.add(1, {semconv.ANATOMY_DROP_REASON: semconv.DROP_TRACES_IN_FLIGHT})

    def _start_worker(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="agent-anatomy-metrics", daemon=True)
            self._thread.start()

    # --- the worker ----------------------------------------------------------------------------------------

    def _next(self) -> tuple[int, _Pending] | None:
        """The next trace whose grace has passed, waiting for one; None once stopped with nothing due."""
        with self._lock:
            while True:
                wait: float | None = None
                if self._due:
                    due, trace_id = self._due[0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        self._due.popleft()
                        pending = self._pending.pop(trace_id, None)
                        if pending is None:  # dropped meanwhile to make room
                            continue
                        self._analysed[trace_id] = None
                        if len(self._analysed) > _ANALYSED_REMEMBERED:
                            self._analysed.popitem(last=False)
                        self._busy += 1
                        return trace_id, pending
                elif self._stopped:
                    return None
                self._lock.wait(wait)

    def _work(self) -> None:
        while (item := self._next()) is not None:
            trace_id, pending = item
            try:
                self._analyse(pending)
            except Exception:
                self.instruments.dropped.add(1, {semconv.ANATOMY_DROP_REASON: semconv.DROP_FAILED})
                if not self._warned:
                    self._warned = True
                    _logger.warning("agent-anatomy: could not analyse trace %032x for metrics", trace_id, exc_info=True)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._lock.notify_all()

    def _analyse(self, pending: _Pending) -> None:
        for tree in group_traces(records_from_readable(pending.spans)).values():
            analysis = analyse_trace(tree)
            analysis = judged(analysis, model_speeds([analysis]))
            root = pending.root
            context = None
            if root is not None:  # the exemplar's trace: the root, as a sampled span of this trace
                sampled = SpanContext(root.trace_id, root.span_id, False, TraceFlags(TraceFlags.SAMPLED))
                context = set_span_in_context(NonRecordingSpan(sampled))
            self.instruments.record(analysis, context)

    # --- flush and shutdown --------------------------------------------------------------------------------

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Analyse every trace whose root has ended now, not after its grace; True when done in time."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._lock:
            self._due = collections.deque((float("-inf"), trace_id) for _, trace_id in self._due)
            self._lock.notify_all()
            while self._due or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def shutdown(self) -> None:
        self.force_flush(5000)
        with self._lock:
            self._stopped = True
            self._lock.notify_all()

    # --- for tests and the curious ---------------------------------------------------------------------------

    @property
    def traces_in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def pending_traces(self) -> Sequence[int]:
        with self._lock:
            return list(self._pending)
