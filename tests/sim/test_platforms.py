"""The simulator as Bedrock, Vertex AI and the rest of the API see it: the real SDK clients over HTTP.

Bedrock's streams go out in AWS event-stream framing (decoded by botocore in the SDK), Vertex's on its
``rawPredict`` / ``streamRawPredict`` paths; extended thinking streams reasoning before the answer on
its own schedule; ``count_tokens``, ``models`` and message batches answer as the API does.
"""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx2
import pytest

from agent_anatomy.sim import SimServer
from agent_anatomy.sim.platforms import route

PROMPT = [{"role": "user", "content": "hi"}]
BEDROCK_MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
VERTEX_MODEL = "claude-haiku-4-5@20251001"


def cloud_client(kind: str, sim: SimServer, is_async: bool = False) -> Any:
    """A real SDK client of ``kind`` pointed at the simulator, with fake credentials."""
    if kind == "bedrock":
        cls = anthropic.AsyncAnthropicBedrock if is_async else anthropic.AnthropicBedrock
        return cls(
            aws_access_key="AKIAFAKE", aws_secret_key="fake", aws_region="us-east-1", base_url=sim.base_url
        ).with_options(max_retries=0)
    if kind == "vertex":
        cls = anthropic.AsyncAnthropicVertex if is_async else anthropic.AnthropicVertex
        return cls(
            region="us-east5", project_id="fake-project", access_token="fake-token", base_url=f"{sim.base_url}/v1"
        ).with_options(max_retries=0)
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(api_key="sk-test", base_url=sim.base_url, max_retries=0)


MODELS = {"bedrock": BEDROCK_MODEL, "vertex": VERTEX_MODEL, "first party": "claude-haiku-4-5"}


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/v1/messages", ("anthropic", "messages", None, None)),
        ("POST", "/v1/messages/count_tokens", ("anthropic", "count_tokens", None, None)),
        (
            "POST",
            "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-x@2025:streamRawPredict",
            ("vertex", "messages", "claude-x@2025", None),
        ),
        (
            "POST",
            "/projects/p/locations/global/publishers/anthropic/models/count-tokens:rawPredict",
            ("vertex", "count_tokens", None, None),
        ),
        ("POST", "/model/anthropic.claude-x-v1:0/invoke", ("bedrock", "messages", "anthropic.claude-x-v1:0", False)),
        ("POST", "/model/m/invoke-with-response-stream", ("bedrock", "messages", "m", True)),
    ],
)
def test_routes(method: str, path: str, expected: tuple[object, ...]) -> None:
    found = route(method, path)
    assert found is not None
    assert (found.platform, found.endpoint, found.model, found.stream) == expected


@pytest.mark.parametrize("path", ["/v1/messages/x", "/model/m/converse", "/projects/p/models/m:rawPredict"])
def test_other_paths_are_not_messages_routes(path: str) -> None:
    assert route("POST", path) is None
    assert route("GET", "/v1/messages") is None


@pytest.mark.parametrize("kind", ["bedrock", "vertex"])
def test_cloud_clients_create_and_stream(sim: SimServer, kind: str) -> None:
    client = cloud_client(kind, sim)
    headers = {"x-sim-ttft-ms": "0", "x-sim-generation-ms": "0"}
    message = client.messages.create(model=MODELS[kind], max_tokens=20, messages=PROMPT, extra_headers=headers)
    assert message.model == MODELS[kind]
    assert message.content[0].type == "text"
    with client.messages.stream(model=MODELS[kind], max_tokens=20, messages=PROMPT, extra_headers=headers) as stream:
        final = stream.get_final_message()
    assert final.content[0].text and final.usage.output_tokens >= 1
    paths = [r.path for r in sim.received[-2:]]
    if kind == "bedrock":
        assert paths == [f"/model/{BEDROCK_MODEL}/invoke", f"/model/{BEDROCK_MODEL}/invoke-with-response-stream"]
    else:
        assert [p.rsplit(":", 1)[1] for p in paths] == ["rawPredict", "streamRawPredict"]


@pytest.mark.parametrize("kind", ["bedrock", "vertex"])
async def test_cloud_stream_keeps_the_injected_first_token_time(sim: SimServer, kind: str) -> None:
    """The first event after the head arrives no sooner than the injected TTFT, over each platform's framing."""
    ttft = 0.3
    first = None
    async with cloud_client(kind, sim, is_async=True) as client:
        started = time.perf_counter()
        stream = await client.messages.create(
            model=MODELS[kind],
            max_tokens=20,
            messages=PROMPT,
            stream=True,
            extra_headers={"x-sim-ttft-ms": str(ttft * 1000), "x-sim-generation-ms": "0"},
        )
        async for event in stream:
            if event.type == "content_block_delta" and first is None:
                first = time.perf_counter() - started
    assert first is not None
    assert ttft <= first < ttft * 4


def test_thinking_streams_reasoning_then_the_answer(sim: SimServer) -> None:
    """Thinking deltas from the first-token time, the signature, a redacted block, then text after the
    thinking time: the visible answer starts ttft + thinking after the request."""
    client = cloud_client("first party", sim)
    ttft, thinking = 0.05, 0.4
    headers = {
        "x-sim-ttft-ms": str(ttft * 1000),
        "x-sim-thinking-ms": str(thinking * 1000),
        "x-sim-thinking-tokens": "40",
        "x-sim-redacted-thinking": "1",
        "x-sim-generation-ms": "0",
    }
    seen: list[tuple[str, float]] = []
    started = time.perf_counter()
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=PROMPT,
        extra_headers=headers,
    ) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                seen.append((event.delta.type, time.perf_counter() - started))
        final = stream.get_final_message()
    kinds = [kind for kind, _ in seen]
    assert kinds[0] == "thinking_delta"
    assert kinds.count("thinking_delta") == 40
    assert kinds.index("signature_delta") < kinds.index("text_delta")
    first_text = next(at for kind, at in seen if kind == "text_delta")
    assert ttft + thinking <= first_text < (ttft + thinking) * 3
    assert seen[0][1] < first_text - thinking / 2
    assert [block.type for block in final.content] == ["thinking", "redacted_thinking", "text"]
    assert final.content[0].signature
    details = final.usage.output_tokens_details
    assert details is not None and details.thinking_tokens == 40
    assert final.usage.output_tokens > 40


def test_thinking_display_omitted_sends_only_the_signature(sim: SimServer) -> None:
    client = cloud_client("first party", sim)
    message = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=2048,
        thinking={"type": "adaptive", "display": "omitted"},
        messages=PROMPT,
        extra_headers={"x-sim-ttft-ms": "0", "x-sim-thinking-ms": "0", "x-sim-generation-ms": "0"},
    )
    assert message.content[0].type == "thinking"
    assert message.content[0].thinking == "" and message.content[0].signature


@pytest.mark.parametrize(
    ("thinking", "message"),
    [
        ({"type": "enabled", "budget_tokens": 100}, "greater than or equal to 1024"),
        ({"type": "enabled", "budget_tokens": 4096}, "max_tokens must be greater than thinking.budget_tokens"),
        ({"type": "sometimes"}, "thinking.type"),
    ],
)
def test_bad_thinking_is_invalid_request(sim: SimServer, thinking: dict[str, Any], message: str) -> None:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 2048, "messages": PROMPT, "thinking": thinking}
    response = httpx2.post(f"{sim.base_url}/v1/messages", json=body, headers={"x-api-key": "k"})
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["first party", "vertex"])
def test_count_tokens(sim: SimServer, kind: str) -> None:
    client = cloud_client(kind, sim)
    short = client.messages.count_tokens(model=MODELS[kind], messages=PROMPT)
    long = client.messages.count_tokens(model=MODELS[kind], messages=[{"role": "user", "content": "word " * 400}])
    assert 1 <= short.input_tokens < long.input_tokens


def test_models_and_batches(sim: SimServer) -> None:
    client = cloud_client("first party", sim)
    listed = [model.id for model in client.models.list()]
    assert "claude-haiku-4-5" in listed
    assert client.models.retrieve("claude-haiku-4-5").id == "claude-haiku-4-5"
    params = {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": PROMPT}
    batch = client.messages.batches.create(
        requests=[{"custom_id": "a", "params": params}, {"custom_id": "b", "params": params}]
    )
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"
    results = {item.custom_id: item.result for item in client.messages.batches.results(batch.id)}
    assert set(results) == {"a", "b"}
    assert all(result.type == "succeeded" for result in results.values())
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_unknown")
