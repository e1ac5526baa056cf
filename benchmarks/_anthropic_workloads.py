"""The three Anthropic call workloads the peer benchmark times, over loopback HTTP or an in-process mock.

Workloads: ``messages.create`` (non-streaming), ``messages.create(stream=True)`` read to the end (50 text
deltas) and the ``messages.stream()`` helper with ``until_done()`` (50 deltas). The mock transport
(``httpx2.MockTransport``) returns the same canned bodies the simulator would, without a socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agent_anatomy import semconv
from agent_anatomy.sim.protocol import Block, message_body, sse, stream_events

MODEL = "claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": "Where is my refund?"}]
DELTAS = 50
USAGE = {"input_tokens": 20, "output_tokens": DELTAS, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
WORKLOADS = ("create", "stream", "helper")
TRANSPORTS = ("http", "mock")


def canned_bodies() -> tuple[bytes, bytes]:
    """The JSON body of a message and the SSE body of the same message streamed, as the simulator sends them."""
    fields: dict[str, Any] = {
        "message_id": "msg_bench",
        "model": MODEL,
        "blocks": [Block("text", tuple(f"w{i} " for i in range(DELTAS)))],
        "stop_reason": "end_turn",
        "usage": USAGE,
    }
    head, body, tail = stream_events(**fields)
    streamed = b"".join(sse(e) for e in head) + b"".join(sse(e) for e, _ in body) + b"".join(sse(e) for e in tail)
    return json.dumps(message_body(**fields)).encode(), streamed


def client(transport: str, base_url: str, sdk_tracing: bool) -> anthropic.Anthropic:
    """A client over ``transport``; ``sdk_tracing`` leaves the SDK's own tracing at its default (on)."""
    options: dict[str, Any] = {"api_key": "bench", "max_retries": 0, "open_telemetry": None if sdk_tracing else False}
    if transport == "http":
        return anthropic.Anthropic(base_url=base_url, **options)
    plain, streamed = canned_bodies()

    def handler(request: httpx2.Request) -> httpx2.Response:
        if b'"stream":true' in request.content:
            return httpx2.Response(200, content=streamed, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, content=plain, headers={"content-type": "application/json"})

    return anthropic.Anthropic(
        base_url="http://mock.invalid", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)), **options
    )


def workloads(anthropic_client: anthropic.Anthropic) -> dict[str, Callable[[], None]]:
    headers = {"x-sim-tokens": str(DELTAS)}
    messages = anthropic_client.messages

    def create() -> None:
        messages.create(model=MODEL, max_tokens=512, messages=MESSAGES, extra_headers=headers)

    def stream() -> None:
        for _ in messages.create(model=MODEL, max_tokens=512, messages=MESSAGES, stream=True, extra_headers=headers):
            pass

    def helper() -> None:
        with messages.stream(model=MODEL, max_tokens=512, messages=MESSAGES, extra_headers=headers) as s:
            s.until_done()

    return {"create": create, "stream": stream, "helper": helper}


def floor_span(tracer: trace.Tracer, call: Callable[[], None], workload: str) -> Callable[[], None]:
    """The uninstrumented call inside one bare OTel SDK span carrying what ours carries for ``workload``: the floor.

    The same attributes (a streamed call's times and how its stream ended too) and, for a stream, the same
    first-token event; the values are constants, since a bare span observes nothing.
    """
    streamed = workload != "create"
    start: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_PROVIDER_NAME: "anthropic",
        semconv.ANATOMY_LLM_API: "messages.stream" if workload == "helper" else "messages.create",
        semconv.GEN_AI_REQUEST_MODEL: MODEL,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: 8765,
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 512,
    }
    end: dict[str, Any] = {
        semconv.GEN_AI_RESPONSE_ID: "msg_bench",
        semconv.GEN_AI_RESPONSE_MODEL: MODEL,
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ["end_turn"],
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 20,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 0,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: DELTAS,
    }
    if streamed:
        start[semconv.GEN_AI_REQUEST_STREAM] = True
        end.update(
            {
                semconv.ANATOMY_STREAM_END: "completed",
                semconv.ANATOMY_LLM_TIME_TO_HEADERS: 0.001,
                semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.01,
                semconv.ANATOMY_LLM_GENERATION_TIME: 0.005,
                semconv.ANATOMY_LLM_TIME_TO_FIRST_TEXT: 0.01,
                semconv.ANATOMY_LLM_OUTPUT_TOKENS_PER_SECOND: 10_000.0,
            }
        )

    def run() -> None:
        span = tracer.start_span(f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=start)
        call()
        if streamed:
            span.add_event(semconv.EVENT_FIRST_TOKEN)
        span.set_attributes(end)
        span.end()

    return run
