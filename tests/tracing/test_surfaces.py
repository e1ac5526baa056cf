"""Every Anthropic surface an agent uses, through the real SDK clients against the simulator.

Bedrock and Vertex clients (sync and async, create and both stream styles) with their provider names,
server address and the model id as the platform names it, and a time to first token that holds over
each platform's framing; extended thinking (reasoning tokens, thinking time, time to first text);
the sampling parameters; and the cheap spans of ``count_tokens``, batches and models.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from agent_anatomy import semconv
from agent_anatomy.sim import SimServer
from tests.conftest import Traced
from tests.sim.test_platforms import MODELS, cloud_client

PROMPT = [{"role": "user", "content": "Where is my refund?"}]
PROVIDERS = {"bedrock": semconv.PROVIDER_AWS_BEDROCK, "vertex": semconv.PROVIDER_GCP_VERTEX_AI}


def chat_spans(traced: Traced) -> list[ReadableSpan]:
    return [s for s in traced.spans() if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_CHAT]


def wait(ttft_ms: float, **extra: str) -> dict[str, str]:
    return {"x-sim-ttft-ms": str(ttft_ms), "x-sim-generation-ms": "50", "x-sim-tokens": "10"} | {
        f"x-sim-{name.replace('_', '-')}": value for name, value in extra.items()
    }


async def _calls(client: Any, is_async: bool, model: str, headers: dict[str, str]) -> None:
    kwargs = {"model": model, "max_tokens": 32, "messages": PROMPT, "extra_headers": headers}
    if is_async:
        await client.messages.create(**kwargs)
        stream = await client.messages.create(stream=True, **kwargs)
        async for _ in stream:
            pass
        async with client.beta.messages.stream(**kwargs) as helper:
            await helper.get_final_message()
        await client.close()
    else:
        client.messages.create(**kwargs)
        for _ in client.messages.create(stream=True, **kwargs):
            pass
        with client.beta.messages.stream(**kwargs) as helper:
            helper.get_final_message()
        client.close()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", ["bedrock", "vertex"])
async def test_cloud_clients_end_to_end(traced: Traced, sim: SimServer, kind: str, is_async: bool) -> None:
    ttft = 0.2
    await _calls(cloud_client(kind, sim, is_async), is_async, MODELS[kind], wait(ttft * 1000))
    spans = chat_spans(traced)
    assert [s.attributes[semconv.ANATOMY_LLM_API] for s in spans] == [
        "messages.create",
        "messages.create",
        "beta.messages.stream",
    ]
    assert len(traced.spans()) == 3, "one span per call: the SDK's own defer to ours"
    for span in spans:
        attributes = span.attributes
        assert span.name == f"chat {MODELS[kind]}" and span.kind is SpanKind.CLIENT
        assert attributes[semconv.GEN_AI_PROVIDER_NAME] == PROVIDERS[kind]
        assert attributes[semconv.GEN_AI_REQUEST_MODEL] == MODELS[kind]
        assert attributes[semconv.GEN_AI_RESPONSE_MODEL] == MODELS[kind], "the model id as the platform names it"
        assert (attributes[semconv.SERVER_ADDRESS], attributes[semconv.SERVER_PORT]) == ("127.0.0.1", sim.port)
        assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 10
    for streamed in spans[1:]:
        measured = streamed.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
        assert ttft - 0.005 <= measured < ttft * 3, f"{kind}: TTFT {measured:.3f} s vs injected {ttft} s"
        assert streamed.attributes[semconv.ANATOMY_LLM_TIME_TO_FIRST_TEXT] == measured, "no thinking: the same"
        assert semconv.ANATOMY_LLM_THINKING_TIME not in streamed.attributes


THINKING = {"type": "enabled", "budget_tokens": 1024}


@pytest.mark.parametrize("helper", [False, True], ids=["create-stream", "messages.stream"])
def test_thinking_time_and_reasoning_tokens(traced: Traced, sim: SimServer, helper: bool) -> None:
    """First chunk at the TTFT (a thinking delta); first visible text after the thinking time; reasoning
    tokens as the API reports them."""
    ttft, thinking = 0.05, 0.3
    headers = wait(ttft * 1000, thinking_ms=str(thinking * 1000), thinking_tokens="30", redacted_thinking="1")
    kwargs = {"model": "claude-sonnet-4-6", "max_tokens": 2048, "messages": PROMPT, "extra_headers": headers}
    with anthropic.Anthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        if helper:
            with client.messages.stream(thinking=THINKING, **kwargs) as stream:
                stream.until_done()
        else:
            for _ in client.messages.create(stream=True, thinking=THINKING, **kwargs):
                pass
    [span] = chat_spans(traced)
    attributes = span.attributes
    first_chunk = attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    first_text = attributes[semconv.ANATOMY_LLM_TIME_TO_FIRST_TEXT]
    assert ttft - 0.005 <= first_chunk < first_text
    assert ttft + thinking - 0.005 <= first_text < (ttft + thinking) * 3
    assert attributes[semconv.ANATOMY_LLM_THINKING_TIME] == pytest.approx(first_text - first_chunk)
    assert attributes[semconv.ANATOMY_LLM_THINKING_TIME] > 0
    assert attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 30
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 40
    assert attributes[semconv.ANATOMY_LLM_THINKING_TYPE] == "enabled"
    assert attributes[semconv.ANATOMY_LLM_THINKING_BUDGET] == 1024


def test_thinking_on_a_plain_call_records_tokens_not_times(traced: Traced, sim: SimServer) -> None:
    with anthropic.Anthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=2048,
            thinking={"type": "adaptive"},
            output_config={"effort": "low"},
            messages=PROMPT,
            extra_headers=wait(0, thinking_ms="0", thinking_tokens="12"),
        )
    [span] = chat_spans(traced)
    assert span.attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 12
    assert span.attributes[semconv.ANATOMY_LLM_THINKING_TYPE] == "adaptive"
    assert span.attributes[semconv.ANATOMY_LLM_EFFORT] == "low"
    assert semconv.ANATOMY_LLM_THINKING_BUDGET not in span.attributes
    assert semconv.ANATOMY_LLM_TIME_TO_FIRST_TEXT not in span.attributes, "a plain call has no stream to time"


def test_sampling_parameters_when_given(traced: Traced, sim: SimServer) -> None:
    with anthropic.Anthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=32,
            extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 40},  # this SDK has no arguments for them
            stop_sequences=["DONE"],
            messages=PROMPT,
            extra_headers=wait(0),
        )
        client.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=PROMPT, extra_headers=wait(0))
    given, bare = chat_spans(traced)
    assert given.attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert given.attributes[semconv.GEN_AI_REQUEST_TOP_P] == 0.9
    assert given.attributes[semconv.GEN_AI_REQUEST_TOP_K] == 40
    assert given.attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("DONE",)
    for key in (
        semconv.GEN_AI_REQUEST_TEMPERATURE,
        semconv.GEN_AI_REQUEST_TOP_P,
        semconv.GEN_AI_REQUEST_TOP_K,
        semconv.GEN_AI_REQUEST_STOP_SEQUENCES,
        semconv.GEN_AI_REQUEST_STREAM,
    ):
        assert key not in bare.attributes


# --- the rest of the API --------------------------------------------------------------------------------------


def test_count_tokens_batches_and_models_get_one_span_each(traced: Traced, sim: SimServer) -> None:
    with anthropic.Anthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        client.messages.count_tokens(model="claude-haiku-4-5", messages=PROMPT)
        list(client.models.list())
        client.models.retrieve("claude-haiku-4-5")
        params = {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": PROMPT}
        batch = client.messages.batches.create(requests=[{"custom_id": "a", "params": params}])
        list(client.messages.batches.results(batch.id))
        client.beta.messages.count_tokens(model="claude-haiku-4-5", messages=PROMPT)
    spans = traced.spans()
    assert len(spans) == len(sim.received[-7:]) == 7, "one span per request: the SDK's own defer to ours"
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {
        "messages.count_tokens claude-haiku-4-5",
        "models.list",
        "models.retrieve",
        "messages.batches.create",
        "messages.batches.retrieve",
        "messages.batches.results",
    }
    count = by_name["messages.count_tokens claude-haiku-4-5"]
    assert count.kind is SpanKind.CLIENT
    assert count.attributes[semconv.GEN_AI_OPERATION_NAME] == "messages.count_tokens"
    assert count.attributes[semconv.GEN_AI_REQUEST_MODEL] == "claude-haiku-4-5"
    assert count.attributes[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_ANTHROPIC
    apis = sorted(s.attributes[semconv.ANATOMY_LLM_API] for s in spans if "count_tokens" in s.name)
    assert apis == ["beta.messages.count_tokens", "messages.count_tokens"]
    # results reads the batch first: that request is a span inside it
    assert by_name["messages.batches.retrieve"].parent.span_id == by_name["messages.batches.results"].context.span_id
    on_the_wire = {request.headers["traceparent"].split("-")[2] for request in sim.received[-7:]}
    assert on_the_wire == {f"{span.context.span_id:016x}" for span in spans}, "each request names its own span"


async def test_async_requests_and_errors(traced: Traced, sim: SimServer) -> None:
    async with anthropic.AsyncAnthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        await client.messages.count_tokens(model="claude-haiku-4-5", messages=PROMPT)
        await client.models.retrieve("claude-haiku-4-5")
        with pytest.raises(anthropic.NotFoundError):
            await client.messages.batches.retrieve("msgbatch_missing")
    names = [s.name for s in traced.spans()]
    assert names == ["messages.count_tokens claude-haiku-4-5", "models.retrieve", "messages.batches.retrieve"]
    failed = traced.spans()[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[semconv.ERROR_TYPE] == "not_found_error"
