"""The SDK's own tracing handed over to ours: the same bytes on the wire, and the SDK's work for it not done twice.

On a client that builds plain requests the SDK is told the call has no span and its trace headers are
written by us; on one that signs them it writes them itself, around a non-recording span. Either way every
attempt's headers, in order, are what the SDK alone sends, naming our span instead of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anthropic
import anthropic._base_client as base_client
import anthropic._tracing as sdk_tracing
import httpx2
import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.trace import ReadableSpan

import agent_anatomy as aa
from agent_anatomy.tracing import _llm_call, _sdk_tracing
from agent_anatomy.tracing import anthropic as instrumentation
from tests.tracing.test_anthropic_wire import CLIENT_KINDS, MODEL, PROMPT, _client, _Wire

VARYING = frozenset({"traceparent", "x-amz-date", "idempotency-key", "x-stainless-retry-count"})
"""Headers whose value differs from one request to the next whoever sends it; their place still counts."""


def _shape(request: httpx2.Request) -> list[tuple[str, str]]:
    """Every header in order, with the values that differ per request blanked, and of a SigV4 signature only
    the list of headers it covers."""
    shape = []
    for name, value in request.headers.multi_items():
        if name == "authorization" and "SignedHeaders=" in value:
            value = value.split("SignedHeaders=", 1)[1].split(",", 1)[0]
        elif name in VARYING:
            value = "-"
        shape.append((name, value))
    return shape


def _parent(request: httpx2.Request) -> str:
    return request.headers["traceparent"].split("-")[2]


class _Retried(_Wire):
    """Answers the first attempt of each call with a 529 the SDK retries at once, then as ``_Wire`` does."""

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.headers.get("x-stainless-retry-count") == "0":
            self.requests.append(request)
            return httpx2.Response(529, headers={"retry-after-ms": "1"}, json={"type": "error", "error": {}})
        return super().__call__(request)


@pytest.fixture
def tenant() -> Iterator[None]:
    """Baggage in the context, so the propagator writes a second header."""
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    yield
    context.detach(token)


async def _calls(client: Any, is_async: bool) -> None:
    """A create and a streamed create, each with a ``traceparent`` of the caller's own the SDK replaces."""
    kwargs = {"model": MODEL, "max_tokens": 8, "messages": PROMPT, "extra_headers": {"traceparent": "00-caller-01"}}
    if is_async:
        await client.messages.create(**kwargs)
        async for _ in await client.messages.create(stream=True, **kwargs):
            pass
    else:
        client.messages.create(**kwargs)
        for _ in client.messages.create(stream=True, **kwargs):
            pass


async def _sent_alone_and_instrumented(
    kind: str, is_async: bool, wire: type[_Wire], **options: Any
) -> tuple[list[httpx2.Request], list[httpx2.Request]]:
    """The requests one client kind sends for ``_calls``, by the SDK alone and then instrumented; ``options``:
    the client's ``open_telemetry``."""
    phases = []
    for instrumented in (False, True):
        answering = wire()
        client = _client(kind, is_async, answering)
        client.max_retries = 1
        if options:
            client = client.with_options(open_telemetry=options)
        if instrumented:
            aa.instrument_anthropic()
        try:
            await _calls(client, is_async)
        finally:
            aa.uninstrument_anthropic()
        phases.append(answering.requests)
    return phases[0], phases[1]


@pytest.mark.parametrize("retried", [False, True], ids=["one attempt", "retried"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", CLIENT_KINDS)
async def test_every_attempt_sends_the_sdks_own_headers_in_its_order_naming_our_span(
    otel_globals: None, tenant: None, kind: str, is_async: bool, retried: bool
) -> None:
    handle = aa.configure(exporter="memory", metrics=False, instrument=False)
    alone, ours = await _sent_alone_and_instrumented(kind, is_async, _Retried if retried else _Wire)
    assert len(alone) == len(ours) == (4 if retried else 2)
    for theirs, mine in zip(alone, ours, strict=True):
        assert _shape(mine) == _shape(theirs)
        assert mine.headers["baggage"] == "tenant=acme" and mine.content == theirs.content
    spans: list[ReadableSpan] = list(handle.finished_spans())  # type: ignore[arg-type]
    sdk_spans, chat = spans[:2], spans[2:]
    assert [s.name for s in sdk_spans] == ["anthropic.messages.create"] * 2
    assert [s.name for s in chat] == [f"chat {MODEL}"] * 2, "one span a call"
    per_call = 2 if retried else 1
    for index, span in enumerate(chat):
        for request in ours[index * per_call : (index + 1) * per_call]:
            assert _parent(request) == f"{span.context.span_id:016x}", "every attempt names our span"


@pytest.mark.parametrize("kind", ["first party", "bedrock"])
async def test_a_client_with_propagation_off_sends_no_trace_context_instrumented_either(
    otel_globals: None, tenant: None, kind: str
) -> None:
    """``open_telemetry={"propagation": False}``: the SDK sends no trace context of its own, nor do we for it."""
    aa.configure(exporter="memory", metrics=False, instrument=False)
    alone, ours = await _sent_alone_and_instrumented(kind, False, _Wire, propagation=False)
    assert len(alone) == len(ours) == 2
    for theirs, mine in zip(alone, ours, strict=True):
        assert _shape(mine) == _shape(theirs)
        assert "baggage" not in mine.headers and mine.headers["traceparent"] == "00-caller-01"


@pytest.mark.parametrize(("kind", "sdk_bookkeeps"), [("first party", False), ("foundry", False), ("bedrock", True)])
def test_the_sdks_bookkeeping_of_a_span_nobody_records_is_skipped_where_nothing_signs_the_request(
    otel_globals: None, monkeypatch: pytest.MonkeyPatch, kind: str, sdk_bookkeeps: bool
) -> None:
    """The point of writing the headers ourselves: the SDK's per-attempt work for its span (its URL attributes,
    call records, the propagator run twice) is not done. A signing client keeps doing it, to sign first."""
    aa.configure(exporter="memory", metrics=False)
    attempts: list[object] = []
    sending = sdk_tracing.ApiCall.sending
    monkeypatch.setattr(sdk_tracing.ApiCall, "sending", lambda self, *a: attempts.append(self) or sending(self, *a))
    wire = _Wire()
    client = _client(kind, False, wire)
    client.messages.create(model=MODEL, max_tokens=8, messages=PROMPT)
    assert "traceparent" in wire.requests[0].headers
    assert bool(attempts) is sdk_bookkeeps


def test_a_client_that_prepares_its_own_requests_keeps_the_sdks_way(otel_globals: None) -> None:
    """A subclass with a ``_prepare_request`` of its own (it may sign the headers) is not a plain one."""

    class Signing(anthropic.Anthropic):
        def _prepare_request(self, request: httpx2.Request) -> None:
            request.headers["x-signature"] = ",".join(sorted(request.headers))

    assert _sdk_tracing.builds_plain_requests(anthropic.Anthropic(api_key="k"))
    assert _sdk_tracing.builds_plain_requests(anthropic.AsyncAnthropic(api_key="k"))
    signing = Signing(api_key="k", http_client=httpx2.Client(transport=httpx2.MockTransport(_Wire())))
    assert not _sdk_tracing.builds_plain_requests(signing)
    aa.configure(exporter="memory", metrics=False)
    wire = _Wire()
    signing = Signing(api_key="k", http_client=httpx2.Client(transport=httpx2.MockTransport(wire)))
    signing.messages.create(model=MODEL, max_tokens=8, messages=PROMPT)
    [request] = wire.requests
    assert "traceparent" in request.headers and "traceparent" not in request.headers["x-signature"]


def test_the_hand_over_wraps_two_sdk_functions_and_gives_them_back() -> None:
    """The SDK's private functions we wrap: if this breaks, the SDK changed how it traces its calls."""
    originals = (base_client.start_api_call_span, base_client.BaseClient.__dict__["_build_request"])
    aa.instrument_anthropic()
    try:
        wrapped = (base_client.start_api_call_span, base_client.BaseClient.__dict__["_build_request"])
        assert all(w is not o and w.__wrapped__ is o for w, o in zip(wrapped, originals, strict=True))
    finally:
        aa.uninstrument_anthropic()
    assert (base_client.start_api_call_span, base_client.BaseClient.__dict__["_build_request"]) == originals


def test_an_sdk_older_than_its_own_tracing_has_nothing_handed_over(caplog: pytest.LogCaptureFixture) -> None:
    """Before 1.14 the SDK does not trace itself: nothing is wrapped there, and nothing is said about it."""
    original = base_client.start_api_call_span
    with caplog.at_level(logging.WARNING):
        assert _sdk_tracing.hand_over((1, 13)) is False
    assert base_client.start_api_call_span is original and not caplog.records


def test_an_sdk_without_a_hook_is_left_whole_and_says_so(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook the SDK no longer has: one warning, and the other hook is not left half-installed (a call would
    then send no trace context)."""
    monkeypatch.setattr(_sdk_tracing, "_HOOKS", (*_sdk_tracing._HOOKS, ("BaseClient._gone", _sdk_tracing._built)))
    monkeypatch.setattr(_llm_call, "_warned", set())
    original = base_client.start_api_call_span
    with caplog.at_level(logging.WARNING):
        assert _sdk_tracing.hand_over(instrumentation.sdk_version()) is False
    assert base_client.start_api_call_span is original
    assert base_client.BaseClient.__dict__["_build_request"].__name__ == "_build_request"
    assert any("hand the anthropic SDK's own spans over" in r.getMessage() for r in caplog.records)
