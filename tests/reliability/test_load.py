"""A thousand agents at once: every span exported once, in the right trace under the right parent."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from collections.abc import Iterator

import anthropic
import httpx2
import pytest
from opentelemetry.sdk.trace import TracerProvider

import agent_anatomy as aa
from agent_anatomy.sim import SimProfile, SimServer
from tests._receivers import GrpcReceiver
from tests._support_tools import QUESTION, get_transaction_history, get_user_profile
from tests.reliability._spans import OpenSpans

RUNS = 1_000


@pytest.fixture
def receiver() -> Iterator[GrpcReceiver]:
    server = GrpcReceiver()
    yield server
    server.stop()


@pytest.mark.slow
async def test_a_thousand_concurrent_agents_export_every_span_with_its_parent(receiver: GrpcReceiver) -> None:
    provider = TracerProvider()
    tracked = OpenSpans()
    provider.add_span_processor(tracked)
    recorder = aa.SpanRecorder(max_traces=100, max_spans=5_000)
    handle = aa.configure(
        exporter="otlp",
        endpoint=receiver.endpoint,
        protocol="grpc",
        tracer_provider=provider,
        metrics=False,
        recorder=recorder,
        max_queue_size=50_000,
        max_export_batch_size=2_048,
    )
    with SimServer(SimProfile(seed=1).with_zero_latency()) as sim:
        # one shared client, its connection pool capped as a service would (a thousand sockets opened at
        # once overflow the listen backlog and time out in connect)
        http = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=100, max_keepalive_connections=100))
        async with anthropic.AsyncAnthropic(
            base_url=sim.base_url, api_key="k", max_retries=0, http_client=http
        ) as client:
            results = await asyncio.gather(
                *(
                    aa.run_agent(
                        client,
                        messages=QUESTION,
                        model="claude-haiku-4-5",
                        tools=[get_user_profile, get_transaction_history],
                        extra_headers={"x-sim-tokens": "5"},  # short answers: the load is in the spans
                    )
                    for _ in range(RUNS)
                )
            )
    assert all(r.stop_reason == "end_turn" for r in results)
    assert handle.force_flush(timeout_s=30)
    gc.collect()
    assert tracked.open == []

    created = {(s.context.trace_id, s.context.span_id) for s in tracked.ended}
    deadline = time.monotonic() + 10
    while len(receiver.received.spans) < len(created) and time.monotonic() < deadline:
        time.sleep(0.05)
    received = receiver.received.spans
    ids = [(int.from_bytes(t, "big"), int.from_bytes(s, "big")) for t, s, _, _ in received]
    assert len(ids) == len(set(ids)), "no span exported twice"
    assert set(ids) == created, f"created {len(created)} spans, the receiver got {len(set(ids))}"

    traces: dict[bytes, dict[bytes, tuple[bytes, str]]] = {}
    for trace_id, span_id, parent, name in received:
        traces.setdefault(trace_id, {})[span_id] = (parent, name)
    assert len(traces) == RUNS, "one trace per agent run"
    for spans in traces.values():
        roots = [name for parent, name in spans.values() if not parent]
        assert roots == ["invoke_agent agent"], roots
        for parent, name in spans.values():
            assert not parent or parent in spans, f"{name} has a parent outside its trace"
    shapes = Counter(tuple(sorted(name for _, name in spans.values())) for spans in traces.values())
    assert len(shapes) == 1, "every run of the same scenario has the same span tree"

    assert recorder.span_count <= 5_000 and len(recorder.trace_ids()) <= 100, "the recorder stays in its bounds"
    assert recorder.dropped_spans == 0 or len(created) > 5_000
    handle.shutdown()
