"""One instrumentation peer in a process of its own, timing Anthropic calls on command from bench_peers.py.

Started as ``python _peer_worker.py PEER BASE_URL`` (in the peer's own virtualenv where it needs one), it
sets up a TracerProvider with a span-counting processor (the same for every peer), prints one JSON line
saying it is ready, then answers each command line ``{"transport", "workload", "calls", "warmup",
"pairs"}`` by timing ``pairs`` pairs of small batches, one of uninstrumented calls and one with the
peer's instrumentation on, in this same process (so the comparison is free of the differences between
processes: hash seeds, memory layout). It replies ``{"bare_us", "overhead_us", "spans", "ttft"}``: the
median CPU time per bare call and the median per-pair difference (CPU time is what instrumentation
costs the caller's thread, free of the scheduling noise of a shared machine), the spans ended per
instrumented call, and the names of any time-to-first-token attribute or event recorded.
"""

from __future__ import annotations

import gc
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

from _anthropic_workloads import TRANSPORTS, client, floor_span, workloads
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

TTFT_NAME = re.compile(r"first_?(token|chunk)|ttft", re.IGNORECASE)


class Counter(SpanProcessor):
    """Counts ended spans and notes any attribute or event that records the time to the first token."""

    def __init__(self) -> None:
        self.ended = 0
        self.ttft: set[str] = set()

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1
        for key in span.attributes or {}:
            if TTFT_NAME.search(key):
                self.ttft.add(key)
        for event in span.events:
            if TTFT_NAME.search(event.name):
                self.ttft.add(f"event {event.name}")


NO_WIRE = "agent-anatomy-no-wire"
"""agent-anatomy on a client whose own tracing is off: no trace context on the wire, like the peers alone."""
THIRD_PARTY = ("openllmetry", "openinference", "otel-genai")
"""The peers that are another project's instrumentor, each in a virtualenv of its own."""


class Peer:
    """Switches one peer's instrumentation on and off; ``sdk_tracing`` says which client the 'on' side uses."""

    def __init__(self, name: str, provider: TracerProvider) -> None:
        base, _, plus = name.partition("+")
        self.on: Callable[[], None] = lambda: None
        self.off: Callable[[], None] = lambda: None
        self.sdk_tracing = plus == "sdk" or base == "sdk-builtin"
        self.version = metadata.version("anthropic")
        if base in ("agent-anatomy", NO_WIRE):
            import agent_anatomy as aa

            aa.configure(exporter="none", metrics=False, recorder=False, instrument=False, tracer_provider=provider)
            self.on, self.off = aa.instrument_anthropic, aa.uninstrument_anthropic
            # agent-anatomy hands the SDK's tracing over to its own span, and leaves it on so the trace context
            # still goes out; NO_WIRE is a client with it off, which sends none, as the peers alone do
            self.sdk_tracing = base == "agent-anatomy"
            self.version = metadata.version("agent-anatomy")
        elif base in THIRD_PARTY:
            if base == "openllmetry":
                from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

                instrumentor: Any = AnthropicInstrumentor()
                self.version = metadata.version("opentelemetry-instrumentation-anthropic")
            elif base == "otel-genai":
                from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor as OtelGenAI

                instrumentor = OtelGenAI()
                self.version = metadata.version("opentelemetry-instrumentation-genai-anthropic")
            else:
                from openinference.instrumentation.anthropic import AnthropicInstrumentor as OpenInference

                instrumentor = OpenInference()
                self.version = metadata.version("openinference-instrumentation-anthropic")
            self.on = lambda: instrumentor.instrument(tracer_provider=provider)
            self.off = instrumentor.uninstrument
        elif base not in ("sdk-builtin", "floor"):
            raise SystemExit(f"unknown peer {name!r}")


def main() -> None:
    name, base_url = sys.argv[1], sys.argv[2]
    provider = TracerProvider()
    counter = Counter()
    provider.add_span_processor(counter)
    trace.set_tracer_provider(provider)
    peer = Peer(name, provider)
    floor = provider.get_tracer("floor")
    bare: dict[tuple[str, str], Callable[[], None]] = {}
    instrumented: dict[tuple[str, str], Callable[[], None]] = {}
    for transport in TRANSPORTS:
        plain_calls = workloads(client(transport, base_url, sdk_tracing=False))
        on_calls = workloads(client(transport, base_url, sdk_tracing=True)) if peer.sdk_tracing else plain_calls
        for workload, call in plain_calls.items():
            bare[transport, workload] = call
            on = floor_span(floor, call, workload) if name == "floor" else on_calls[workload]
            instrumented[transport, workload] = on
    # Everything imported so far is long-lived: freezing it keeps the collector from re-scanning the SDKs'
    # modules, whose full collections otherwise land at random in one batch or the other.
    gc.collect()
    gc.freeze()
    print(json.dumps({"ready": name, "version": peer.version}), flush=True)

    def timed(call: Callable[[], None], calls: int, warmup: int) -> float:
        for _ in range(warmup):  # after each switch: re-wrapping a class costs the next calls a little
            call()
        gc.collect()  # every batch starts from the same heap; collections during it are the peer's own cost
        started = time.process_time()
        for _ in range(calls):
            call()
        return (time.process_time() - started) / calls * 1e6

    for line in sys.stdin:
        command: dict[str, Any] = json.loads(line)
        key, calls, warmup = (command["transport"], command["workload"]), command["calls"], command["warmup"]
        bare_us: list[float] = []
        on_us: list[float] = []
        counter.ended = 0
        counter.ttft.clear()
        for pair in range(command["pairs"]):
            # small batches, the two sides alternating which goes first: this machine's speed drifts by
            # 10-20 % over seconds, and only differences taken close together cancel it
            for side in ("bare", "on") if pair % 2 == 0 else ("on", "bare"):
                if side == "bare":
                    bare_us.append(timed(bare[key], calls, warmup))
                    continue
                peer.on()
                on_us.append(timed(instrumented[key], calls, warmup))
                peer.off()
        reply = {
            "bare_us": statistics.median(bare_us),
            "overhead_us": statistics.median(o - b for o, b in zip(on_us, bare_us, strict=True)),
            "spans": counter.ended / ((calls + warmup) * command["pairs"]),
            "ttft": sorted(counter.ttft),
        }
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
