"""The SDK's tool runner under an agent: every tool it runs is an ``execute_tool`` span with its call id.

The SDK traces its own tool runs (``anthropic.custom_tool_use {name}``, operation ``execute_tool``) and its
runner loop (``invoke_agent``); our instrumentation defers only the SDK's model-call spans to our ``chat``
spans, so those tool spans stay, under the agent. Sync, async and streaming runners.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic import beta_async_tool, beta_tool
from opentelemetry.sdk.trace import ReadableSpan

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.sim import SimServer

HEADERS = {"x-sim-ttft-ms": "20", "x-sim-generation-ms": "0"}
PROMPT = [{"role": "user", "content": "Where is my refund?"}]


@beta_tool
def get_user_profile(user_id: str) -> str:
    """Look up a customer."""
    return f"profile of {user_id}"


@beta_tool
def get_transaction_history(user_id: str, days: int) -> str:
    """A customer's transactions."""
    return f"{days} days of {user_id}"


@beta_async_tool
async def aget_user_profile(user_id: str) -> str:
    """Look up a customer."""
    return f"profile of {user_id}"


def _under(span: ReadableSpan, ancestor: ReadableSpan, spans: list[ReadableSpan]) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    parent = span.parent
    while parent is not None:
        if parent.span_id == ancestor.context.span_id:
            return True
        parent = by_id[parent.span_id].parent if parent.span_id in by_id else None
    return False


class _Global:
    """agent-anatomy configured as the global provider: the SDK's own spans go there too, as in an application."""

    def __init__(self) -> None:
        self.handle = aa.configure(exporter="memory", metrics=False)

    def spans(self) -> list[ReadableSpan]:
        return list(self.handle.finished_spans())  # type: ignore[arg-type]

    def span(self, name: str) -> ReadableSpan:
        [match] = [s for s in self.spans() if s.name == name]
        return match


@pytest.fixture
def traced(otel_globals: None) -> _Global:
    return _Global()


def _check(traced: _Global, tool_count: int, chat_count: int = 2) -> None:
    spans = traced.spans()
    agent = traced.span("invoke_agent support")
    tools = [s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_EXECUTE_TOOL]
    chats = [s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_CHAT]
    assert len(tools) == tool_count, [s.name for s in spans]
    assert all(s.attributes[semconv.GEN_AI_TOOL_CALL_ID].startswith("toolu_") for s in tools)
    assert all(_under(s, agent, spans) for s in tools + chats)
    assert len(chats) == chat_count, "one chat span per model call, none from the SDK"
    assert not [s for s in spans if s.name.startswith("anthropic.messages.create")]
    anatomy = Anatomy.from_spans(spans)
    analysis = anatomy.trace
    assert len(analysis.llm_calls) == chat_count
    assert sum(len(batch.tools) for batch in analysis.batches) == tool_count
    labels = [item["label"] for item in anatomy.to_dict()["traces"][0]["steps"]]
    assert labels.count("anthropic.messages.tool_runner") == 0, "the runner's loop is agent code, not a step"


def test_sync_runner(traced: _Global, sim: SimServer) -> None:
    @aa.agent(name="support")
    def run(client: anthropic.Anthropic) -> None:
        runner = client.beta.messages.tool_runner(
            model="claude-haiku-4-5",
            max_tokens=256,
            tools=[get_user_profile, get_transaction_history],
            messages=PROMPT,
            extra_headers=HEADERS,
        )
        for _ in runner:
            pass

    with anthropic.Anthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        run(client)
    # the default scenario's two rounds: both tools, then the history again (its catalogue is not offered)
    _check(traced, tool_count=3, chat_count=3)


async def test_async_streaming_runner(traced: _Global, sim: SimServer) -> None:
    @aa.agent(name="support")
    async def run(client: anthropic.AsyncAnthropic) -> None:
        runner = client.beta.messages.tool_runner(
            model="claude-haiku-4-5",
            max_tokens=256,
            tools=[aget_user_profile],
            messages=PROMPT,
            stream=True,
            extra_headers=HEADERS,
        )
        async for stream in runner:
            await stream.until_done()

    async with anthropic.AsyncAnthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        await run(client)
    _check(traced, tool_count=1)
    chats = [s for s in traced.spans() if s.name.startswith("chat ")]
    assert all(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in s.attributes for s in chats), "streamed: timed"


@pytest.mark.parametrize("stream", [False, True])
def test_sync_runner_stream_flag(traced: _Global, sim: SimServer, stream: bool) -> None:
    @aa.agent(name="support")
    def run(client: anthropic.Anthropic) -> Any:
        runner = client.beta.messages.tool_runner(
            model="claude-haiku-4-5",
            max_tokens=256,
            tools=[get_user_profile],
            messages=PROMPT,
            stream=stream,
            extra_headers=HEADERS,
        )
        return runner.until_done()

    with anthropic.Anthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        run(client)
    _check(traced, tool_count=1)
