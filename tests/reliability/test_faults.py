"""Fault bursts from the simulator: calls fail or fall back as documented, and no span is left open."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter

import anthropic
import httpx2
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.levers.router import can_fall_back
from agent_anatomy.sim import FaultProfile, ModelProfile, SimProfile, SimServer
from tests._support_tools import QUESTION, get_transaction_history, get_user_profile
from tests.reliability._spans import OpenSpans

FAST, SLOW = "claude-haiku-4-5", "claude-sonnet-4-6"
QUICK = ModelProfile(ttft_ms=(5, 20), tokens_per_s=(2000, 4000), output_tokens=(20, 40))
FAULTS = FaultProfile(error_rates={429: 0.1, 500: 0.1, 529: 0.1}, cut_stream_rate=0.1, stall_rate=0.1, stall_ms=3_000)
API_ERROR_TYPES = {429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}


@pytest.fixture
def tracked() -> tuple[aa.Telemetry, OpenSpans]:
    provider = TracerProvider()
    spans = OpenSpans()
    provider.add_span_processor(spans)
    return aa.configure(exporter="none", metrics=False, tracer_provider=provider), spans


def faulty_sim(seed: int) -> SimServer:
    return SimServer(SimProfile(seed=seed, models={FAST: QUICK, SLOW: QUICK}, faults=FAULTS))


def check_spans(spans: OpenSpans) -> dict[str, list[ReadableSpan]]:
    """Every span ended; every ERROR span says why; every LLM span that got an API error names it."""
    gc.collect()
    assert spans.open == [], f"spans left open: {spans.open}"
    assert spans.started == len(spans.ended)
    by_kind: dict[str, list[ReadableSpan]] = {}
    for span in spans.ended:
        by_kind.setdefault(span.name.split(" ")[0], []).append(span)
        if span.status.status_code is StatusCode.ERROR:
            assert span.attributes.get(semconv.ERROR_TYPE), f"{span.name} ended with ERROR but no error.type"
        status = span.attributes.get(semconv.HTTP_RESPONSE_STATUS_CODE)
        if span.name.startswith("chat") and status in API_ERROR_TYPES:
            assert span.status.status_code is StatusCode.ERROR
            assert span.attributes[semconv.ERROR_TYPE] == API_ERROR_TYPES[status]
    return by_kind


async def test_agents_under_a_fault_burst_fall_back_or_fail_cleanly(tracked: tuple[aa.Telemetry, OpenSpans]) -> None:
    _, spans = tracked
    router = aa.ModelRouter({"tool_decision": [FAST, SLOW], "final_synthesis": [FAST, SLOW]}, default=FAST)
    with faulty_sim(seed=11) as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", timeout=0.5) as client:
            runs = [
                aa.run_agent(
                    client, messages=QUESTION, router=router, tools=[get_user_profile, get_transaction_history]
                )
                for _ in range(60)
            ]
            outcomes = await asyncio.gather(*runs, return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) < len(outcomes), "some agents get through a 30 % error rate with fallback"
    for failure in failures:
        # What may reach the caller: an API or transport error (both models failed before the first
        # token, or a stream broke after it); never an error of ours.
        assert isinstance(failure, anthropic.APIError | httpx2.TransportError), repr(failure)
    by_kind = check_spans(spans)
    agents = by_kind["invoke_agent"]
    assert len(agents) == 60
    assert sum(a.status.status_code is StatusCode.ERROR for a in agents) == len(failures)
    routes = by_kind["route"]
    fell_back = [r for r in routes if r.attributes[semconv.ANATOMY_ROUTE_REASON] == semconv.ROUTE_REASON_FALLBACK]
    assert fell_back, "faults before the first token were retried on the other model"
    for route in fell_back:
        attempts = [s for s in by_kind["chat"] if s.parent and s.parent.span_id == route.context.span_id]
        assert len(attempts) == route.attributes[semconv.ANATOMY_ROUTE_ATTEMPTS] >= 2
        assert all(a.status.status_code is StatusCode.ERROR for a in attempts[:-1])
    errors = Counter(s.attributes[semconv.ERROR_TYPE] for s in by_kind["chat"] if semconv.ERROR_TYPE in s.attributes)
    assert set(API_ERROR_TYPES.values()) <= set(errors), f"each injected status was seen: {errors}"


async def test_sdk_retries_under_a_fault_burst_give_one_span_per_call(tracked: tuple[aa.Telemetry, OpenSpans]) -> None:
    _, spans = tracked
    results: list[BaseException | None] = []
    with faulty_sim(seed=3) as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", timeout=0.5, max_retries=2) as client:

            async def call(index: int) -> None:
                try:
                    if index % 2:
                        await client.messages.create(model=FAST, max_tokens=64, messages=QUESTION)
                    else:
                        async with client.messages.stream(model=FAST, max_tokens=64, messages=QUESTION) as stream:
                            await stream.until_done()
                    results.append(None)
                except Exception as exc:
                    results.append(exc)

            await asyncio.gather(*(call(i) for i in range(80)))
    by_kind = check_spans(spans)
    chats = by_kind["chat"]
    assert len(chats) == 80, "one span per call, however many retries the SDK made"
    failed = [r for r in results if r is not None]
    assert sum(c.status.status_code is StatusCode.ERROR for c in chats) == len(failed)
    for exc in failed:
        assert isinstance(exc, anthropic.APIError | httpx2.TransportError), repr(exc)
        if isinstance(exc, anthropic.APIStatusError):
            assert can_fall_back(exc), "only the injected, retryable statuses fail a call"
    assert 0 < len(failed) < 80
