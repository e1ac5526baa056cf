"""Ambient attributes: ``aa.conversation(id)`` on every span inside, an agent's name on its tools' spans."""

from __future__ import annotations

import asyncio

import anthropic
import pytest

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.sim import SimServer
from tests.conftest import Traced

PROMPT = [{"role": "user", "content": "hi"}]
NO_WAIT = {"x-sim-ttft-ms": "0", "x-sim-generation-ms": "0"}


@aa.tool
def lookup(user_id: str) -> str:
    return user_id


def test_conversation_marks_every_span_inside_and_none_outside(traced: Traced, sim: SimServer) -> None:
    @aa.agent(name="support")
    def run(client: anthropic.Anthropic) -> None:
        client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=PROMPT, extra_headers=NO_WAIT)
        client.messages.count_tokens(model="claude-haiku-4-5", messages=PROMPT)
        lookup("u1")
        with aa.span("wrap up"):
            pass

    with anthropic.Anthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        with aa.conversation("conv-42"):
            run(client)
        lookup("outside")
    spans = traced.spans()
    inside, outside = spans[:-1], spans[-1]
    assert len(inside) == 5
    assert all(s.attributes[semconv.GEN_AI_CONVERSATION_ID] == "conv-42" for s in inside), [s.name for s in inside]
    assert semconv.GEN_AI_CONVERSATION_ID not in outside.attributes


def test_tools_carry_their_agent_name_and_other_spans_do_not(traced: Traced) -> None:
    @aa.agent(name="inner")
    def inner() -> None:
        lookup("b")

    @aa.agent(name="outer")
    def outer() -> None:
        lookup("a")
        inner()

    outer()
    lookup("c")
    tools = [s for s in traced.spans() if s.name == "execute_tool lookup"]
    assert [s.attributes.get(semconv.GEN_AI_AGENT_NAME) for s in tools] == ["outer", "inner", None]
    agents = {s.name: s for s in traced.spans() if s.name.startswith("invoke_agent")}
    assert agents["invoke_agent inner"].attributes[semconv.GEN_AI_AGENT_NAME] == "inner", "its own name wins"
    assert agents["invoke_agent outer"].attributes[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_ANTHROPIC


async def test_ambient_values_follow_tasks(traced: Traced) -> None:
    @aa.agent(name="fan-out")
    async def run() -> None:
        await asyncio.gather(*(asyncio.to_thread(aa.bind_context(lookup), f"u{i}") for i in range(3)))

    with aa.conversation("conv-7"):
        await run()
    tools = [s for s in traced.spans() if s.name == "execute_tool lookup"]
    assert len(tools) == 3
    assert all(s.attributes[semconv.GEN_AI_CONVERSATION_ID] == "conv-7" for s in tools)
    assert all(s.attributes[semconv.GEN_AI_AGENT_NAME] == "fan-out" for s in tools)


@pytest.mark.parametrize("bad", ["", None, 42])
def test_a_conversation_id_is_a_non_empty_string(bad: object) -> None:
    with pytest.raises(TypeError, match="conversation id"), aa.conversation(bad):  # type: ignore[arg-type]
        pass
