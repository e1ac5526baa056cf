"""run_agent against the simulator with the default support-agent scenario."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.anatomy.budget import first_text_ms
from agent_anatomy.levers import PREAMBLE_INSTRUCTION
from agent_anatomy.sim import DEFAULT_SCENARIO, SimProfile, SimServer
from tests._support_tools import QUESTION, TOOLS, get_product_catalog, get_transaction_history
from tests.conftest import Traced

FAST = {"x-sim-ttft-ms": "20", "x-sim-generation-ms": "20"}


@pytest.fixture
async def aclient(sim: SimServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
        yield client


async def test_default_scenario_span_tree(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    deltas: list[str] = []
    result = await aa.run_agent(
        aclient,
        messages=QUESTION,
        model="claude-sonnet-4-6",
        tools=TOOLS,
        on_text=deltas.append,
        name="support",
        extra_headers=FAST,
    )
    assert result.stop_reason == "end_turn"
    assert result.iterations == 3
    assert result.text and "".join(deltas).endswith(result.text)
    assert [m["role"] for m in result.messages] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert result.usage["output_tokens"] > 0 and result.usage["input_tokens"] > 0
    agent = traced.span("invoke_agent support")
    assert result.trace_id == f"{agent.context.trace_id:032x}"
    children = sorted(
        (s for s in traced.spans() if s.parent and s.parent.span_id == agent.context.span_id),
        key=lambda s: s.start_time,
    )
    assert [s.name for s in children] == [
        "chat claude-sonnet-4-6",
        "tool_batch",
        "chat claude-sonnet-4-6",
        "tool_batch",
        "chat claude-sonnet-4-6",
    ]
    batches = [s for s in children if s.name == "tool_batch"]
    tool_names = [
        sorted(
            s.attributes[semconv.GEN_AI_TOOL_NAME]
            for s in traced.spans()
            if s.parent and s.parent.span_id == batch.context.span_id
        )
        for batch in batches
    ]
    assert tool_names == [
        ["get_transaction_history", "get_user_profile"],
        ["get_product_catalog", "get_transaction_history"],
    ]
    assert all(c.attributes[semconv.GEN_AI_REQUEST_STREAM] for c in children if c.name.startswith("chat"))
    assert agent.attributes[semconv.ANATOMY_AGENT_ITERATIONS] == 3
    assert agent.attributes[semconv.ANATOMY_AGENT_STOP_REASON] == "end_turn"
    assert agent.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == result.usage["output_tokens"]


async def test_max_iterations(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    result = await aa.run_agent(
        aclient, messages=QUESTION, model="claude-haiku-4-5", tools=TOOLS, max_iterations=1, extra_headers=FAST
    )
    assert result.stop_reason == "max_iterations"
    assert result.iterations == 1
    assert not [s for s in traced.spans() if s.name == "tool_batch"], "no tools run for a turn that cannot follow"


async def test_failing_tool_does_not_crash_the_agent(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    def get_user_profile(user_id: str) -> dict[str, str]:
        raise RuntimeError("profile service down")

    tools = {
        "get_user_profile": get_user_profile,
        "get_transaction_history": get_transaction_history,
        "get_product_catalog": get_product_catalog,
    }
    result = await aa.run_agent(
        aclient, messages=QUESTION, model="claude-haiku-4-5", tools=tools, extra_headers=FAST, stream=False
    )
    assert result.stop_reason == "end_turn"
    error_results = [
        block
        for message in result.messages
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block["is_error"]
    ]
    assert error_results[0]["content"] == "Tool 'get_user_profile' failed: RuntimeError: profile service down"
    assert not any(s.attributes.get(semconv.GEN_AI_REQUEST_STREAM) for s in traced.spans() if s.name.startswith("chat"))


def test_sync_client_and_run_agent_sync(traced: Traced, sim: SimServer) -> None:
    deltas: list[str] = []
    with anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
        result = aa.run_agent_sync(
            client, messages=QUESTION, model="claude-haiku-4-5", tools=TOOLS, on_text=deltas.append, extra_headers=FAST
        )
    assert result.iterations == 3 and deltas
    agent = traced.span("invoke_agent agent")
    llm = [s for s in traced.spans() if s.name.startswith("chat")]
    assert len(llm) == 3 and all(s.parent.span_id == agent.context.span_id for s in llm)


async def test_no_tools_answers_in_one_call(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    result = await aa.run_agent(
        aclient,
        messages=[{"role": "user", "content": "hi"}],
        model="claude-haiku-4-5",
        system="Be brief.",
        extra_headers=FAST,
    )
    assert result.iterations == 1 and result.stop_reason == "end_turn"


async def test_api_error_propagates_and_ends_the_agent_span(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.APIStatusError) as raised:
        await aa.run_agent(
            aclient, messages=QUESTION, model="claude-haiku-4-5", tools=TOOLS, extra_headers={"x-sim-status": "529"}
        )
    agent = traced.span("invoke_agent agent")
    kind = type(raised.value)
    assert agent.attributes[semconv.ERROR_TYPE] == f"{kind.__module__}.{kind.__qualname__}"
    assert agent.attributes[semconv.ANATOMY_AGENT_ITERATIONS] == 0
    [llm] = [s for s in traced.spans() if s.name.startswith("chat")]
    assert llm.attributes[semconv.ERROR_TYPE] == "overloaded_error"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_iterations=0 must be at least 1"):
        aa.run_agent_sync(object(), messages=QUESTION, model="m", max_iterations=0)


# --- an early first word ---------------------------------------------------------------------------------


async def _run_capturing(sim: SimServer, **kwargs: object) -> tuple[aa.AgentResult, list[dict[str, object]], list[int]]:
    """run_agent on the simulator: its result, each request's body as sent, and when on_text first saw text."""
    bodies: list[dict[str, object]] = []
    texts: list[int] = []

    async def hook(request: Any) -> None:
        bodies.append(json.loads(request.content))

    http = anthropic.DefaultAsyncHttpxClient(event_hooks={"request": [hook]})
    async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0, http_client=http) as client:
        result = await aa.run_agent(
            client,
            messages=QUESTION,
            model="claude-sonnet-4-6",
            tools=TOOLS,
            on_text=lambda _: texts.append(time.time_ns()),
            extra_headers={"x-sim-ttft-ms": "60", "x-sim-generation-ms": "60"},
            **kwargs,  # type: ignore[arg-type]
        )
    return result, bodies, texts


def _system_text(body: dict[str, object]) -> str:
    system = body["system"]
    return system if isinstance(system, str) else "".join(str(b["text"]) for b in system)  # type: ignore[index, union-attr]


async def test_preamble_asks_for_a_sentence_before_the_tools_and_the_anatomy_counts_it(
    traced: Traced, sim: SimServer
) -> None:
    result, bodies, texts = await _run_capturing(sim, system="Be brief.", preamble=True)
    systems = {_system_text(body) for body in bodies}
    assert systems == {f"Be brief.\n\n{PREAMBLE_INSTRUCTION}"}, "the same on every call: the prompt cache holds"
    spans = [s for s in traced.spans() if s.context.trace_id == int(result.trace_id or "0", 16)]
    [agent] = [s for s in spans if s.name.startswith("invoke_agent")]
    assert agent.attributes[semconv.ANATOMY_AGENT_PREAMBLE] is True
    chats = sorted((s for s in spans if s.name.startswith("chat ")), key=lambda s: s.start_time or 0)
    first_tool = min(s.start_time or 0 for s in spans if s.name.startswith("execute_tool"))
    assert texts and texts[0] < first_tool, "the user read a sentence before the first tool started"
    assert chats[0].attributes[semconv.ANATOMY_LLM_FIRST_CONTENT] == "text"
    report = aa.anatomy_for(result.trace_id or "").trace_reports()[0]
    root = min(s.start_time or 0 for s in spans)
    answer_starts = first_text_ms(report)
    assert answer_starts is not None and answer_starts < (first_tool - root) / 1e6 < report.llm_calls[-1].start_ms

    custom, bodies, _ = await _run_capturing(sim, preamble="Say hello first.")
    assert {_system_text(body) for body in bodies} == {"Say hello first."}
    assert custom.iterations == 3


async def test_a_turn_of_tool_calls_alone_does_not_start_the_answer(traced: Traced) -> None:
    """Without a sentence before its tool calls, a turn's first visible content is a tool's input: the answer
    starts with the last call's text."""
    with SimServer(SimProfile(seed=7), scenario=dataclasses.replace(DEFAULT_SCENARIO, preface="")) as quiet:
        result, _, texts = await _run_capturing(quiet)
    report = aa.anatomy_for(result.trace_id or "").trace_reports()[0]
    assert [c.first_content for c in report.llm_calls] == ["tool_use", "tool_use", "text"]
    last = report.llm_calls[-1]
    assert first_text_ms(report) == last.start_ms + (last.first_text_ms or 0)
    assert len(texts) >= 1
