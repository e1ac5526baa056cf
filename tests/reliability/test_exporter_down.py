"""A dead OTLP endpoint never slows the agent, never raises into it, and never stalls its shutdown."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator

import anthropic
import pytest
from opentelemetry.sdk.trace import TracerProvider

import agent_anatomy as aa
from agent_anatomy.sim import SimServer
from tests._receivers import SilentPort, closed_port

CALLS = 200
CONCURRENCY = 20
# Latency is injected and the calls are light (non-streaming, few tokens), so the machine's CPU is not
# what the figures measure: any slowdown would be the exporter's.
INJECTED = {"x-sim-ttft-ms": "200", "x-sim-generation-ms": "0", "x-sim-tokens": "5"}
PROMPT = [{"role": "user", "content": "Where is my refund?"}]


@pytest.fixture
def silent() -> Iterator[SilentPort]:
    port = SilentPort()
    yield port
    port.stop()


async def call_latencies(sim: SimServer) -> list[float]:
    """Per-call wall times of CALLS calls, CONCURRENCY at a time."""
    latencies: list[float] = []
    async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:

        async def one() -> None:
            started = time.perf_counter()
            await client.messages.create(
                model="claude-haiku-4-5", max_tokens=64, messages=PROMPT, extra_headers=INJECTED
            )
            latencies.append(time.perf_counter() - started)

        for _ in range(CALLS // CONCURRENCY):
            await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
    return latencies


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize("endpoint_kind", ["refused", "silent"])
async def test_a_dead_exporter_costs_the_agent_nothing(
    sim: SimServer, silent: SilentPort, protocol: str, endpoint_kind: str
) -> None:
    baseline_handle = aa.configure(exporter="none", tracer_provider=TracerProvider())
    baseline = statistics.median(await call_latencies(sim))
    baseline_handle.shutdown()

    endpoint = silent.endpoint if endpoint_kind == "silent" else f"http://127.0.0.1:{closed_port()}"
    handle = aa.configure(
        exporter="otlp",
        endpoint=endpoint,
        protocol=protocol,
        tracer_provider=TracerProvider(),
        shutdown_timeout_s=2.0,
        # small batches, so the exporter is at work (and failing) throughout the run
        max_export_batch_size=16,
    )
    latencies = await call_latencies(sim)  # no exception reaches the caller
    exporting = statistics.median(latencies)
    assert len(latencies) == CALLS
    # A stalled exporter on the agent's path would add its timeout (seconds) to calls; the bound leaves room
    # only for the noise of a loaded machine, measured against the baseline of this same run.
    assert exporting <= baseline * 1.25, f"median {exporting * 1000:.0f} ms vs {baseline * 1000:.0f} ms without export"
    started = time.perf_counter()
    handle.shutdown(timeout_s=2.0)
    assert time.perf_counter() - started < 2.0 * 3, "shutdown returns within (a generous multiple of) its timeout"
