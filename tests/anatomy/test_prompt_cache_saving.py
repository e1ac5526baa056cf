"""The anatomy's figure for what prompt-cache reads saved, against the same agent run uncached."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.sim import ModelProfile, SimProfile, SimServer
from tests._support_tools import QUESTION, TOOLS
from tests.conftest import Traced, make_traced

SYSTEM = "You are the support agent of a billing product; follow the refund policy to the letter. " * 190
"""About 4,000 tokens: the issue's three-turn agent with a long system prompt."""
PROFILE = ModelProfile(ttft_ms=(80, 80), tokens_per_s=(400, 400), output_tokens=(30, 30), prefill_ms_per_1k=100.0)


@pytest.fixture
async def aclient() -> AsyncIterator[anthropic.AsyncAnthropic]:
    with SimServer(SimProfile(families={"sonnet": PROFILE})) as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
            yield client


async def _run(client: anthropic.AsyncAnthropic, traced: Traced, cached: bool) -> tuple[list[float], Anatomy]:
    result = await aa.run_agent(
        client, messages=QUESTION, model="claude-sonnet-4-6", tools=TOOLS, system=SYSTEM, prompt_cache=cached
    )
    spans = [s for s in traced.spans() if s.context.trace_id == int(result.trace_id, 16)]
    chats = sorted((s for s in spans if s.name.startswith("chat ")), key=lambda s: s.start_time or 0)
    assert len(chats) == 3
    ttfts = [float(c.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]) * 1000 for c in chats]
    return ttfts, Anatomy.from_spans(spans, result.trace_id)


async def test_the_anatomy_reports_what_cache_reads_saved_within_a_tenth_of_the_measured_difference(
    aclient: anthropic.AsyncAnthropic,
) -> None:
    traced = make_traced()
    uncached, plain = await _run(aclient, traced, cached=False)
    cached, anatomy = await _run(aclient, traced, cached=True)
    measured = sum(uncached[1:]) - sum(cached[1:])
    assert measured > 400, "the simulator's reads cut the later calls' first tokens (about 360 ms each)"
    report = anatomy.trace_reports()[0]
    calls = report.llm_calls
    assert not isinstance(calls[0].prompt_cache_read_tokens, int), "the first call writes, reads nothing"
    reported = sum(c.prompt_cache_saved_ms for c in calls[1:])  # type: ignore[misc]
    assert abs(reported - measured) < 0.1 * measured, (reported, measured)
    assert report.levers.prompt_cache_saved_ms == pytest.approx(reported, abs=1)
    text = anatomy.render(color=False)
    assert "prompt cache: read" in text and "prompt cache reads saved" in text
    assert all(not isinstance(c.prompt_cache_read_tokens, int) for c in plain.trace_reports()[0].llm_calls)
