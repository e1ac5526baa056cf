"""Export to a real OTLP backend (Arize Phoenix) over gRPC and HTTP, read the spans back, same anatomy."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

import agent_anatomy as aa
from agent_anatomy.anatomy import Anatomy, SpanRecord
from agent_anatomy.anatomy.sources import fetch_phoenix_trace
from agent_anatomy.errors import TraceNotFoundError
from agent_anatomy.sim import SimServer
from tests.export.conftest import Phoenix

pytestmark = pytest.mark.slow

FAST = {"x-sim-ttft-ms": "150", "x-sim-generation-ms": "100"}


@aa.tool
async def get_user_profile(user_id: str) -> dict[str, str]:
    """Look up a customer's profile."""
    await asyncio.sleep(0.12)
    return {"id": user_id, "plan": "pro"}


@aa.tool
async def get_transaction_history(user_id: str, days: int = 30) -> list[dict[str, object]]:
    """Fetch a customer's transactions."""
    await asyncio.sleep(0.08)
    return [{"amount": 42, "days": days}]


@aa.tool
@aa.cached(ttl_s=60)
async def get_product_catalog(category: str = "plans") -> list[str]:
    """List products."""
    await asyncio.sleep(0.1)
    return ["pro", "team"]


async def _run_agent(base_url: str) -> None:
    await get_product_catalog("plans")  # warm the cache: the agent's lookup is a hit
    executor = aa.ParallelExecutor([get_user_profile, get_transaction_history, get_product_catalog])
    async with anthropic.AsyncAnthropic(base_url=base_url, api_key="k", max_retries=0) as client:
        await aa.run_agent(
            client,
            model="claude-sonnet-4-6",
            tools=executor,
            name="support",
            messages=[{"role": "user", "content": "Why was I charged twice?"}],
            extra_headers=FAST,
        )


def _read_back(phoenix: Phoenix, project: str, trace_id: str, expected: int) -> list[SpanRecord]:
    deadline = time.monotonic() + 30
    while True:
        try:
            records = fetch_phoenix_trace(phoenix.url, trace_id, project)
        except TraceNotFoundError:
            records = []
        if len(records) >= expected or time.monotonic() > deadline:
            return records
        time.sleep(0.3)


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, tuple | list):
        return list(ours) == list(theirs)
    if isinstance(ours, float):
        return math.isclose(ours, float(theirs), rel_tol=1e-9)
    return bool(ours == theirs)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_round_trip_through_phoenix(phoenix: Phoenix, sim: SimServer, protocol: str) -> None:
    project = f"agent-anatomy-{protocol.replace('/', '-')}"
    provider = TracerProvider(resource=Resource.create({"openinference.project.name": project}))
    endpoint = phoenix.grpc_endpoint if protocol == "grpc" else phoenix.url
    handle = aa.configure(
        exporter=["otlp", "memory"], protocol=protocol, endpoint=endpoint, tracer_provider=provider, metrics=False
    )
    asyncio.run(_run_agent(sim.base_url))
    assert handle.force_flush(10.0)
    local: list[ReadableSpan] = handle.finished_spans()  # type: ignore[assignment]
    agent_root = next(s for s in local if s.name == "invoke_agent support")
    trace_id = format(agent_root.context.trace_id, "032x")
    mine = [s for s in local if s.context.trace_id == agent_root.context.trace_id]

    remote = _read_back(phoenix, project, trace_id, len(mine))
    assert Counter(r.name for r in remote) == Counter(s.name for s in mine)
    parents = {format(s.context.span_id, "016x"): s.parent and format(s.parent.span_id, "016x") for s in mine}
    assert {r.span_id: r.parent_id for r in remote} == parents, "every parent link arrives"

    by_id = {r.span_id: r for r in remote}
    checked: set[str] = set()
    for span in mine:
        received = by_id[format(span.context.span_id, "016x")].attributes
        for key, value in (span.attributes or {}).items():
            if key.startswith(("gen_ai.", "anatomy.")):
                assert key in received, f"{span.name}: {key} did not arrive"
                assert _same(value, received[key]), f"{span.name}: {key} = {received[key]!r}, sent {value!r}"
                checked.add(key)
    assert {"gen_ai.request.model", "gen_ai.response.time_to_first_chunk", "gen_ai.usage.output_tokens"} <= checked
    assert {"anatomy.tool.input_hash", "anatomy.cache.hit", "anatomy.cache.saved_time"} <= checked

    here = Anatomy.from_spans(mine)
    there = Anatomy.from_phoenix(phoenix.url, trace_id, project=project)
    assert there.wall_ms == pytest.approx(here.wall_ms, abs=0.01)
    for phase, value in here.phases_ms.items():
        assert there.phases_ms[phase] == pytest.approx(value, abs=0.01), phase
    assert [s.kind for s in there.what_if()] == [s.kind for s in here.what_if()]
