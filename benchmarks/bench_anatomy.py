"""Speed of the latency anatomy, against reading the same spans from a file in the same run.

- One 10,000-span trace (an agent of 1,700 turns: an LLM call, then a batch of tools, some with a
  cache lookup, some sequential and some parallel): analysis target < 1 s.
- 1,000 traces of ~30 spans each (a five-turn agent): analysis target < 5 s.

Each case writes its spans as OTLP JSON Lines (what ``configure(exporter="jsonl:PATH")`` writes), then
times reading them back (the baseline) and the analysis (critical path, phases, batches, what-ifs,
aggregates) separately; the ratio is analysis / reading. Medians of ``--rounds`` runs.

    python benchmarks/bench_anatomy.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _results import Results, add_json_option, verdict

from agent_anatomy import semconv
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.sources import records_from_file

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
TOOLS = ["get_user_profile", "get_transaction_history", "get_product_catalog", "search_docs", "lookup_order"]
MODELS = ["claude-sonnet-4-6", "claude-haiku-4-5"]
SCALE_RATIO_TARGET = 3.0
"""A report on the 5,000-trace file at most this many times parsing the file with json, in the same run."""
SCALE_MB_TARGET = 400
"""and at most this much memory, all its processes together"""
MEMORY_GROWTH_TARGET = 1.5
"""Peak memory of the 5,000-trace report over the 500-trace one: flat in the number of traces."""


class TraceWriter:
    """Builds one agent trace as OTLP JSON spans, turn by turn."""

    def __init__(self, trace_index: int, rng: random.Random) -> None:
        self.trace_id = f"{trace_index + 1:032x}"
        self.rng = rng
        self.spans: list[dict[str, Any]] = []
        self._next_id = 0
        self.root = self._new_id()
        self.now = T0 + trace_index * 60_000 * MS

    def _new_id(self) -> str:
        self._next_id += 1
        return f"{self._next_id:016x}"

    def span(self, name: str, start: int, end: int, parent: str | None, attributes: dict[str, Any]) -> str:
        span_id = self.root if parent is None else self._new_id()
        self.spans.append(
            {
                "traceId": self.trace_id,
                "spanId": span_id,
                "parentSpanId": parent or "",
                "name": name,
                "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(end),
                "attributes": [_attribute(key, value) for key, value in attributes.items()],
            }
        )
        return span_id

    def turn(self) -> None:
        """One LLM call, then one batch of 1-5 tools (parallel or sequential, some through the cache)."""
        rng = self.rng
        model = rng.choice(MODELS)
        stream = rng.random() < 0.5
        duration = rng.randint(400, 2_000) * MS
        llm_attributes: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.GEN_AI_REQUEST_MODEL: model,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: rng.randint(20, 400),
            semconv.GEN_AI_REQUEST_STREAM: stream,
        }
        if stream:
            llm_attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = duration / 3 / 1e9
        self.span(f"chat {model}", self.now, self.now + duration, self.root, llm_attributes)
        self.now += duration
        count = rng.randint(1, 5)
        parallel = rng.random() < 0.5
        durations = [rng.randint(50, 800) * MS for _ in range(count)]
        batch_end = self.now + (max(durations) if parallel else sum(durations))
        batch = self.span("tool_batch", self.now, batch_end, self.root, {semconv.GEN_AI_OPERATION_NAME: "tool_batch"})
        start = self.now
        for tool_duration in durations:
            tool = rng.choice(TOOLS)
            tool_attributes = {
                semconv.GEN_AI_OPERATION_NAME: "execute_tool",
                semconv.GEN_AI_TOOL_NAME: tool,
                semconv.ANATOMY_TOOL_INPUT_HASH: f"{rng.randint(0, 20):08x}",
            }
            tool_span = self.span(f"execute_tool {tool}", start, start + tool_duration, batch, tool_attributes)
            if rng.random() < 0.3:
                lookup_end = start + rng.randint(1, 5) * MS
                self.span("cache_lookup", start, lookup_end, tool_span, {semconv.GEN_AI_OPERATION_NAME: "cache_lookup"})
            if not parallel:
                start += tool_duration
        self.now = batch_end

    def finish(self, start: int) -> list[dict[str, Any]]:
        self.span("invoke_agent support", start, self.now, None, {semconv.GEN_AI_OPERATION_NAME: "invoke_agent"})
        return self.spans


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def agent_traces(count: int, turns: int, seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(seed)
    for index in range(count):
        writer = TraceWriter(index, rng)
        start = writer.now
        for _ in range(turns):
            writer.turn()
        yield writer.finish(start)


def write_jsonl(path: Path, traces: Iterator[list[dict[str, Any]]]) -> int:
    """One OTLP ``ExportTraceServiceRequest`` per trace, one per line; returns the span count."""
    total = 0
    with path.open("w") as out:
        for spans in traces:
            total += len(spans)
            request = {
                "resourceSpans": [
                    {
                        "resource": {"attributes": [_attribute("service.name", "bench-agent")]},
                        "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}],
                    }
                ]
            }
            out.write(json.dumps(request) + "\n")
    return total


def write_exporter_jsonl(path: Path, traces: Iterator[list[dict[str, Any]]]) -> int:
    """One span per line, each with its resource and scope: the shape of ``configure(exporter="jsonl:...")``."""
    resource = {
        "attributes": [
            _attribute("telemetry.sdk.language", "python"),
            _attribute("telemetry.sdk.name", "opentelemetry"),
            _attribute("telemetry.sdk.version", "1.45.2"),
            _attribute("service.instance.id", "1b271892-2625-4309-aded-c0c319664079"),
            _attribute("service.name", "bench-agent"),
        ]
    }
    total = 0
    with path.open("w") as out:
        for spans in traces:
            for span in spans:
                total += 1
                document = {
                    "resourceSpans": [
                        {
                            "resource": resource,
                            "scopeSpans": [{"scope": {"name": "agent_anatomy", "version": "0.1"}, "spans": [span]}],
                        }
                    ]
                }
                out.write(json.dumps(document, separators=(",", ":")) + "\n")
    return total


_LAUNCHER = """
import os, subprocess, sys, threading, time

def tree_rss_kib(root):
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    parents[int(name)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    pids, todo = set(), [root]
    while todo:
        pid = todo.pop()
        pids.add(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid and child not in pids)
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total

child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)
peak = [0]
def sample():
    while child.poll() is None:
        peak[0] = max(peak[0], tree_rss_kib(child.pid))
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
out = child.communicate()[0]
assert child.returncode == 0, child.returncode
print(out.strip(), peak[0])
"""
"""Runs the measured child from a small process that samples the resident memory of the child and all its
processes together (the report's workers too) every 20 ms; the peak of that sum is the figure. The launcher
is small, so that a child forked from this big benchmark does not count its memory."""

_SCALE_CHILD = """
import contextlib, os, sys, time
started = time.perf_counter()
if sys.argv[2] == "parse":
    import json
    with open(sys.argv[1], "rb") as file:
        for line in file:
            json.loads(line)
else:  # what a user runs: agent-anatomy report FILE (text), or with --format json
    from agent_anatomy.cli import main
    extra = ["--format", "json", "--output", os.devnull] if sys.argv[2] == "json" else []
    with open(os.devnull, "w") as out, contextlib.redirect_stdout(out):
        assert main(["report", sys.argv[1], *extra]) == 0
print(time.perf_counter() - started)
"""


def scale_case(results: Results, path: Path, traces: int) -> tuple[float, float]:
    """Wall time and peak memory of ``agent-anatomy report`` on ``path`` (text, and JSON), each in a fresh
    process, beside merely parsing it; the target is on the text report, the command's default."""
    measured = {}
    for what in ("parse", "report", "json"):
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, sys.executable, "-c", _SCALE_CHILD, str(path), what],
            capture_output=True,
            text=True,
            check=True,
        )
        wall, peak_kib = done.stdout.split()
        measured[what] = (float(wall), int(peak_kib) / 1024)
    (parse_s, parse_mb), (report_s, report_mb), (json_s, json_mb) = (
        measured["parse"],
        measured["report"],
        measured["json"],
    )
    size_mb = path.stat().st_size / 1e6
    ratio = report_s / parse_s
    large = traces >= 5_000
    ok = ratio <= SCALE_RATIO_TARGET and report_mb <= SCALE_MB_TARGET
    print(
        f"{traces:>6,} traces ({size_mb:,.0f} MB)  report {report_s:6.1f} s, peak {report_mb:6.0f} MB (all processes)"
        f"  parsing alone {parse_s:5.1f} s, {parse_mb:4.0f} MB  ratio {ratio:4.1f}x"
        + (f"  (target <= {SCALE_RATIO_TARGET:g}x and <= {SCALE_MB_TARGET} MB: {verdict(ok)})" if large else "")
        + f"; as JSON {json_s:6.1f} s ({json_s / parse_s:4.1f}x), peak {json_mb:6.0f} MB"
    )
    results.add(
        "anatomy at scale",
        f"{traces:,} traces x 32 spans ({size_mb:,.0f} MB): agent-anatomy report",
        report_s * 1000,
        "ms",
        baseline=f"parsing the file with json {parse_s * 1000:.0f} ms",
        ratio=ratio,
        target=f"<= {SCALE_RATIO_TARGET:g}x parsing and <= {SCALE_MB_TARGET} MB (all processes)" if large else "",
        ok=ok if large else None,
        note=f"peak {report_mb:.0f} MB, all processes together",
    )
    results.add(
        "anatomy at scale",
        f"{traces:,} traces x 32 spans: report --format json",
        json_s * 1000,
        "ms",
        baseline=f"parsing the file with json {parse_s * 1000:.0f} ms",
        ratio=json_s / parse_s,
        note=f"peak {json_mb:.0f} MB, all processes together",
    )
    return report_s, report_mb


def median_s(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run_case(results: Results, label: str, path: Path, traces: int, target_s: float, rounds: int) -> None:
    records = records_from_file(path)
    read_s = median_s(lambda: records_from_file(path), rounds)

    def analyse() -> None:
        anatomy = Anatomy.from_records(records)
        assert len(anatomy) == traces
        anatomy.phase_stats()
        anatomy.common_path()
        anatomy.aggregate_suggestions()

    analyse_s = median_s(analyse, rounds)
    met = verdict(analyse_s < target_s)
    print(
        f"{label:<12} {len(records):>7,} spans  read {read_s * 1000:8.1f} ms  "
        f"analyse {analyse_s * 1000:8.1f} ms  ratio {analyse_s / read_s:5.2f}x  "
        f"(target < {target_s:g} s: {met})"
    )
    results.add(
        "anatomy analysis",
        f"{label} ({len(records):,} spans)",
        analyse_s * 1000,
        "ms",
        baseline=f"reading the file {read_s * 1000:.0f} ms",
        ratio=analyse_s / read_s,
        target=f"< {target_s:g} s",
        ok=analyse_s < target_s,
    )


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows under the suite
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", action="store_true", help="also 500 and 5,000 traces of 32 spans (a 200 MB file)")
    add_json_option(parser)
    args = parser.parse_args()
    results = Results()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.jsonl"
        write_jsonl(big, agent_traces(1, turns=1_700))
        print(f"medians of {args.rounds} rounds")
        run_case(results, "1 trace", big, 1, 1.0, args.rounds)
        many = Path(tmp) / "many.jsonl"
        write_jsonl(many, agent_traces(1_000, turns=5))
        run_case(results, "1,000 traces", many, 1_000, 5.0, args.rounds)
        if args.scale:
            peaks = {}
            for count in (500, 5_000):
                path = Path(tmp) / f"scale-{count}.jsonl"
                write_exporter_jsonl(path, agent_traces(count, turns=5, seed=count))
                peaks[count] = scale_case(results, path, count)[1]
            growth = peaks[5_000] / peaks[500]
            ok = growth <= MEMORY_GROWTH_TARGET
            print(f"peak memory 5,000 / 500 traces: {growth:.2f}x (target <= {MEMORY_GROWTH_TARGET:g}x: {verdict(ok)})")
            results.add(
                "anatomy at scale",
                "peak memory, 5,000 traces against 500",
                growth,
                "x",
                baseline=f"500 traces {peaks[500]:.0f} MB",
                ratio=growth,
                target=f"<= {MEMORY_GROWTH_TARGET:g}x",
                ok=ok,
            )
    results.write(args.json)


if __name__ == "__main__":
    main()
