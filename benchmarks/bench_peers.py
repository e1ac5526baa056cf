"""Per-call overhead of Anthropic instrumentation: agent-anatomy against its peers, measured in one run.

Each peer runs in a process of its own (``_peer_worker.py``), the third-party instrumentors in their own
virtualenvs (``make bench-venvs``), so none can interfere with another. Peers:

- every worker also times the bare call, uninstrumented with the SDK's own tracing off, in the same
  process right before or after (alternating) its instrumented batch: the baseline of its figure;
- ``floor``: the bare call inside one OTel SDK span carrying the same attributes as ours;
- ``agent-anatomy``: ``configure()`` (it hands the SDK's tracing over to its own span, and leaves it on so the
  trace context still goes out); ``agent-anatomy-no-wire``: the same on a client whose own tracing is off,
  which sends no trace context, as the third-party peers alone do;
- ``sdk-builtin``: the anthropic SDK's own tracing, on by default;
- ``openllmetry`` (opentelemetry-instrumentation-anthropic), ``openinference``
  (openinference-instrumentation-anthropic) and ``otel-genai`` (the OpenTelemetry project's own,
  opentelemetry-instrumentation-genai-anthropic), with the SDK's tracing off, and ``+sdk``: the same peer
  with the SDK's tracing left on, as users get it out of the box (two spans per call).

Workloads: ``messages.create``, ``create(stream=True)`` of 50 text deltas, the ``messages.stream()``
helper; over loopback HTTP to the zero-latency simulator and over an in-process ``httpx2.MockTransport``.
The coordinator sends each worker a batch of calls in turn, rotating the order every round, and reports
the median per-call overhead (CPU time in the worker) over its bare batch of the same round, with half
the interquartile range across rounds.

    python benchmarks/bench_peers.py [--rounds 5] [--scale 1.0] [--transport both|http|mock] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from _anthropic_workloads import TRANSPORTS, WORKLOADS
from _results import Results, add_json_option, half_iqr, verdict

from agent_anatomy.sim import SimProfile, SimServer

HERE = Path(__file__).resolve().parent
BENCH_VENVS = HERE.parent / ".venv-bench"
INSTRUMENTING = ("sdk-builtin", "openllmetry", "openinference", "otel-genai")
OUT_OF_THE_BOX = ("openllmetry+sdk", "openinference+sdk", "otel-genai+sdk")
PEERS = ("floor", "agent-anatomy", "agent-anatomy-no-wire", *INSTRUMENTING, *OUT_OF_THE_BOX)
WARMUP = 3
# calls per batch and pairs of batches per round, by workload: 2,000 calls a side for create and stream
# (1,000 for the slower helper, in smaller batches: its calls are long, so the machine drifts more
# within a batch) over 5 rounds on the mock transport, half that over HTTP
BATCHES = {"create": (20, 20), "stream": (20, 20), "helper": (5, 40)}


def python_for(peer: str) -> Path | None:
    """The interpreter a peer runs in: its own virtualenv for a third-party instrumentor, else this one."""
    base = peer.partition("+")[0]
    if base in ("openllmetry", "openinference", "otel-genai"):
        venv = BENCH_VENVS / base
        return venv / "bin" / "python" if (venv / ".installed").exists() else None
    return Path(sys.executable)


class Worker:
    """A peer's worker process, driven one JSON line at a time."""

    def __init__(self, peer: str, python: Path, base_url: str) -> None:
        self.peer = peer
        self.process = subprocess.Popen(
            [str(python), str(HERE / "_peer_worker.py"), peer, base_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )
        self.version = self._read()["version"]

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"peer {self.peer!r} exited with {self.process.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def run(self, transport: str, workload: str, calls: int, pairs: int) -> dict[str, Any]:
        assert self.process.stdin is not None
        command = {"transport": transport, "workload": workload, "calls": calls, "pairs": pairs, "warmup": WARMUP}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(30)


def measure(
    workers: dict[str, Worker], transport: str, workload: str, calls: int, pairs: int, rounds: int
) -> tuple[float, dict[str, Any]]:
    """Interleaved rounds of one workload: the median bare call, and per peer its per-round overheads over
    its own bare batches and what it recorded."""
    names = list(workers)
    overheads: dict[str, list[float]] = {name: [] for name in names}
    bare: list[float] = []
    last: dict[str, dict[str, Any]] = {}
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            last[name] = reply = workers[name].run(transport, workload, calls, pairs)
            overheads[name].append(reply["overhead_us"])
            bare.append(reply["bare_us"])
    measured = {
        name: {"overheads": overheads[name], "spans": last[name]["spans"], "ttft": last[name]["ttft"]} for name in names
    }
    return statistics.median(bare), measured


def report(results: Results, transport: str, workload: str, bare_us: float, measured: dict[str, Any]) -> None:
    median = {name: statistics.median(m["overheads"]) for name, m in measured.items()}
    ours = median["agent-anatomy"]
    present = [name for name in INSTRUMENTING if name in median]
    lightest = min(present, key=lambda name: median[name])
    floor = median["floor"]
    section = f"anthropic {transport} {workload}"
    print(f"\n== {transport} / {workload}: bare {bare_us:.1f} µs per call ==")
    print(f"{'peer':<20} {'+µs/call':>9} {'±':>6} {'ours/peer':>9} {'spans':>6}  ttft recorded")
    for name, m in measured.items():
        ratio = ours / median[name] if median[name] > 0 else float("nan")
        ttft = ", ".join(m["ttft"]) or "no"
        print(f"{name:<20} {median[name]:9.1f} {half_iqr(m['overheads']):6.1f} {ratio:9.2f} {m['spans']:6.1f}  {ttft}")
        results.add(
            section,
            name,
            median[name],
            "µs/call over bare",
            baseline=f"bare {bare_us:.0f} µs",
            ratio=None if name == "agent-anatomy" else ratio,
            spread=half_iqr(m["overheads"]),
            note=f"{m['spans']:g} spans/call; TTFT: {ttft}",
        )
    lowest = all(ours < median[name] for name in (*present, *(n for n in OUT_OF_THE_BOX if n in median)))
    within_floor = ours <= FLOOR_TARGET * max(floor, 1e-9)
    results.add(
        section,
        "targets",
        ours / median[lightest],
        f"x lightest peer ({lightest})",
        ratio=ours / floor if floor > 0 else None,
        target=f"lowest; <= {FLOOR_TARGET:g}x floor",
        ok=lowest and within_floor,
        note=f"lowest: {lowest}; ours/floor {ours / floor:.2f}",
    )
    print(
        f"targets: lowest {verdict(lowest)}; <= {FLOOR_TARGET:g}x floor ({ours / floor:.2f}x) {verdict(within_floor)}"
    )


FLOOR_TARGET = 2.0
"""Ours at most this many times the floor's overhead, on every path (and the lowest of all the peers)."""


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows under the suite
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the pairs of batches per round")
    parser.add_argument("--transport", choices=["both", *TRANSPORTS], default="both")
    add_json_option(parser)
    options = parser.parse_args()
    results = Results()
    missing = [peer for peer in PEERS if python_for(peer) is None]
    if missing:
        print(f"skipping {', '.join(missing)}: no {BENCH_VENVS}/<peer> virtualenv (run `make bench-venvs`)")
    with SimServer(SimProfile().with_zero_latency()) as sim:
        workers = {}
        try:
            for peer in PEERS:
                python = python_for(peer)
                if python is not None:
                    workers[peer] = Worker(peer, python, sim.base_url)
            results.extra["versions"] = {peer: worker.version for peer, worker in workers.items()}
            print("versions: " + ", ".join(f"{peer} {w.version}" for peer, w in workers.items()))
            for transport in TRANSPORTS:
                if options.transport in ("both", transport):
                    for workload in WORKLOADS:
                        calls, pairs = BATCHES[workload]
                        pairs = max(1, round(pairs * options.scale / (2 if transport == "http" else 1)))
                        bare_us, measured = measure(workers, transport, workload, calls, pairs, options.rounds)
                        report(results, transport, workload, bare_us, measured)
        finally:
            for worker in workers.values():
                worker.close()
    print(
        "\n'+µs/call': median over rounds of each round's median per-pair CPU-time difference; '±' is half "
        "the interquartile range across rounds; ours/peer < 1 means agent-anatomy costs less."
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
