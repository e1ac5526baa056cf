"""Fast mode: ``with_fast_mode`` on a request, and the router asking for it per step, against the simulator."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anthropic
import pytest
from opentelemetry.sdk.trace import ReadableSpan

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.catalogue import FAST_MODE_BETA, FAST_MODE_SPEEDUP
from agent_anatomy.levers import fast_mode_available, with_fast_mode
from agent_anatomy.sim import ModelProfile, SimProfile, SimServer
from tests.conftest import Traced

GA, PREVIEW, NONE = "claude-opus-5-5", "claude-opus-5", "claude-haiku-4-5"
"""Fast mode without a beta, behind the beta, and not at all."""
PROMPT = [{"role": "user", "content": "hello"}]
OUTPUT_TOKENS = 60
TOKENS_PER_S = 100
"""0.6 s of output at standard speed, 0.24 s in fast mode."""


@pytest.fixture
def sim() -> Iterator[SimServer]:
    model = ModelProfile(ttft_ms=(50, 50), tokens_per_s=(TOKENS_PER_S,) * 2, output_tokens=(OUTPUT_TOKENS,) * 2)
    with SimServer(SimProfile(seed=1, models={GA: model, PREVIEW: model, NONE: model})) as server:
        yield server


def spans_named(traced: Traced, prefix: str) -> list[ReadableSpan]:
    return sorted((s for s in traced.spans() if s.name.startswith(prefix)), key=lambda s: s.start_time)


def test_with_fast_mode_asks_only_models_that_have_it_and_adds_the_beta_where_needed() -> None:
    request = {"model": PREVIEW, "max_tokens": 8, "messages": PROMPT, "extra_headers": {"Anthropic-Beta": "x-1"}}
    fast = with_fast_mode(request)
    assert fast["speed"] == "fast"
    assert fast["extra_headers"] == {"Anthropic-Beta": f"x-1,{FAST_MODE_BETA}"}
    assert with_fast_mode(fast)["extra_headers"] == fast["extra_headers"]  # once, however often applied
    assert "speed" not in request and request["extra_headers"] == {"Anthropic-Beta": "x-1"}  # left as it was
    assert "extra_headers" not in with_fast_mode({"model": GA})
    assert with_fast_mode({"model": NONE, "max_tokens": 8}) == {"model": NONE, "max_tokens": 8}
    assert with_fast_mode({"betas": ["a"]}, PREVIEW)["betas"] == ["a", FAST_MODE_BETA]
    assert [fast_mode_available(m) for m in (GA, PREVIEW, NONE, "claude-opus-5-1")] == [True, True, False, False]


def test_the_sim_refuses_fast_mode_without_the_beta(sim: SimServer) -> None:
    """What ``with_fast_mode`` adds is needed: the request without the beta is a 400 naming it."""
    with (
        anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client,
        pytest.raises(anthropic.BadRequestError, match=FAST_MODE_BETA),
    ):
        client.messages.create(model=PREVIEW, max_tokens=8, messages=PROMPT, speed="fast")


async def test_router_asks_for_fast_mode_on_its_fast_steps(traced: Traced, sim: SimServer) -> None:
    router = aa.ModelRouter(
        {"final_synthesis": PREVIEW, "tool_decision": NONE, "plain": GA},
        default=GA,
        fast_steps={"final_synthesis", "tool_decision"},
    )
    async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
        for step in ("plain", "final_synthesis", "tool_decision"):
            await router.acreate(client, step=step, max_tokens=OUTPUT_TOKENS, messages=PROMPT)
    routes = {s.attributes[semconv.ANATOMY_ROUTE_STEP]: s for s in spans_named(traced, "route ")}
    calls = {s.attributes[semconv.ANATOMY_ROUTE_STEP]: s for s in spans_named(traced, "chat ")}
    # the preview model got the beta (the sim would refuse it otherwise) and says it ran fast
    assert calls["final_synthesis"].attributes[semconv.ANATOMY_LLM_REQUEST_SPEED] == "fast"
    assert calls["final_synthesis"].attributes[semconv.ANATOMY_LLM_SPEED] == "fast"
    assert routes["final_synthesis"].attributes[semconv.ANATOMY_ROUTE_SPEED] == "fast"
    # a step not listed, and a fast step on a model without fast mode, run at standard speed
    for step in ("plain", "tool_decision"):
        assert semconv.ANATOMY_LLM_REQUEST_SPEED not in calls[step].attributes
        assert semconv.ANATOMY_ROUTE_SPEED not in routes[step].attributes


def _output_s(client: anthropic.Anthropic, router: aa.ModelRouter, step: str) -> float:
    """From the first text to the end of a routed call's stream: its output time."""
    with router.stream(client, step=step, max_tokens=OUTPUT_TOKENS, messages=PROMPT) as stream:
        first = None
        for _ in stream.text_stream:
            first = first or time.perf_counter()
        assert first is not None
        return time.perf_counter() - first


def test_fast_steps_write_their_output_faster(traced: Traced, sim: SimServer) -> None:
    router = aa.ModelRouter({"fast": GA, "standard": GA}, default=GA, fast_steps=["fast"])
    with anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
        standard, fast = _output_s(client, router, "standard"), _output_s(client, router, "fast")
    # 0.6 s against 0.24 s modelled: fast mode's output must take well under three quarters of the standard's
    assert fast < standard * 0.75, (fast, standard, FAST_MODE_SPEEDUP)


def test_fast_steps_must_be_step_names() -> None:
    with pytest.raises(ValueError, match="collection of step names"):
        aa.ModelRouter(default=GA, fast_steps="final_synthesis")
