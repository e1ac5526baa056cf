"""Tools started while the model's answer streams: ``run_agent``'s default, and ``ParallelExecutor.begin``.

A read starts as its ``tool_use`` block completes, in the turn's ``tool_batch``; a tool with side effects,
and the reads after it, wait for the answer's end, as ``run`` orders them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace import ReadableSpan

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.sim import SimServer
from tests._support_tools import QUESTION
from tests.conftest import Traced

TOOL_S = 0.3
"""How long each of the scenario's first-turn tools takes."""
SLOW = {"x-sim-ttft-ms": "50", "x-sim-generation-ms": "600"}
"""Each answer streams over 600 ms: a turn's first tool_use block completes well before its message ends."""


@pytest.fixture
async def aclient(sim: SimServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
        yield client


def _tools(*, profile_writes: bool = False) -> list[Any]:
    """The support scenario's tools; ``get_user_profile`` (its first turn's first call) slow, and with side
    effects when ``profile_writes``."""

    @aa.tool(name="get_user_profile", side_effects=profile_writes)
    async def get_user_profile(user_id: str) -> dict[str, str]:
        """Look up a customer's profile."""
        await asyncio.sleep(TOOL_S)
        return {"id": user_id, "plan": "pro"}

    @aa.tool(name="get_transaction_history")
    async def get_transaction_history(user_id: str, days: int = 30) -> list[dict[str, object]]:
        """Fetch a customer's transactions."""
        await asyncio.sleep(TOOL_S)
        return [{"amount": 42, "days": days}]

    @aa.tool(name="get_product_catalog")
    async def get_product_catalog(category: str = "plans") -> list[str]:
        """List products."""
        return ["pro", "team"]

    return [get_user_profile, get_transaction_history, get_product_catalog]


def _turns(traced: Traced) -> list[tuple[ReadableSpan, ReadableSpan, list[ReadableSpan]]]:
    """Each LLM call that asked for tools, its tool batch and the batch's tools, in order."""
    spans = sorted(traced.spans(), key=lambda s: s.start_time or 0)
    chats = [s for s in spans if s.name.startswith("chat ")]
    batches = [s for s in spans if s.name == "tool_batch"]
    return [
        (chat, batch, [s for s in spans if s.parent is not None and s.parent.span_id == batch.context.span_id])
        for chat, batch in zip(chats, batches, strict=False)
    ]


async def test_reads_start_as_their_blocks_complete_and_the_batch_ends_sooner(
    traced: Traced, aclient: anthropic.AsyncAnthropic
) -> None:
    result = await aa.run_agent(
        aclient, messages=QUESTION, model="claude-sonnet-4-6", tools=_tools(), extra_headers=SLOW
    )
    assert result.stop_reason == "end_turn" and result.iterations == 3
    (chat, batch, tools), _ = _turns(traced)
    assert sorted(t.attributes[semconv.GEN_AI_TOOL_NAME] for t in tools) == [
        "get_transaction_history",
        "get_user_profile",
    ]
    assert chat.end_time is not None and batch.end_time is not None
    assert all((t.start_time or 0) < chat.end_time for t in tools), "each started before the answer ended"
    assert batch.attributes[semconv.ANATOMY_BATCH_EARLY_COUNT] == 2
    streamed = batch.attributes[semconv.ANATOMY_BATCH_STREAMED_TIME]
    assert 0 < streamed * 1e9 == pytest.approx(chat.end_time - batch.start_time, abs=20e6)
    # Both tools take TOOL_S; started at the answer's end, the batch would end TOOL_S after it.
    assert batch.end_time - chat.end_time < TOOL_S * 1e9
    # The model got every result, in its calls' order, as run() gives them.
    answered = [block["tool_use_id"] for block in result.messages[2]["content"]]
    asked = [block["id"] for block in result.messages[1]["content"] if block["type"] == "tool_use"]
    assert answered == asked and not any(block["is_error"] for block in result.messages[2]["content"])


async def test_a_tool_with_side_effects_and_what_follows_it_wait_for_the_answers_end(
    traced: Traced, aclient: anthropic.AsyncAnthropic
) -> None:
    await aa.run_agent(
        aclient, messages=QUESTION, model="claude-sonnet-4-6", tools=_tools(profile_writes=True), extra_headers=SLOW
    )
    (chat, batch, tools), _ = _turns(traced)
    assert chat.end_time is not None
    assert len(tools) == 2 and all((t.start_time or 0) >= chat.end_time for t in tools)
    assert batch.attributes[semconv.ANATOMY_BATCH_EARLY_COUNT] == 0
    assert batch.attributes[semconv.ANATOMY_BATCH_STREAMED_TIME] == 0


async def test_off_tools_start_after_the_answer(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    await aa.run_agent(
        aclient,
        messages=QUESTION,
        model="claude-sonnet-4-6",
        tools=_tools(),
        extra_headers=SLOW,
        start_tools_early=False,
    )
    for chat, batch, tools in _turns(traced):
        assert chat.end_time is not None
        assert all((t.start_time or 0) >= chat.end_time for t in tools)
        assert batch.attributes[semconv.ANATOMY_BATCH_EARLY_COUNT] == 0


def test_a_sync_client_starts_them_early_too(traced: Traced, sim: SimServer) -> None:
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0)
    aa.run_agent_sync(client, messages=QUESTION, model="claude-sonnet-4-6", tools=_tools(), extra_headers=SLOW)
    (chat, batch, tools), _ = _turns(traced)
    assert chat.end_time is not None and all((t.start_time or 0) < chat.end_time for t in tools)
    assert batch.attributes[semconv.ANATOMY_BATCH_EARLY_COUNT] == 2


def _block(call_id: str, name: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": {"user_id": "u1"}}


async def test_a_sequential_executor_starts_nothing_early(traced: Traced) -> None:
    executor = aa.ParallelExecutor(_tools(), mode="sequential")
    batch = executor.begin()
    assert not batch.offer(_block("a", "get_transaction_history"))
    results = await batch.finish([_block("a", "get_transaction_history")])
    assert [r["tool_use_id"] for r in results] == ["a"] and batch.early_count == 0


async def test_a_batch_whose_turn_failed_stops_its_early_calls(traced: Traced) -> None:
    executor = aa.ParallelExecutor(_tools())
    batch = executor.begin()
    assert batch.offer(_block("a", "get_transaction_history"))
    await asyncio.sleep(0)  # the call is under way
    batch.cancel()
    await asyncio.sleep(0.01)
    [span] = [s for s in traced.spans() if s.name == "tool_batch"]
    assert span.status.status_code.name == "ERROR" and span.attributes[semconv.ERROR_TYPE] == "cancelled"
    [tool] = [s for s in traced.spans() if s.name.startswith("execute_tool")]
    assert tool.parent is not None and tool.parent.span_id == span.context.span_id
    assert tool.status.status_code.name == "ERROR", "stopped, not left running"


async def test_an_offered_call_the_answer_does_not_hold_is_stopped(traced: Traced) -> None:
    executor = aa.ParallelExecutor(_tools())
    batch = executor.begin()
    assert batch.offer(_block("a", "get_transaction_history")) and batch.offer(_block("b", "get_user_profile"))
    results = await batch.finish([_block("b", "get_user_profile")])
    assert [r["tool_use_id"] for r in results] == ["b"] and not results[0]["is_error"]
    [span] = [s for s in traced.spans() if s.name == "tool_batch"]
    assert span.attributes[semconv.ANATOMY_BATCH_EARLY_COUNT] == 1
    assert span.attributes[semconv.ANATOMY_BATCH_TOOL_COUNT] == 1
    assert batch.early_count == 2, "both started before the answer ended"


async def test_a_messages_text_and_thinking_are_not_calls(traced: Traced) -> None:
    """``run(message.content)``, as docs/levers.md writes it: only the ``tool_use`` blocks are calls."""
    executor = aa.ParallelExecutor(_tools())
    content = [
        {"type": "thinking", "thinking": "...", "signature": "s"},
        {"type": "text", "text": "Let me look."},
        _block("a", "get_product_catalog"),
    ]
    assert [r["tool_use_id"] for r in await executor.run(content)] == ["a"]
    batch = executor.begin()
    assert not batch.offer(content[1]) and batch.offer(content[2])
    assert [r["tool_use_id"] for r in await batch.finish(content)] == ["a"]
