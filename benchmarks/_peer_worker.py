"""One instrumentation peer in a process of its own, timing Anthropic calls on command from bench_peers.py.

Started as ``python _peer_worker.py PEER BASE_URL`` (in the peer's own virtualenv where it needs one), it
sets up a TracerProvider with a span-counting processor (the same for every peer), installs the peer's
instrumentation, prints one JSON line saying it is ready, then answers each command line
``{"transport", "workload", "calls", "warmup"}`` with ``{"us", "spans", "ttft"}``: the mean wall time per
call, the spans ended per call, and the names of any time-to-first-token attribute or event it recorded.
"""

from __future__ import annotations

import json
import re
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


def _instrument(peer: str, provider: TracerProvider) -> tuple[bool, str]:
    """Install ``peer``'s instrumentation; returns whether the SDK's own tracing stays on, and the version."""
    base, _, plus = peer.partition("+")
    if base == "agent-anatomy":
        import agent_anatomy as aa

        aa.configure(exporter="none", metrics=False, recorder=False, tracer_provider=provider)
        return True, metadata.version("agent-anatomy")
    if base == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument(tracer_provider=provider)
        return plus == "sdk", metadata.version("opentelemetry-instrumentation-anthropic")
    if base == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor as OpenInference

        OpenInference().instrument(tracer_provider=provider)
        return plus == "sdk", metadata.version("openinference-instrumentation-anthropic")
    if base == "sdk-builtin":
        return True, metadata.version("anthropic")
    if base in ("bare", "floor"):
        return False, metadata.version("anthropic")
    raise SystemExit(f"unknown peer {peer!r}")


def main() -> None:
    peer, base_url = sys.argv[1], sys.argv[2]
    provider = TracerProvider()
    counter = Counter()
    provider.add_span_processor(counter)
    trace.set_tracer_provider(provider)
    sdk_tracing, version = _instrument(peer, provider)
    calls: dict[tuple[str, str], Callable[[], None]] = {}
    for transport in TRANSPORTS:
        for name, call in workloads(client(transport, base_url, sdk_tracing)).items():
            calls[transport, name] = floor_span(provider.get_tracer("floor"), call) if peer == "floor" else call
    print(json.dumps({"ready": peer, "version": version}), flush=True)
    for line in sys.stdin:
        command: dict[str, Any] = json.loads(line)
        call = calls[command["transport"], command["workload"]]
        for _ in range(command["warmup"]):
            call()
        counter.ended = 0
        counter.ttft.clear()
        started = time.perf_counter()
        for _ in range(command["calls"]):
            call()
        elapsed = time.perf_counter() - started
        reply = {"us": elapsed / command["calls"] * 1e6, "spans": counter.ended / command["calls"]}
        print(json.dumps(reply | {"ttft": sorted(counter.ttft)}), flush=True)


if __name__ == "__main__":
    main()
