"""ModelRouter against the simulator with per-model latency and faults."""

from __future__ import annotations

import inspect
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import anthropic
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.levers import RouteDecision
from agent_anatomy.sim import ModelProfile, SimProfile, SimServer
from tests.conftest import Traced

FAST, SLOW, OTHER = "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-6"
PROMPT = [{"role": "user", "content": "hello"}]


def profile(**ttft_ms: float) -> SimProfile:
    models = {
        name: ModelProfile(ttft_ms=(ms, ms), tokens_per_s=(2000, 2000), output_tokens=(10, 10))
        for name, ms in ttft_ms.items()
    }
    return SimProfile(seed=1, models=models)


@pytest.fixture
def latency_sim() -> Iterator[SimServer]:
    """FAST answers in 150 ms, SLOW in 600 ms, OTHER in 2 s."""
    with SimServer(profile(**{FAST: 150, SLOW: 600, OTHER: 2000})) as server:
        yield server


@pytest.fixture
async def aclient(latency_sim: SimServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=latency_sim.base_url, api_key="k", max_retries=0) as client:
        yield client


def llm_spans(traced: Traced) -> list[ReadableSpan]:
    return sorted((s for s in traced.spans() if s.name.startswith("chat ")), key=lambda s: s.start_time)


def route_spans(traced: Traced) -> list[ReadableSpan]:
    return sorted((s for s in traced.spans() if s.name.startswith("route ")), key=lambda s: s.start_time)


# --- decisions ------------------------------------------------------------------------------------------


async def test_static_table_picks_the_listed_model(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    router = aa.ModelRouter({"route_query": FAST, "final_synthesis": SLOW}, default=OTHER)
    message = await router.acreate(aclient, step="route_query", max_tokens=64, messages=PROMPT)
    assert message.model == FAST
    [route] = route_spans(traced)
    [llm] = llm_spans(traced)
    assert route.name == "route route_query"
    assert route.attributes[semconv.ANATOMY_ROUTE_MODEL] == FAST
    assert route.attributes[semconv.ANATOMY_ROUTE_REASON] == "static"
    assert route.attributes[semconv.ANATOMY_ROUTE_ALTERNATIVES] == ()
    assert llm.parent.span_id == route.context.span_id
    assert llm.attributes[semconv.GEN_AI_REQUEST_MODEL] == FAST
    assert llm.attributes[semconv.ANATOMY_ROUTE_STEP] == "route_query"
    assert llm.attributes[semconv.ANATOMY_ROUTE_ROLE] == "primary"
    assert router.decide("unlisted").model == OTHER


async def test_converges_on_the_faster_model_and_still_explores(
    traced: Traced, aclient: anthropic.AsyncAnthropic
) -> None:
    router = aa.ModelRouter({"extract": [SLOW, FAST]}, default=SLOW, explore=0.1, seed=3)
    chosen = []
    for _ in range(10):
        message = await router.acreate(aclient, step="extract", max_tokens=16, messages=PROMPT)
        chosen.append(message.model)
    assert sorted(chosen[:2]) == sorted([FAST, SLOW]), "each acceptable model is tried once first"
    assert chosen[2:].count(FAST) >= 6, chosen
    assert 0.15 <= router.stats(FAST).ttft_p50 < router.stats(SLOW).ttft_p50, "observed, not assumed"
    assert router.stats(SLOW).ttft_p50 >= 0.6
    router.explore = 0.0
    assert router.decide("extract") == RouteDecision("extract", (FAST, SLOW), "fastest_observed")
    router.explore = 0.1
    decisions = Counter(router.decide("extract").reason for _ in range(400))
    assert decisions["fastest_observed"] > 300
    assert 15 < decisions["explore"] < 80, "a small share still explores"
    reasons = [s.attributes[semconv.ANATOMY_ROUTE_REASON] for s in route_spans(traced)]
    assert reasons[:2] == ["explore", "explore"], "each acceptable model is tried once first"
    assert "fastest_observed" in reasons


# --- fallback --------------------------------------------------------------------------------------------


async def test_529_falls_back_to_the_next_model(traced: Traced, latency_sim: SimServer) -> None:
    with SimServer(profile(**{FAST: 50, SLOW: 50})) as server:
        async with anthropic.AsyncAnthropic(base_url=server.base_url, api_key="k") as client:
            router = aa.ModelRouter({"answer": [FAST, SLOW]}, default=FAST, explore=0.0)

            async def overloaded_first(request: object) -> None:
                if b'"model":"claude-haiku-4-5"' in request.content.replace(b" ", b""):  # type: ignore[attr-defined]
                    request.headers["x-sim-status"] = "529"  # type: ignore[attr-defined]

            client._client.event_hooks["request"].append(overloaded_first)
            message = await router.acreate(client, step="answer", max_tokens=16, messages=PROMPT)
    assert message.model == SLOW
    first, second = llm_spans(traced)
    assert first.attributes[semconv.GEN_AI_REQUEST_MODEL] == FAST
    assert first.status.status_code is StatusCode.ERROR
    assert first.attributes[semconv.ERROR_TYPE] == "overloaded_error"
    assert first.attributes[semconv.ANATOMY_ROUTE_ROLE] == "primary"
    assert second.attributes[semconv.GEN_AI_REQUEST_MODEL] == SLOW
    assert second.attributes[semconv.ANATOMY_ROUTE_ROLE] == "fallback"
    [route] = route_spans(traced)
    assert route.attributes[semconv.ANATOMY_ROUTE_REASON] == "fallback"
    assert route.attributes[semconv.ANATOMY_ROUTE_ATTEMPTS] == 2
    assert route.status.status_code is StatusCode.UNSET


async def test_non_retryable_errors_do_not_fall_back(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    router = aa.ModelRouter({"answer": [FAST, SLOW]}, default=FAST)
    with pytest.raises(anthropic.BadRequestError):
        await router.acreate(aclient, step="answer", max_tokens=0, messages=PROMPT)
    assert len(llm_spans(traced)) == 1
    [route] = route_spans(traced)
    assert route.status.status_code is StatusCode.ERROR
    assert route.attributes[semconv.ANATOMY_ROUTE_ATTEMPTS] == 1, "a failed route still says how far it got"
    assert route.attributes[semconv.ANATOMY_ROUTE_MODEL] == FAST


def test_sync_create_and_fallback_on_connection_error(traced: Traced, latency_sim: SimServer) -> None:
    from tests._receivers import closed_port

    router = aa.ModelRouter({"answer": [FAST, SLOW]}, default=FAST, explore=0.0)
    with anthropic.Anthropic(base_url=latency_sim.base_url, api_key="k") as client:
        message = router.create(client, step="answer", max_tokens=16, messages=PROMPT)
        assert message.model in (FAST, SLOW)
    dead = anthropic.Anthropic(base_url=f"http://127.0.0.1:{closed_port()}", api_key="k")
    with dead, pytest.raises(anthropic.APIConnectionError):
        router.create(dead, step="answer", max_tokens=16, messages=PROMPT)
    last = route_spans(traced)[-1]
    assert last.status.status_code is StatusCode.ERROR
    failed = [s for s in llm_spans(traced) if s.status.status_code is StatusCode.ERROR]
    assert [s.attributes[semconv.ANATOMY_ROUTE_ROLE] for s in failed] == ["primary", "fallback"]


# --- hedging ----------------------------------------------------------------------------------------------


async def test_hedge_wins_on_a_slow_primary(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    router = aa.ModelRouter({"answer": [OTHER, FAST]}, default=OTHER, explore=0.0, hedge_after_s=0.3)
    router.observe(OTHER, 0.1, 0.2)  # the primary looks fast on record
    router.observe(FAST, 0.5, 0.6)
    started = time.perf_counter()
    async with router.astream(aclient, step="answer", max_tokens=64, messages=PROMPT) as stream:
        first_text = None
        async for event in stream:
            if event.type == "text" and first_text is None:
                first_text = time.perf_counter() - started
        message = await stream.get_final_message()
    # The hedge starts at 0.3 s and its model answers in 0.15 s; the primary would take 2 s.
    assert first_text is not None and 0.45 <= first_text < 1.5, f"first token after {first_text:.3f} s"
    assert message.model == FAST
    assert message.content[0].text, "the replayed first events reached the caller"
    primary, hedge = llm_spans(traced)
    assert primary.attributes[semconv.GEN_AI_REQUEST_MODEL] == OTHER
    assert primary.attributes[semconv.ANATOMY_ROUTE_OUTCOME] == "lost"
    assert primary.attributes[semconv.ANATOMY_LLM_CANCELLED] is True
    assert primary.status.status_code is StatusCode.UNSET
    assert primary.end_time < hedge.end_time
    assert hedge.attributes[semconv.ANATOMY_ROUTE_ROLE] == "hedge"
    assert hedge.attributes[semconv.ANATOMY_ROUTE_OUTCOME] == "won"
    [route] = route_spans(traced)
    assert route.attributes[semconv.ANATOMY_ROUTE_REASON] == "hedge_won"
    assert route.attributes[semconv.ANATOMY_ROUTE_HEDGE_DELAY] == 0.3
    assert route.attributes[semconv.ANATOMY_ROUTE_ATTEMPTS] == 2


async def test_no_hedge_when_the_first_token_comes_in_time(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    router = aa.ModelRouter({"answer": [FAST, SLOW]}, default=FAST, explore=0.0, hedge_after_s=0.3)
    router.observe(FAST, 0.15, 0.2)
    router.observe(SLOW, 0.6, 0.7)
    message = await router.acreate(aclient, step="answer", max_tokens=64, messages=PROMPT)
    assert message.model == FAST
    assert len(llm_spans(traced)) == 1
    assert route_spans(traced)[0].attributes[semconv.ANATOMY_ROUTE_ATTEMPTS] == 1


async def test_p95_hedge_delay_follows_observations() -> None:
    router = aa.ModelRouter({"a": [FAST, SLOW]}, default=FAST, hedge_after_s="p95", hedge_default_s=0.8)
    assert router._hedge_delay("a", FAST) == 0.8, "the default until enough observations"
    for ms in (100, 110, 120, 130, 400):
        router.observe(FAST, ms / 1000, 0.5)
    assert router._hedge_delay("a", FAST) == 0.4


# --- run_agent through the router -------------------------------------------------------------------------


async def test_run_agent_names_each_call_a_step(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    @aa.tool
    def get_user_profile(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    @aa.tool
    def get_transaction_history(user_id: str, days: int = 30) -> list[int]:
        return [42]

    @aa.tool
    def get_product_catalog(category: str = "plans") -> list[str]:
        return ["pro"]

    router = aa.ModelRouter({"tool_decision": FAST, "final_synthesis": SLOW}, default=SLOW)
    result = await aa.run_agent(
        aclient,
        router=router,
        messages=PROMPT,
        tools=[get_user_profile, get_transaction_history, get_product_catalog],
        steps=["tool_decision", "tool_decision", "final_synthesis"],
    )
    assert result.stop_reason == "end_turn" and result.iterations == 3
    steps = [
        (s.attributes[semconv.ANATOMY_ROUTE_STEP], s.attributes[semconv.ANATOMY_ROUTE_MODEL])
        for s in route_spans(traced)
    ]
    assert steps == [("tool_decision", FAST), ("tool_decision", FAST), ("final_synthesis", SLOW)]
    agent = traced.span("invoke_agent agent")
    assert all(s.parent.span_id == agent.context.span_id for s in route_spans(traced))


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="explore=2 must be between 0 and 1"):
        aa.ModelRouter(default=FAST, explore=2)
    with pytest.raises(ValueError, match="route 'a' must name at least one model"):
        aa.ModelRouter({"a": []}, default=FAST)
    with pytest.raises(ValueError, match="hedge_after_s='soon'"):
        aa.ModelRouter(default=FAST, hedge_after_s="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"run_agent needs model=\.\.\. or router=\.\.\."):
        aa.run_agent_sync(object(), messages=PROMPT)


def test_async_entry_points_are_coroutine_functions() -> None:
    """How fast a decision is, is measured by benchmarks/bench_levers.py, not asserted here."""
    router = aa.ModelRouter({"a": [FAST, SLOW, OTHER]}, default=FAST)
    assert inspect.iscoroutinefunction(router.acreate)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_sync_and_async_count_attempts_alike(traced: Traced, latency_sim: SimServer, is_async: bool) -> None:
    """One attempt state machine: a 529 then a fallback is two attempts, reason fallback, on either path."""
    router = aa.ModelRouter({"answer": [FAST, SLOW]}, default=FAST, explore=0.0)

    def overloaded_first(request: object) -> None:
        if b'"model":"claude-haiku-4-5"' in request.content.replace(b" ", b""):  # type: ignore[attr-defined]
            request.headers["x-sim-status"] = "529"  # type: ignore[attr-defined]

    if is_async:

        async def hook(request: object) -> None:
            overloaded_first(request)

        async with anthropic.AsyncAnthropic(base_url=latency_sim.base_url, api_key="k") as client:
            client._client.event_hooks["request"].append(hook)
            message = await router.acreate(client, step="answer", max_tokens=16, messages=PROMPT)
    else:
        with anthropic.Anthropic(base_url=latency_sim.base_url, api_key="k") as client:
            client._client.event_hooks["request"].append(overloaded_first)
            message = router.create(client, step="answer", max_tokens=16, messages=PROMPT)
    assert message.model == SLOW
    [route] = route_spans(traced)
    assert route.attributes[semconv.ANATOMY_ROUTE_ATTEMPTS] == 2
    assert route.attributes[semconv.ANATOMY_ROUTE_REASON] == "fallback"
    assert route.attributes[semconv.ANATOMY_ROUTE_MODEL] == SLOW
