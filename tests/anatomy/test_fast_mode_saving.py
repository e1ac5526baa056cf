"""The "use fast mode" what-if: suggested on a model that has fast mode, its saving against the same call made
fast, the lever named, and nothing suggested once the call runs fast or on a model without it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest

import agent_anatomy as aa
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.sim import ModelProfile, SimProfile, SimServer
from tests.conftest import Traced

FAST_CAPABLE, WITHOUT = "claude-opus-5-5", "claude-sonnet-4-6"
PROMPT = [{"role": "user", "content": "Summarise the refund policy."}]
PROFILE = ModelProfile(ttft_ms=(100, 100), tokens_per_s=(100, 100), output_tokens=(80, 80))
"""800 ms of output at standard speed, 320 ms in fast mode: fast mode saves 480 ms."""


@pytest.fixture
async def aclient() -> AsyncIterator[anthropic.AsyncAnthropic]:
    with SimServer(SimProfile(seed=1, families={"opus": PROFILE, "sonnet": PROFILE})) as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
            yield client


async def _answer(client: anthropic.AsyncAnthropic, traced: Traced, router: aa.ModelRouter) -> Anatomy:
    @aa.agent(name="summariser")
    async def run() -> str:
        message = await router.acreate(client, step="final_synthesis", max_tokens=200, messages=PROMPT)
        return str(message.content[0].text)

    await run()
    anatomy = aa.last_anatomy()
    assert anatomy is not None
    return anatomy


async def test_fast_mode_is_suggested_with_its_lever_and_saves_what_the_fast_call_measures(
    traced: Traced, aclient: anthropic.AsyncAnthropic
) -> None:
    standard = await _answer(aclient, traced, aa.ModelRouter(default=FAST_CAPABLE))
    [suggestion] = [s for s in standard.trace_reports()[0].suggestions if s.kind == "fast_mode"]
    assert suggestion.title == "Use fast mode for step 'final_synthesis'"
    assert suggestion.lever.startswith("ModelRouter(fast_steps={'final_synthesis'}")
    assert "with_fast_mode(request)" in suggestion.lever
    assert suggestion.evidence == "reference"

    fast = await _answer(aclient, traced, aa.ModelRouter(default=FAST_CAPABLE, fast_steps={"final_synthesis"}))
    fast_report = fast.trace_reports()[0]
    assert [c.speed for c in fast_report.llm_calls] == ["fast"]
    assert not [s for s in fast_report.suggestions if s.kind == "fast_mode"], "it runs fast already"
    measured = standard.trace_reports()[0].llm_calls[0].duration_ms - fast_report.llm_calls[0].duration_ms
    assert measured > 300, "the simulator's fast mode writes the 80 tokens 2.5 times as fast (480 ms sooner)"
    assert abs(suggestion.saving_ms - measured) <= 0.15 * measured, (suggestion.saving_ms, measured)


async def test_no_fast_mode_suggestion_on_a_model_without_it(traced: Traced, aclient: anthropic.AsyncAnthropic) -> None:
    anatomy = await _answer(aclient, traced, aa.ModelRouter(default=WITHOUT))
    assert not [s for s in anatomy.trace_reports()[0].suggestions if s.kind == "fast_mode"]
