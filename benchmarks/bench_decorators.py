"""Overhead of a decorated no-op tool against one bare ``tracer.start_as_current_span``.

Both run on the same TracerProvider (the in-process recorder as the only processor, as after
``configure(exporter="none")``), in interleaved rounds; the medians and their ratio are printed.
Target (issue: Foundation): ratio <= 1.5.

    python benchmarks/bench_decorators.py [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit

from _results import Results, add_json_option, half_iqr
from opentelemetry.sdk.trace import TracerProvider

import agent_anatomy as aa
from agent_anatomy import semconv


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows under the suite
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    add_json_option(parser)
    options = parser.parse_args()

    provider = TracerProvider()
    aa.configure(exporter="none", tracer_provider=provider, metrics=False, recorder=aa.SpanRecorder(max_traces=10))
    tracer = provider.get_tracer("bench")
    attributes = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_EXECUTE_TOOL,
        semconv.GEN_AI_TOOL_NAME: "noop",
        semconv.GEN_AI_TOOL_TYPE: "function",
    }

    def bare() -> None:
        with tracer.start_as_current_span("execute_tool noop", attributes=attributes):
            pass

    @aa.tool
    def noop() -> None:
        return None

    candidates = {"bare span": bare, "@tool no-op": noop}
    samples: dict[str, list[float]] = {label: [] for label in candidates}
    for fn in candidates.values():  # warm up
        timeit.timeit(fn, number=1_000)
    for _ in range(options.rounds):
        for label, fn in candidates.items():
            samples[label].append(timeit.timeit(fn, number=options.calls) / options.calls * 1e6)

    for label, values in samples.items():
        print(
            f"{label:>14}: median {statistics.median(values):6.2f} µs  (min {min(values):.2f}, max {max(values):.2f})"
        )
    ratio = statistics.median(samples["@tool no-op"]) / statistics.median(samples["bare span"])
    print(f"{'ratio':>14}: {ratio:.2f}x  (target <= 1.50x)")
    results = Results()
    results.add(
        "decorators",
        "@tool on a no-op function",
        statistics.median(samples["@tool no-op"]),
        "µs/call",
        baseline=f"bare OTel span {statistics.median(samples['bare span']):.1f} µs",
        ratio=ratio,
        spread=half_iqr(samples["@tool no-op"]),
        target="<= 1.5x",
        ok=ratio <= 1.5,
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
