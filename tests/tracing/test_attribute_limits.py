"""No attribute of ours is dropped by the SDK's default limit of 128 attributes per span."""

from __future__ import annotations

import anthropic
from opentelemetry.sdk.trace import SpanLimits

import agent_anatomy as aa
from agent_anatomy.sim import SimServer
from tests.conftest import Traced

DEFAULT_LIMIT = SpanLimits().max_span_attributes
MARGIN = DEFAULT_LIMIT // 2


@aa.tool
def lookup_order(order_id: str, include_items: bool = False) -> dict[str, object]:
    """Look up an order."""
    return {"id": order_id, "items": ["a", "b"] if include_items else []}


async def test_the_fullest_spans_stay_well_under_the_default_limit(traced_with_content: Traced, sim: SimServer) -> None:
    """Content capture on, tools, streaming, routing with a hedge: every attribute we can set, at once."""
    executor = aa.ParallelExecutor([lookup_order])
    router = aa.ModelRouter(
        {"answer": ["claude-opus-4-6", "claude-haiku-4-5"]}, default="claude-opus-4-6", explore=0.0, hedge_after_s=0.05
    )
    client = anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0)
    async with (
        client,
        router.astream(
            client,
            step="answer",
            max_tokens=128,
            system="You are a support agent.",
            messages=[{"role": "user", "content": "Where is order 42?"}],
            tools=executor.definitions(),
            tool_choice={"type": "auto"},
            stop_sequences=["STOP"],
            metadata={"user_id": "u-1"},
            extra_headers={"x-sim-ttft-ms": "300"},
        ) as stream,
    ):
        await stream.get_final_message()
    await executor.run([{"type": "tool_use", "id": "t1", "name": "lookup_order", "input": {"order_id": "42"}}])

    spans = traced_with_content.spans()
    assert {s.name.split(" ")[0] for s in spans} >= {"chat", "route", "execute_tool", "tool_batch"}
    for span in spans:
        assert span.dropped_attributes == 0, span.name
        assert len(span.attributes or {}) <= MARGIN, f"{span.name} carries {len(span.attributes or {})} attributes"
