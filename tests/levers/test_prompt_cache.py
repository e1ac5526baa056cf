"""Prompt caching: ``with_cache_breakpoints`` and ``run_agent``'s default use of it, against the simulator."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.levers.prompt_cache import MAX_BREAKPOINTS, with_cache_breakpoints
from agent_anatomy.sim import SimServer
from tests._support_tools import QUESTION, TOOLS
from tests.conftest import Traced

FAST = {"x-sim-ttft-ms": "20", "x-sim-generation-ms": "20"}
SYSTEM = "You are the support agent of a billing product. " * 400
"""A system prompt long enough to be cached (several thousand tokens)."""
TOOL_DEFS = [{"name": name, "description": "A lookup.", "input_schema": {"type": "object"}} for name in ("a", "b", "c")]


def _request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "system": SYSTEM,
        "tools": TOOL_DEFS,
        "messages": [
            {"role": "user", "content": "Why was I charged twice?"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "ok"}]},
        ],
    }
    return request | changes


def _marks(value: object) -> int:
    return repr(value).count("'cache_control'")


def test_the_tools_the_system_prompt_and_the_conversation_so_far_are_marked() -> None:
    request = _request()
    before = copy.deepcopy(request)
    marked = with_cache_breakpoints(request)
    assert request == before, "the request given is left as it was"
    assert marked["tools"][-1]["cache_control"] == {"type": "ephemeral"} and _marks(marked["tools"][:-1]) == 0
    assert marked["system"] == [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    assert marked["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert marked["messages"][:-1] == request["messages"][:-1]
    assert _marks(marked) == 3


def test_the_callers_breakpoints_count_toward_the_limit_and_are_kept() -> None:
    own = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(3)]
    marked = with_cache_breakpoints(_request(system=own))
    assert marked["system"] == own
    assert _marks(marked) == MAX_BREAKPOINTS, "one more, on the longest prefix: the conversation"
    assert "cache_control" in marked["messages"][-1]["content"][-1] and "cache_control" not in marked["tools"][-1]


def test_a_last_message_of_text_and_a_thinking_block_are_marked_where_the_api_takes_it() -> None:
    text = with_cache_breakpoints(_request(messages=[{"role": "user", "content": "Hello"}], system=None, tools=None))
    assert text["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hello", "cache_control": {"type": "ephemeral"}}]}
    ]
    thinking = [{"type": "text", "text": "Looking."}, {"type": "thinking", "thinking": "t", "signature": "s"}]
    marked = with_cache_breakpoints(_request(messages=[{"role": "assistant", "content": thinking}]))
    assert "cache_control" in marked["messages"][0]["content"][0]
    assert "cache_control" not in marked["messages"][0]["content"][1], "the API refuses one on a thinking block"


@pytest.fixture
async def aclient() -> AsyncIterator[anthropic.AsyncAnthropic]:
    """A client of a simulator of this test's own: its prompt cache holds nothing another test wrote."""
    with SimServer() as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
            yield client


@pytest.mark.parametrize("cached", [True, False], ids=["default", "prompt_cache=False"])
async def test_run_agents_calls_read_the_prefix_the_call_before_wrote(
    traced: Traced, aclient: anthropic.AsyncAnthropic, cached: bool
) -> None:
    """Each call after the first reads from the prompt cache what the one before it wrote (the simulator
    keeps what a breakpoint closes, as the API does); the span records both."""
    await aa.run_agent(
        aclient,
        messages=QUESTION,
        model="claude-sonnet-4-6",
        tools=TOOLS,
        system=SYSTEM,
        extra_headers=FAST,
        prompt_cache=cached,
    )
    chats = sorted((s for s in traced.spans() if s.name.startswith("chat ")), key=lambda s: s.start_time or 0)
    assert len(chats) == 3
    reads = [c.attributes.get(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0) for c in chats]
    writes = [c.attributes.get(semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, 0) for c in chats]
    if not cached:
        assert reads == writes == [0, 0, 0]
        return
    assert reads[0] == 0 and writes[0] > 1000, "the first call writes the system prompt and tools"
    assert all(read > 1000 for read in reads[1:]), "each later call reads what the one before it wrote"
    total = [c.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] for c in chats]
    assert all(read < whole for read, whole in zip(reads[1:], total[1:], strict=True))
