"""What an instrumented client puts on the wire, and which client classes get their one ``chat`` span.

Instrumenting must not change what the SDK sends: the SDK's own ``traceparent`` / ``tracestate`` /
``baggage`` headers stay, and now name our ``chat`` span as the parent. Every client class the SDK
exposes a Messages API on (first party, Bedrock, Vertex; sync and async; plain and beta) gives one span
per call, whatever the import order.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
import subprocess
import sys
import textwrap
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.trace import ReadableSpan

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.sim import SimServer
from agent_anatomy.sim.server import ReceivedRequest
from tests.conftest import Traced

MODEL = "claude-haiku-4-5"
PROMPT = [{"role": "user", "content": "Where is my refund?"}]
NO_WAIT = {"x-sim-ttft-ms": "0", "x-sim-tokens": "3", "x-sim-generation-ms": "0"}
TRACE_HEADERS = ("traceparent", "tracestate", "baggage")


def _marked(sim: SimServer, marker: str) -> ReceivedRequest:
    matches = [r for r in sim.received if r.headers.get("x-test-marker") == marker]
    assert len(matches) == 1, f"{len(matches)} requests carried marker {marker}"
    return matches[0]


def _parent_in(request: ReceivedRequest) -> tuple[str, str]:
    version, trace_id, parent_id, _flags = request.headers["traceparent"].split("-")
    assert version == "00"
    return trace_id, parent_id


def _ids(span: ReadableSpan) -> tuple[str, str]:
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def _chat_spans(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_CHAT]


CALLS: dict[str, Callable[[anthropic.Anthropic, dict[str, str]], Any]] = {
    "create": lambda c, h: c.messages.create(model=MODEL, max_tokens=8, messages=PROMPT, extra_headers=h),
    "create stream": lambda c, h: list(
        c.messages.create(model=MODEL, max_tokens=8, messages=PROMPT, extra_headers=h, stream=True)
    ),
    "stream helper": lambda c, h: (
        c.messages.stream(model=MODEL, max_tokens=8, messages=PROMPT, extra_headers=h).__enter__().get_final_message()
    ),
    "beta create": lambda c, h: c.beta.messages.create(model=MODEL, max_tokens=8, messages=PROMPT, extra_headers=h),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_traceparent_names_the_chat_span(otel_globals: None, sim: SimServer, call: str) -> None:
    handle = aa.configure(exporter="memory", metrics=False)
    marker = uuid.uuid4().hex
    with anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0) as client:
        token = context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            CALLS[call](client, NO_WAIT | {"x-test-marker": marker})
        finally:
            context.detach(token)
    (span,) = _chat_spans(list(handle.finished_spans()))  # type: ignore[arg-type]
    request = _marked(sim, marker)
    assert _parent_in(request) == _ids(span), "the API sees our chat span as the caller"
    assert request.headers["baggage"] == "tenant=acme"
    assert [s.name for s in handle.finished_spans()] == [span.name], "still one span per call"


def test_instrumenting_sends_the_same_headers_as_the_sdk_alone(otel_globals: None, sim: SimServer) -> None:
    handle = aa.configure(exporter="memory", metrics=False, instrument=False)
    sent: dict[str, ReceivedRequest] = {}
    with anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0) as client:
        for phase in ("sdk alone", "instrumented", "uninstrumented"):
            if phase == "instrumented":
                aa.instrument_anthropic()
            elif phase == "uninstrumented":
                aa.uninstrument_anthropic()
            marker = uuid.uuid4().hex
            CALLS["create"](client, NO_WAIT | {"x-test-marker": marker})
            sent[phase] = _marked(sim, marker)
    names = {phase: sorted(set(r.headers) - {"x-test-marker", "content-length"}) for phase, r in sent.items()}
    assert names["sdk alone"] == names["instrumented"] == names["uninstrumented"]
    assert "traceparent" in names["instrumented"]
    spans = list(handle.finished_spans())
    assert [s.name for s in spans] == ["anthropic.messages.create", f"chat {MODEL}", "anthropic.messages.create"]
    assert _parent_in(sent["sdk alone"]) == _ids(spans[0])  # type: ignore[arg-type]
    assert _parent_in(sent["instrumented"]) == _ids(spans[1])  # type: ignore[arg-type]
    assert _parent_in(sent["uninstrumented"]) == _ids(spans[2])  # type: ignore[arg-type]


def test_sdk_tracing_off_stays_off_and_sends_no_trace_context(otel_globals: None, sim: SimServer) -> None:
    handle = aa.configure(exporter="memory", metrics=False)
    marker = uuid.uuid4().hex
    with anthropic.Anthropic(
        base_url=sim.base_url, api_key="sk-test", max_retries=0, open_telemetry={"traces": False}
    ) as client:
        CALLS["create"](client, NO_WAIT | {"x-test-marker": marker})
    assert not set(TRACE_HEADERS) & set(_marked(sim, marker).headers), "the client asked for no trace context"
    assert len(_chat_spans(list(handle.finished_spans()))) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize("call", ["create", "create stream", "stream helper"])
def test_a_client_given_its_own_tracer_provider_gets_its_calls_spans_there(
    otel_globals: None, sim: SimServer, call: str
) -> None:
    """The SDK's ``open_telemetry={"tracer_provider": ...}`` asks for that client's spans in that provider: our
    chat span goes there (still one a call, still the parent on the wire); other clients' stay where
    configure() puts them. They were lost: the SDK's own span was handed over and ours went to the global."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    handle = aa.configure(exporter="memory", metrics=False)
    own = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(own))
    marker, other = uuid.uuid4().hex, uuid.uuid4().hex
    with (
        anthropic.Anthropic(
            base_url=sim.base_url, api_key="sk-test", max_retries=0, open_telemetry={"tracer_provider": provider}
        ) as client,
        anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0) as plain,
    ):
        CALLS[call](client, NO_WAIT | {"x-test-marker": marker})
        CALLS[call](plain, NO_WAIT | {"x-test-marker": other})
    [mine] = own.get_finished_spans()
    assert mine.name == f"chat {MODEL}" and mine.kind.name == "CLIENT"
    assert _parent_in(_marked(sim, marker)) == _ids(mine)
    [theirs] = handle.finished_spans()
    assert theirs.name == f"chat {MODEL}" and _parent_in(_marked(sim, other)) == _ids(theirs)  # type: ignore[arg-type]
    provider.shutdown()


def test_other_endpoints_keep_the_sdks_own_span(otel_globals: None, sim: SimServer) -> None:
    """Only the calls we trace defer; the SDK still traces what we do not (here: a 404ing files endpoint)."""
    handle = aa.configure(exporter="memory", metrics=False)
    with anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0) as client:
        CALLS["create"](client, NO_WAIT)
        with pytest.raises(anthropic.NotFoundError):
            client.beta.files.list()
    names = [s.name for s in handle.finished_spans()]
    assert names[0] == f"chat {MODEL}"
    assert len(names) == 2 and names[1].startswith("anthropic.files"), names


def test_every_row_of_the_wrap_table_the_installed_sdk_should_have_is_wrapped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The table names the release each method came in: on the installed SDK every row from an older release
    is found (a warning names one the SDK moved), and one from a newer release is skipped without a word."""
    from agent_anatomy.tracing import anthropic as instrumentation

    version = instrumentation.sdk_version()
    assert version >= instrumentation.FLOOR
    with caplog.at_level(logging.WARNING):
        found = {(cls.__name__, method) for cls, method, _, _ in instrumentation._targets(version)}
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert {("Messages", "parse"), ("AsyncMessages", "stream"), ("Models", "list")} <= found
    with caplog.at_level(logging.WARNING):  # as if Messages.parse were newer than this SDK: skipped quietly
        rows = instrumentation._RESOURCES[0][2]
        later = tuple(r._replace(since=(99, 0)) if r.method == "parse" else r for r in rows)
        renamed = tuple(
            r._replace(method="create_v2") for r in rows if (r.cls, r.method) == ("Messages", "count_tokens")
        )
        table = ((instrumentation._RESOURCES[0][0], "messages", later + renamed),)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(instrumentation, "_RESOURCES", table)
            targets = {(cls.__name__, m) for cls, m, _, _ in instrumentation._targets(version)}
    assert ("Messages", "parse") in targets  # present anyway: a row's release only decides whether to warn
    [warning] = [r.getMessage() for r in caplog.records]
    assert "has no anthropic.resources.messages.messages.Messages.create_v2" in warning
    assert f"anthropic {version[0]}.{version[1]}" in warning


# --- every client class ---------------------------------------------------------------------------------------


def _message_json(request: httpx2.Request) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }


def _sse(request: httpx2.Request) -> bytes:
    message = _message_json(request) | {"content": [], "usage": {"input_tokens": 3, "output_tokens": 0}}
    events = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
        {"type": "message_stop"},
    ]
    return b"".join(f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode() for data in events)


def _aws_event_stream(sse: bytes) -> bytes:
    """The same events in Bedrock's framing: AWS event-stream messages whose payload holds the event."""
    frames = []
    for block in sse.decode().strip().split("\n\n"):
        data = block.split("data: ", 1)[1].encode()
        payload = json.dumps({"bytes": base64.b64encode(data).decode()}).encode()
        fields = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
        headers = b"".join(
            bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode() for k, v in fields.items()
        )
        prelude = struct.pack(">II", 16 + len(headers) + len(payload), len(headers))
        message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
        frames.append(message + struct.pack(">I", zlib.crc32(message)))
    return b"".join(frames)


class _Wire:
    """A fake transport that answers every Messages request (in each platform's stream framing) and keeps them."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        body = json.loads(request.content or b"{}")
        path = request.url.path
        if path.endswith("/invoke-with-response-stream"):
            content = _aws_event_stream(_sse(request))
            return httpx2.Response(200, headers={"content-type": "application/vnd.amazon.eventstream"}, content=content)
        if body.get("stream") or path.endswith(":streamRawPredict"):
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_sse(request))
        return httpx2.Response(200, json=_message_json(request))


def _client(kind: str, is_async: bool, wire: _Wire) -> Any:
    transport = httpx2.MockTransport(wire)
    http = httpx2.AsyncClient(transport=transport) if is_async else httpx2.Client(transport=transport)
    common = {"http_client": http, "max_retries": 0}
    if kind == "first party":
        cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        return cls(api_key="sk-test", **common)
    if kind == "bedrock":
        cls = anthropic.AsyncAnthropicBedrock if is_async else anthropic.AnthropicBedrock
        return cls(aws_access_key="AKIAFAKE", aws_secret_key="fake", aws_region="us-east-1", **common)
    if kind == "foundry":
        cls = anthropic.AsyncAnthropicFoundry if is_async else anthropic.AnthropicFoundry
        return cls(api_key="fake", resource="fake-resource", **common)
    cls = anthropic.AsyncAnthropicVertex if is_async else anthropic.AnthropicVertex
    return cls(region="us-east5", project_id="fake-project", access_token="fake-token", **common)


CLIENT_KINDS = ["first party", "bedrock", "vertex", "foundry"]


async def _run_every_method(client: Any, is_async: bool) -> None:
    for messages in (client.messages, client.beta.messages):
        kwargs = {"model": MODEL, "max_tokens": 8, "messages": PROMPT}
        if is_async:
            await messages.create(**kwargs)
            if hasattr(messages, "parse"):
                await messages.parse(**kwargs)
            async with messages.stream(**kwargs) as stream:
                await stream.get_final_message()
        else:
            messages.create(**kwargs)
            if hasattr(messages, "parse"):
                messages.parse(**kwargs)
            with messages.stream(**kwargs) as stream:
                stream.get_final_message()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", CLIENT_KINDS)
async def test_every_client_class_gives_one_chat_span_per_call(otel_globals: None, kind: str, is_async: bool) -> None:
    handle = aa.configure(exporter="memory", metrics=False)
    wire = _Wire()
    client = _client(kind, is_async, wire)
    await _run_every_method(client, is_async)
    spans = list(handle.finished_spans())
    chat = _chat_spans(spans)  # type: ignore[arg-type]
    assert len(wire.requests) == len(chat) == len(spans), [s.name for s in spans]
    apis = [s.attributes[semconv.ANATOMY_LLM_API] for s in chat]
    assert {"messages.create", "messages.stream", "beta.messages.create", "beta.messages.stream"} <= set(apis)
    for request, span in zip(wire.requests, chat, strict=True):
        assert request.headers["traceparent"].split("-")[2] == f"{span.context.span_id:016x}"
    provider = {"bedrock": "aws.bedrock", "vertex": "gcp.vertex_ai"}.get(kind, "anthropic")
    assert {s.attributes[semconv.GEN_AI_PROVIDER_NAME] for s in chat} == {provider}, "the convention's name"
    assert {s.attributes[semconv.SERVER_ADDRESS] for s in chat} == {wire.requests[0].url.host}


def test_cloud_classes_are_wrapped_whatever_the_import_order() -> None:
    """Instrumented before the cloud packages were ever imported, in a fresh interpreter."""
    script = textwrap.dedent(
        """
        import json, sys
        import agent_anatomy as aa
        handle = aa.configure(exporter="memory", metrics=False)
        assert "anthropic.lib.bedrock" in sys.modules  # instrumenting brought them in before wrapping
        from tests.tracing.test_anthropic_wire import _Wire, _client
        wire = _Wire()
        prompt = [{"role": "user", "content": "x"}]
        for kind in ("bedrock", "vertex"):
            _client(kind, False, wire).beta.messages.create(model="m", max_tokens=8, messages=prompt)
        print(json.dumps([s.name for s in handle.finished_spans()]))
        """
    )
    probe = "import sys; import agent_anatomy; print('anthropic.lib.bedrock' in sys.modules)"
    before = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert before.stdout.strip() == "False", "control: importing agent_anatomy does not import the cloud packages"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == ["chat m", "chat m"]


def test_instrument_uninstrument_instrument_on_a_cloud_client(traced: Traced) -> None:
    wire = _Wire()
    client = _client("bedrock", False, wire)
    counts = []
    for action in (aa.instrument_anthropic, aa.uninstrument_anthropic, aa.instrument_anthropic):
        action()
        before = len(traced.spans())
        client.beta.messages.create(model=MODEL, max_tokens=8, messages=PROMPT)
        counts.append(len(_chat_spans(traced.spans()[before:])))
    assert counts == [1, 0, 1]
