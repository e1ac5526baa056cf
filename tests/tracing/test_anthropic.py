"""AnthropicInstrumentor with the real anthropic SDK against the simulator over loopback."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.lib.streaming import AsyncMessageStream, MessageStream
from anthropic.types import Message
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.sim import SimServer
from agent_anatomy.tracing import streams
from tests.conftest import Traced

API_KEY = "sk-ant-test-SECRET-KEY-0123456789"
MODEL = "claude-haiku-4-5"
PROMPT = [{"role": "user", "content": "Where is my refund? PROMPT-MARKER"}]


def timing(ttft_ms: int = 300, tokens: int = 20, generation_ms: int = 200, **extra: str) -> dict[str, str]:
    return {"x-sim-ttft-ms": str(ttft_ms), "x-sim-tokens": str(tokens), "x-sim-generation-ms": str(generation_ms)} | {
        f"x-sim-{k.replace('_', '-')}": v for k, v in extra.items()
    }


@pytest.fixture
def client(sim: SimServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=sim.base_url, api_key=API_KEY, max_retries=0) as c:
        yield c


@pytest.fixture
async def aclient(sim: SimServer):
    async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key=API_KEY, max_retries=0) as c:
        yield c


def llm_spans(traced: Traced) -> list[ReadableSpan]:
    return [s for s in traced.spans() if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == "chat"]


def only_llm_span(traced: Traced) -> ReadableSpan:
    spans = llm_spans(traced)
    assert len(spans) == 1, [s.name for s in traced.spans()]
    return spans[0]


def seconds(span: ReadableSpan) -> float:
    return (span.end_time - span.start_time) / 1e9


# --- latency controls -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_speed_service_tier_and_a_cache_miss_reason_are_on_the_span(
    traced: Traced, client: anthropic.Anthropic, stream: bool
) -> None:
    system = [{"type": "text", "text": "Policy. " * 600, "cache_control": {"type": "ephemeral"}}]
    first = client.messages.create(
        model="claude-opus-5-5", max_tokens=8, system=system, messages=PROMPT, extra_headers=timing(5, 4, 5)
    )
    request: dict[str, Any] = {
        "model": "claude-opus-5-5",
        "max_tokens": 8,
        "system": system,
        "messages": PROMPT,
        "speed": "fast",
        "service_tier": "auto",
        "diagnostics": {"previous_message_id": first.id},
        "extra_headers": timing(5, 4, 5),
    }
    if stream:
        with client.messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**request)
    assert message.usage.speed == "fast"
    plain, fast = llm_spans(traced)
    assert fast.attributes[semconv.ANATOMY_LLM_REQUEST_SPEED] == "fast"
    assert fast.attributes[semconv.ANATOMY_LLM_SPEED] == "fast"
    assert fast.attributes[semconv.ANATOMY_LLM_REQUEST_SERVICE_TIER] == "auto"
    assert fast.attributes[semconv.ANATOMY_LLM_SERVICE_TIER] == "standard"
    assert fast.attributes[semconv.ANATOMY_LLM_CACHE_DIAGNOSED] is True
    assert fast.attributes[semconv.ANATOMY_LLM_CACHE_MISS_REASON] == "model_changed", "a speed change misses too"
    assert fast.attributes[semconv.ANATOMY_LLM_CACHE_MISSED_TOKENS] == first.usage.cache_creation_input_tokens
    for key in (semconv.ANATOMY_LLM_REQUEST_SPEED, semconv.ANATOMY_LLM_CACHE_DIAGNOSED):
        assert key not in plain.attributes


# --- plain calls ---------------------------------------------------------------------------------------


def test_create_gives_one_client_span_with_genai_attributes(
    traced: Traced, client: anthropic.Anthropic, sim: SimServer
) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=256,
        stop_sequences=["END"],
        messages=PROMPT,
        extra_headers=timing(300, 20, 200),
    )
    assert type(message) is Message, "the call returns exactly what the SDK returns"
    span = only_llm_span(traced)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes)
    expected = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_PROVIDER_NAME: "anthropic",
        semconv.GEN_AI_REQUEST_MODEL: MODEL,
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 256,
        semconv.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
        semconv.ANATOMY_LLM_API: "messages.create",
        semconv.GEN_AI_RESPONSE_ID: message.id,
        semconv.GEN_AI_RESPONSE_MODEL: MODEL,
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("end_turn",),
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 20,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: message.usage.input_tokens,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 0,
        semconv.ANATOMY_LLM_SERVICE_TIER: "standard",
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: sim.port,
    }
    assert attributes == expected
    assert seconds(span) >= 0.5, "span covers the injected 300 ms TTFT + 200 ms generation"
    assert span.status.status_code is StatusCode.UNSET


def test_input_tokens_include_cache_reads_and_writes(traced: Traced, client: anthropic.Anthropic) -> None:
    # above the model's shortest cacheable prefix (4,096 tokens on Haiku 4.5), or nothing is cached
    system = [{"type": "text", "text": "You are a support agent. " * 900, "cache_control": {"type": "ephemeral"}}]
    first = client.messages.create(model=MODEL, max_tokens=50, system=system, messages=PROMPT, extra_headers=timing(0))
    second = client.messages.create(model=MODEL, max_tokens=50, system=system, messages=PROMPT, extra_headers=timing(0))
    write_span, read_span = llm_spans(traced)
    assert first.usage.cache_creation_input_tokens > 0 and second.usage.cache_read_input_tokens > 0
    assert (
        write_span.attributes[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == first.usage.cache_creation_input_tokens
    )
    assert read_span.attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == second.usage.cache_read_input_tokens
    assert read_span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == (
        second.usage.input_tokens + second.usage.cache_read_input_tokens
    )


# --- streams: timing ------------------------------------------------------------------------------------


def _assert_stream_timing(span: ReadableSpan, ttft_s: float, generation_s: float) -> None:
    attributes = span.attributes
    assert attributes[semconv.GEN_AI_REQUEST_STREAM] is True
    assert attributes[semconv.ANATOMY_STREAM_END] == semconv.STREAM_END_COMPLETED
    measured = attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    # Never before the injected latency; generous after it (a multiple), for a loaded machine. message_start,
    # which a wrong TTFT would use, arrives with the headers, a whole ttft_s earlier.
    assert ttft_s - 0.005 <= measured < ttft_s * 2, f"TTFT {measured * 1000:.1f} ms vs injected {ttft_s * 1000:.0f} ms"
    generation = attributes[semconv.ANATOMY_LLM_GENERATION_TIME]
    # A first token read late shortens the measured generation; the two together never beat the schedule.
    assert measured + generation >= ttft_s + generation_s - 0.01
    assert 0 < generation < generation_s * 3
    assert attributes[semconv.ANATOMY_LLM_TIME_TO_HEADERS] < ttft_s
    assert attributes[semconv.ANATOMY_LLM_OUTPUT_TOKENS_PER_SECOND] == pytest.approx(
        attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] / attributes[semconv.ANATOMY_LLM_GENERATION_TIME]
    )
    assert seconds(span) >= ttft_s + generation_s - 0.005
    [event] = [e for e in span.events if e.name == semconv.EVENT_FIRST_TOKEN]
    assert ttft_s - 0.005 <= (event.timestamp - span.start_time) / 1e9 < ttft_s + 0.1


def test_create_stream_true_times_first_token(traced: Traced, client: anthropic.Anthropic) -> None:
    stream = client.messages.create(
        model=MODEL, max_tokens=256, messages=PROMPT, stream=True, extra_headers=timing(300, 20, 200)
    )
    assert isinstance(stream, anthropic.Stream)
    kinds = [event.type for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    span = only_llm_span(traced)
    _assert_stream_timing(span, 0.3, 0.2)
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)


@pytest.mark.parametrize("helper", ["text_stream", "get_final_message", "until_done", "iterate"])
def test_messages_stream_helpers(traced: Traced, client: anthropic.Anthropic, helper: str) -> None:
    with client.messages.stream(model=MODEL, max_tokens=256, messages=PROMPT, extra_headers=timing(250, 20, 200)) as s:
        assert type(s) is MessageStream
        if helper == "text_stream":
            text = "".join(s.text_stream)
            assert text == s.get_final_text()
        elif helper == "get_final_message":
            assert s.get_final_message().usage.output_tokens == 20
        elif helper == "until_done":
            s.until_done()
        else:
            assert sum(1 for _ in s) > 20
    span = only_llm_span(traced)
    assert span.attributes[semconv.ANATOMY_LLM_API] == "messages.stream"
    _assert_stream_timing(span, 0.25, 0.2)


def test_ttft_is_the_first_content_delta_not_message_start(traced: Traced, client: anthropic.Anthropic) -> None:
    """message_start arrives with the headers; the first token only after the injected TTFT."""
    with client.messages.stream(model=MODEL, max_tokens=256, messages=PROMPT, extra_headers=timing(400, 5, 50)) as s:
        s.until_done()
    span = only_llm_span(traced)
    ttft = span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert ttft > 0.38
    assert span.attributes[semconv.ANATOMY_LLM_TIME_TO_HEADERS] < ttft / 2, "headers come long before the token"


# --- streams: every way to end ---------------------------------------------------------------------------


def _stream_end(traced: Traced) -> str:
    return only_llm_span(traced).attributes[semconv.ANATOMY_STREAM_END]


def test_stream_closed_early(traced: Traced, client: anthropic.Anthropic) -> None:
    stream = client.messages.create(
        model=MODEL, max_tokens=256, messages=PROMPT, stream=True, extra_headers=timing(0, 50, 500)
    )
    next(iter(stream))
    stream.close()
    assert _stream_end(traced) == semconv.STREAM_END_CLOSED


def test_break_then_with_exit(traced: Traced, client: anthropic.Anthropic) -> None:
    with client.messages.create(
        model=MODEL, max_tokens=256, messages=PROMPT, stream=True, extra_headers=timing(0, 50, 500)
    ) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                break
    span = only_llm_span(traced)
    assert span.attributes[semconv.ANATOMY_STREAM_END] == semconv.STREAM_END_CLOSED
    assert semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes


def test_manager_with_block_left_early(traced: Traced, client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=256, messages=PROMPT, extra_headers=timing(0, 50, 500)) as s:
        next(iter(s.text_stream))
    assert _stream_end(traced) == semconv.STREAM_END_CLOSED


def test_manager_with_block_left_by_exception(traced: Traced, client: anthropic.Anthropic) -> None:
    with (
        pytest.raises(KeyError),
        client.messages.stream(model=MODEL, max_tokens=256, messages=PROMPT, extra_headers=timing(0, 50, 500)),
    ):
        raise KeyError("user code failed")
    span = only_llm_span(traced)
    assert span.attributes[semconv.ANATOMY_STREAM_END] == semconv.STREAM_END_CLOSED
    assert span.status.status_code is StatusCode.UNSET, "the user's error is not the LLM call's"


def test_manager_with_block_left_by_ctrl_c_fails_the_call(traced: Traced, client: anthropic.Anthropic) -> None:
    """An interruption is not the user's error but the call's end: Ctrl-C mid-answer cuts the call."""
    with (
        pytest.raises(KeyboardInterrupt),
        client.messages.stream(model=MODEL, max_tokens=256, messages=PROMPT, extra_headers=timing(0, 50, 500)),
    ):
        raise KeyboardInterrupt
    span = only_llm_span(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "KeyboardInterrupt"
    assert span.attributes[semconv.ANATOMY_STREAM_END] == semconv.STREAM_END_ERROR


def test_abandoned_stream_ends_on_garbage_collection(traced: Traced, client: anthropic.Anthropic) -> None:
    stream = client.messages.create(
        model=MODEL, max_tokens=256, messages=PROMPT, stream=True, extra_headers=timing(0, 50, 500)
    )
    next(iter(stream))
    assert llm_spans(traced) == []
    del stream
    gc.collect()
    assert _stream_end(traced) == semconv.STREAM_END_ABANDONED


async def test_async_stream_left_mid_way_ends_on_garbage_collection(
    traced: Traced, aclient: anthropic.AsyncAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    stream = await aclient.messages.create(
        model=MODEL, max_tokens=256, messages=PROMPT, stream=True, extra_headers=timing(0, 50, 500)
    )
    async for event in stream:
        if event.type == "content_block_delta":
            break  # past the first text: the proxy now passes text deltas straight on
    assert llm_spans(traced) == []
    del stream, event
    for _ in range(10):  # the loop closes abandoned async generators in tasks of its own, one after another
        gc.collect()
        await asyncio.sleep(0)
        if llm_spans(traced):
            break
    assert _stream_end(traced) == semconv.STREAM_END_ABANDONED
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no task or generator error logged"


def test_stream_cut_mid_way_ends_with_error(traced: Traced, client: anthropic.Anthropic) -> None:
    # anthropic 2.17 raises the cut as its APIConnectionError (the transport's error as its cause); earlier
    # releases let the transport's RemoteProtocolError through. Either way the span names what was raised.
    with (
        pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)) as raised,
        client.messages.stream(
            model=MODEL, max_tokens=256, messages=PROMPT, extra_headers=timing(0, 50, 200, cut_after="5")
        ) as s,
    ):
        s.until_done()
    cut = raised.value if isinstance(raised.value, httpx2.RemoteProtocolError) else raised.value.__cause__
    assert isinstance(cut, httpx2.RemoteProtocolError), "the connection was cut mid-way"
    span = only_llm_span(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ANATOMY_STREAM_END] == semconv.STREAM_END_ERROR
    raised_type = type(raised.value)
    assert span.attributes[semconv.ERROR_TYPE] == f"{raised_type.__module__}.{raised_type.__qualname__}"
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == (semconv.FINISH_REASON_ERROR,)


# --- errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exc_type", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.APIStatusError, "overloaded_error"),
    ],
)
def test_api_errors(traced: Traced, client: anthropic.Anthropic, status: int, exc_type: type, error_type: str) -> None:
    with pytest.raises(exc_type) as raised:
        client.messages.create(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers={"x-sim-status": str(status)})
    assert raised.value.status_code == status
    span = only_llm_span(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == error_type
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == status
    assert [e.name for e in span.events] == ["exception"]


def test_connection_error(traced: Traced) -> None:
    from tests._receivers import closed_port

    url = f"http://127.0.0.1:{closed_port()}"
    with (
        anthropic.Anthropic(base_url=url, api_key=API_KEY, max_retries=0) as c,
        pytest.raises(anthropic.APIConnectionError),
    ):
        c.messages.create(model=MODEL, max_tokens=10, messages=PROMPT)
    span = only_llm_span(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "anthropic.APIConnectionError"


# --- async twins ----------------------------------------------------------------------------------------------


async def test_async_create_and_stream(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    message = await aclient.messages.create(model=MODEL, max_tokens=64, messages=PROMPT, extra_headers=timing(0))
    assert type(message) is Message
    stream = await aclient.messages.create(
        model=MODEL, max_tokens=64, messages=PROMPT, stream=True, extra_headers=timing(300, 20, 200)
    )
    assert isinstance(stream, anthropic.AsyncStream)
    events = [event async for event in stream]
    assert events[-1].type == "message_stop"
    plain, streamed = llm_spans(traced)
    assert semconv.GEN_AI_REQUEST_STREAM not in plain.attributes, "written only on a streamed call"
    _assert_stream_timing(streamed, 0.3, 0.2)


async def test_async_messages_stream_context_manager(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    async with aclient.messages.stream(
        model=MODEL, max_tokens=64, messages=PROMPT, extra_headers=timing(250, 20, 200)
    ) as s:
        assert type(s) is AsyncMessageStream
        text = "".join([chunk async for chunk in s.text_stream])
        assert text == (await s.get_final_message()).content[0].text
    _assert_stream_timing(only_llm_span(traced), 0.25, 0.2)


async def test_async_stream_closed_early_and_error(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    async with aclient.messages.stream(
        model=MODEL, max_tokens=64, messages=PROMPT, extra_headers=timing(0, 50, 500)
    ) as s:
        async for _ in s.text_stream:
            break
    with pytest.raises(anthropic.APIStatusError):
        await aclient.messages.create(
            model=MODEL, max_tokens=10, messages=PROMPT, extra_headers={"x-sim-status": "529"}
        )
    closed, failed = llm_spans(traced)
    assert closed.attributes[semconv.ANATOMY_STREAM_END] == semconv.STREAM_END_CLOSED
    assert failed.attributes[semconv.ERROR_TYPE] == "overloaded_error"


async def test_async_cancellation_ends_the_span(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    task = asyncio.create_task(
        aclient.messages.create(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(2000))
    )
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = only_llm_span(traced)
    assert span.end_time is not None
    assert span.attributes[semconv.ANATOMY_LLM_CANCELLED] is True
    assert semconv.ERROR_TYPE not in span.attributes, "the application stopping a call is not an error"
    assert span.status.status_code is StatusCode.UNSET


# --- raw responses and beta -----------------------------------------------------------------------------------


def test_with_raw_response(traced: Traced, client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=PROMPT, extra_headers=timing(0, 12)
    )
    assert type(raw) is anthropic.APIResponse
    assert raw.parse().usage.output_tokens == 12
    span = only_llm_span(traced)
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 12
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == raw.parse().id


def test_with_streaming_response_ends_at_headers(traced: Traced, client: anthropic.Anthropic) -> None:
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=64, messages=PROMPT, stream=True, extra_headers=timing(0, 5)
    ) as response:
        assert b"message_stop" in b"".join(response.iter_bytes())
    assert _stream_end(traced) == semconv.STREAM_END_UNOBSERVED


def test_beta_messages(traced: Traced, client: anthropic.Anthropic) -> None:
    client.beta.messages.create(model=MODEL, max_tokens=64, messages=PROMPT, extra_headers=timing(0))
    with client.beta.messages.stream(
        model=MODEL, max_tokens=64, messages=PROMPT, extra_headers=timing(100, 5, 50)
    ) as s:
        s.until_done()
    plain, streamed = llm_spans(traced)
    assert plain.attributes[semconv.ANATOMY_LLM_API] == "beta.messages.create"
    assert streamed.attributes[semconv.ANATOMY_LLM_API] == "beta.messages.stream"
    assert streamed.attributes[semconv.ANATOMY_STREAM_END] == semconv.STREAM_END_COMPLETED


# --- one LLM span with the SDK's own tracing at its default ----------------------------------------------------


def test_exactly_one_llm_span_with_sdk_tracing_on(otel_globals: None, sim: SimServer) -> None:
    handle = aa.configure(exporter="memory", metrics=False, instrument=False)
    with anthropic.Anthropic(base_url=sim.base_url, api_key=API_KEY, max_retries=0) as c:
        c.messages.create(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0))
        names_uninstrumented = [s.name for s in handle.finished_spans()]
        aa.instrument_anthropic()
        c.messages.create(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0))
        with c.messages.stream(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0)) as s:
            s.until_done()
        names_instrumented = [s.name for s in handle.finished_spans()][len(names_uninstrumented) :]
        aa.uninstrument_anthropic()
        c.messages.create(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0))
        names_after = [s.name for s in handle.finished_spans()][len(names_uninstrumented) + 2 :]
    assert names_uninstrumented == ["anthropic.messages.create"], "control: the SDK traces itself by default"
    assert names_instrumented == [f"chat {MODEL}", f"chat {MODEL}"]
    assert names_after == ["anthropic.messages.create"], "uninstrument gives the client its own tracing back"


def test_instrument_uninstrument_instrument(traced: Traced, client: anthropic.Anthropic) -> None:
    counts = []
    for action in (aa.instrument_anthropic, aa.uninstrument_anthropic, aa.instrument_anthropic):
        action()
        before = len(llm_spans(traced))
        client.messages.create(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0))
        counts.append(len(llm_spans(traced)) - before)
    assert counts == [1, 0, 1]


def test_adopting_the_raw_stream_touches_one_private_attribute(client: anthropic.Anthropic, traced: Traced) -> None:
    with client.messages.stream(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0)) as s:
        assert isinstance(s._raw_stream, streams.SyncStreamProxy)
        assert isinstance(s._raw_stream, anthropic.Stream)


# --- context, content, metrics --------------------------------------------------------------------------------


def test_llm_span_nests_under_agent_and_is_not_current_while_streaming(
    traced: Traced, client: anthropic.Anthropic
) -> None:
    @aa.tool
    def on_token() -> None:
        return None

    @aa.agent
    def support() -> None:
        with client.messages.stream(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0, 3)) as s:
            for _ in s.text_stream:
                on_token()

    support()
    agent_span = traced.span("invoke_agent support")
    llm = only_llm_span(traced)
    tools = [s for s in traced.spans() if s.name == "execute_tool on_token"]
    assert llm.parent.span_id == agent_span.context.span_id
    assert tools and all(t.parent.span_id == agent_span.context.span_id for t in tools)


def _all_attribute_text(spans: list[ReadableSpan]) -> str:
    parts = []
    for span in spans:
        parts.extend(str(v) for v in span.attributes.values())
        for event in span.events:
            parts.extend(str(v) for v in (event.attributes or {}).values())
    return "\n".join(parts)


def test_no_content_and_never_the_api_key_by_default(traced: Traced, client: anthropic.Anthropic) -> None:
    client.messages.create(model=MODEL, max_tokens=10, system="SYSTEM-MARKER", messages=PROMPT, extra_headers=timing(0))
    text = _all_attribute_text(traced.spans())
    assert "PROMPT-MARKER" not in text and "SYSTEM-MARKER" not in text
    assert API_KEY not in text
    assert all(semconv.GEN_AI_OUTPUT_MESSAGES not in span.attributes for span in llm_spans(traced))


def test_content_when_capture_is_on(traced_with_content: Traced, client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=10, system="SYSTEM-MARKER", messages=PROMPT, extra_headers=timing(0, 4)
    )
    with client.messages.stream(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0, 4)) as s:
        streamed_text = s.get_final_text()
    plain, streamed = llm_spans(traced_with_content)
    assert "PROMPT-MARKER" in plain.attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert "SYSTEM-MARKER" in plain.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert message.content[0].text in plain.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]
    assert streamed_text in streamed.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]
    assert API_KEY not in _all_attribute_text(traced_with_content.spans())


def test_metrics_with_low_cardinality_attributes(traced: Traced, client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=64, messages=PROMPT, extra_headers=timing(200, 10, 100)) as s:
        s.until_done()
    data = traced.metric_reader.get_metrics_data()
    points: dict[str, list[Any]] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points[metric.name] = list(metric.data.data_points)
    [duration] = points[semconv.METRIC_CLIENT_OPERATION_DURATION]
    [ttft] = points[semconv.METRIC_CLIENT_TIME_TO_FIRST_CHUNK]
    tokens = points[semconv.METRIC_CLIENT_TOKEN_USAGE]
    span = only_llm_span(traced)
    assert duration.sum >= 0.3 and ttft.sum >= 0.195, "never less than the injected 300 ms and 200 ms"
    assert ttft.sum == pytest.approx(span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])
    assert duration.sum == pytest.approx(seconds(span), rel=0.25), "the metric measures the span's interval"
    assert sorted(p.attributes[semconv.GEN_AI_TOKEN_TYPE] for p in tokens) == ["input", "output"]
    assert duration.attributes[semconv.GEN_AI_REQUEST_MODEL] == MODEL
    assert duration.attributes[semconv.GEN_AI_RESPONSE_MODEL] == MODEL
    assert semconv.GEN_AI_RESPONSE_ID not in duration.attributes
    assert list(duration.explicit_bounds)[:3] == [0.01, 0.02, 0.04]


# --- instrumentation never gets in the way -------------------------------------------------------------------


def test_broken_extraction_is_logged_once_and_the_call_returns(
    traced: Traced, client: anthropic.Anthropic, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_anatomy.tracing import _llm_call

    def broken(self: Any, message: object) -> None:
        raise RuntimeError("extraction bug")

    monkeypatch.setattr(_llm_call.LLMInvocation, "_take_message", broken)
    monkeypatch.setattr(_llm_call, "_warned", set())
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            message = client.messages.create(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0))
            assert type(message) is Message
    assert caplog.text.count("could not read the response for the LLM span") == 1
    assert len(llm_spans(traced)) == 2 and all(s.end_time for s in llm_spans(traced))


def test_suppressed_instrumentation_makes_no_span(traced: Traced, client: anthropic.Anthropic) -> None:
    with suppress_instrumentation():
        client.messages.create(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0))
        with client.messages.stream(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0)) as s:
            s.until_done()
    assert llm_spans(traced) == []


def test_not_recording_span_gets_no_attributes_and_call_works(client: anthropic.Anthropic) -> None:
    handle = aa.configure(exporter="memory", tracer_provider=TracerProvider(sampler=ALWAYS_OFF), metrics=False)
    with client.messages.stream(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0, 3)) as s:
        assert s.get_final_text()
    assert client.messages.create(model=MODEL, max_tokens=10, messages=PROMPT, extra_headers=timing(0)).id
    assert handle.finished_spans() == []


def test_sync_and_async_proxies_have_matching_hooks() -> None:
    pairs = [
        (
            streams.SyncStreamProxy,
            streams.AsyncStreamProxy,
            [("__next__", "__anext__"), ("close", "close"), ("__iter__", "__aiter__"), ("__del__", "__del__")],
        ),
        (
            streams.StreamManagerProxy,
            streams.AsyncStreamManagerProxy,
            [("__enter__", "__aenter__"), ("__exit__", "__aexit__")],
        ),
    ]
    for sync_cls, async_cls, methods in pairs:
        for sync_name, async_name in methods:
            sync_sig = inspect.signature(getattr(sync_cls, sync_name))
            async_sig = inspect.signature(getattr(async_cls, async_name))
            assert list(sync_sig.parameters) == list(async_sig.parameters), (sync_cls, sync_name)
