"""Cost of the anatomy metrics processor per trace, against the cost of creating that trace's spans.

The trace is the seed article's agent (an agent span, three LLM calls, two tool batches: 10 spans, made
with the OTel SDK tracer and the attributes agent-anatomy writes). Baseline: creating and ending those
10 spans with the processor absent. Figure: what the processor adds, on the application's thread
(``on_end``) and on its own thread (the analysis and the metrics), per trace, in the same run.
Target from the issue: under 10 % of the spans' cost. Every trace analysed, and a uniform sample of 5 % and
1 % (``sample_ratio``), as a fleet at scale would run it. Memory per trace in flight is measured too.

The processor runs as in a long-lived replica: one processor per setting across the rounds, warmed by a
round that is not counted (its worker started, its histograms' label sets made: one-off costs per
process, not per trace). Each round makes enough traces that its sample holds at least
``MIN_ANALYSED`` of them, and the trace ids are spread evenly over the sampling space, so a round
analyses its setting's share exactly (random ids do so only on average).

    python benchmarks/bench_fleet.py [--rounds 7] [--traces 300]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import math
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from _results import Results, add_json_option
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' trace builders

from tests.anatomy._build import seed_trace
from tests.anatomy.test_metrics import replay

from agent_anatomy.anatomy import AnatomyMetricsProcessor

MIN_ANALYSED = 30
"""Traces each round's sample analyses at least: with 300 traces a 1 % sample analysed 3."""


class SpreadIds(IdGenerator):
    """Trace ids whose lower 64 bits (what sampling reads) step by the golden ratio: evenly spread."""

    _STEP = 0x9E3779B97F4A7C15

    def __init__(self) -> None:
        self._count = itertools.count(1)
        self._spans = RandomIdGenerator()

    def generate_span_id(self) -> int:
        return self._spans.generate_span_id()

    def generate_trace_id(self) -> int:
        n = next(self._count)
        return (n << 64) | (n * self._STEP & (1 << 64) - 1)


def per_trace_us(provider: TracerProvider, traces: int) -> float:
    tracer = provider.get_tracer("bench")
    trees = [seed_trace(trace=f"{n + 1:032x}") for n in range(traces)]
    gc.collect()
    started = time.process_time()
    for tree in trees:
        replay(tracer, tree)
    return (time.process_time() - started) / traces * 1e6


def measure(rounds: int, traces: int, ratio: float) -> tuple[float, float, float]:
    """Per trace: the spans alone; what the processor adds on the application's thread; and in all."""
    traces = max(traces, math.ceil(MIN_ANALYSED / ratio))
    provider = TracerProvider(id_generator=SpreadIds())
    processor = AnatomyMetricsProcessor(
        MeterProvider(metric_readers=[InMemoryMetricReader()]), grace_s=3600, sample_ratio=ratio
    )
    provider.add_span_processor(processor)
    bare, on_thread, in_all = [], [], []
    for round_ in range(rounds + 1):
        spans = per_trace_us(TracerProvider(id_generator=SpreadIds()), traces)
        processed = per_trace_us(provider, traces)  # spans end, traces wait: on_end's cost
        started = time.process_time()
        processor.force_flush(600_000)  # the worker analyses them all now (process time counts its thread)
        flushed = (time.process_time() - started) / traces * 1e6
        if round_:  # the first round warms the processor up
            bare.append(spans)
            on_thread.append(processed)
            in_all.append(processed + flushed)
    processor.shutdown()
    spans = statistics.median(bare)
    return spans, statistics.median(on_thread) - spans, statistics.median(in_all) - spans


def held_per_trace(traces: int) -> float:
    """Bytes a trace in flight holds (its ended spans, kept until its root ends)."""
    tracemalloc.start()
    provider = TracerProvider()
    processor = AnatomyMetricsProcessor(MeterProvider(metric_readers=[InMemoryMetricReader()]), grace_s=3600)
    provider.add_span_processor(processor)
    before = tracemalloc.get_traced_memory()[0]
    per_trace_us(provider, traces)
    held = (tracemalloc.get_traced_memory()[0] - before) / traces
    tracemalloc.stop()
    processor.shutdown()
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--traces", type=int, default=300)
    add_json_option(parser)
    options = parser.parse_args()
    results = Results()
    section = "anatomy metrics processor (seed trace, 10 spans)"
    for ratio in (1.0, 0.05, 0.01):
        spans, app, total = measure(options.rounds, options.traces, ratio)
        which = "every trace" if ratio == 1 else f"sample_ratio={ratio:g}"
        print(f"{which}: creating the seed trace's 10 spans: {spans:,.0f} µs per trace")
        print(f"  processor on the application's thread (on_end): +{app:,.1f} µs ({app / spans:.1%})")
        print(
            f"  processor in all (on_end, analysis, metrics):   +{total:,.0f} µs ({total / spans:.0%}; target < 10 %)"
        )
        baseline = f"creating the trace's spans {spans:,.0f} µs"
        results.add(section, f"{which}: application thread", app, "µs/trace", baseline=baseline, ratio=app / spans)
        results.add(
            section,
            f"{which}: in all",
            total,
            "µs/trace",
            baseline=baseline,
            ratio=total / spans,
            target="< 10 %",
            ok=total < spans / 10,
        )
    held = held_per_trace(options.traces)
    print(f"memory per trace in flight (its 10 ended spans held): {held / 1024:,.1f} KiB")
    results.add(section, "memory per trace in flight", held / 1024, "KiB")
    results.write(options.json)


if __name__ == "__main__":
    main()
