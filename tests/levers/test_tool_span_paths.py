"""Every option of ``@tool`` holds wherever the tool runs: called directly, by the executor, by ``run_agent``.

One builder (``tracing.tool_span``) makes every ``execute_tool`` span, so the span of a tool is the same
whoever triggers it; only the call's own facts (its id, the input's hash) are added by an executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace import ReadableSpan

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.sim import Scenario, ScriptedCall, SimProfile, SimServer
from tests.conftest import Traced, make_traced

SECRET = "card-4242-SECRET"


@aa.tool(
    name="charge_card",
    description="Charge a card.",
    side_effects=True,
    tool_type="extension",
    record_args=False,
    record_result=False,
    attributes={"team": "billing"},
)
async def charge(card: str, amount: int) -> dict[str, object]:
    """Not this docstring: the description given wins."""
    return {"charged": amount, "card": card}


@aa.tool(record_args=True, record_result=True)
def lookup(user_id: str) -> dict[str, str]:
    """Look up a customer."""
    return {"id": user_id}


@aa.tool
def plain(user_id: str) -> str:
    """A tool with every default."""
    return f"plain {user_id}"


INPUTS: dict[str, dict[str, Any]] = {
    "charge_card": {"card": SECRET, "amount": 5},
    "lookup": {"user_id": "u1"},
    "plain": {"user_id": "u2"},
}


async def _direct() -> None:
    await charge(**INPUTS["charge_card"])
    lookup(**INPUTS["lookup"])
    plain(**INPUTS["plain"])


async def _executor() -> None:
    calls = [{"id": f"toolu_{name}", "name": name, "input": value} for name, value in INPUTS.items()]
    await aa.ParallelExecutor([charge, lookup, plain]).run(calls)


async def _run_agent() -> None:
    scenario = Scenario(turns=[[ScriptedCall(name, value) for name, value in INPUTS.items()]])
    with SimServer(SimProfile(seed=4).with_zero_latency(), scenario=scenario) as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
            result = await aa.run_agent(
                client,
                messages=[{"role": "user", "content": "Charge me."}],
                model="claude-haiku-4-5",
                tools=[charge, lookup, plain],
            )
    assert result.iterations == 2


PATHS: dict[str, Callable[[], Awaitable[None]]] = {"direct": _direct, "executor": _executor, "run_agent": _run_agent}


def _tool_spans(traced: Traced) -> dict[str, ReadableSpan]:
    spans = [s for s in traced.spans() if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == "execute_tool"]
    by_name = {s.attributes[semconv.GEN_AI_TOOL_NAME]: s for s in spans}
    assert len(by_name) == len(spans) == 3, [s.name for s in spans]
    return by_name  # type: ignore[return-value]


@pytest.mark.parametrize("capture", [True, False], ids=["capture on", "capture off"])
@pytest.mark.parametrize("path", list(PATHS))
async def test_every_tool_option_on_every_path(path: str, capture: bool) -> None:
    traced = make_traced(capture_content=capture)
    await PATHS[path]()
    spans = _tool_spans(traced)

    charge_span = spans["charge_card"]
    assert charge_span.name == "execute_tool charge_card"
    assert charge_span.attributes[semconv.GEN_AI_TOOL_TYPE] == "extension"
    assert charge_span.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "Charge a card."
    assert charge_span.attributes[semconv.ANATOMY_TOOL_SIDE_EFFECTS] is True
    assert charge_span.attributes["team"] == "billing"
    assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in charge_span.attributes, "record_args=False holds"
    assert semconv.GEN_AI_TOOL_CALL_RESULT not in charge_span.attributes, "record_result=False holds"
    assert not any(SECRET in str(value) for value in charge_span.attributes.values())

    lookup_span = spans["lookup"]
    assert lookup_span.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "Look up a customer."
    assert lookup_span.attributes[semconv.GEN_AI_TOOL_TYPE] == "function"
    assert '"u1"' in lookup_span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS], "record_args=True holds"
    assert '"u1"' in lookup_span.attributes[semconv.GEN_AI_TOOL_CALL_RESULT], "record_result=True holds"

    plain_span = spans["plain"]
    assert (semconv.GEN_AI_TOOL_CALL_ARGUMENTS in plain_span.attributes) is capture, "the default follows capture"
    assert (semconv.GEN_AI_TOOL_CALL_RESULT in plain_span.attributes) is capture

    executed = path != "direct"
    for span in spans.values():
        assert (semconv.GEN_AI_TOOL_CALL_ID in span.attributes) is executed, "a call id only where there is one"


def test_every_path_starts_the_same_span_attributes(traced: Traced) -> None:
    """Apart from the call's own facts, the three paths give identical attribute keys (with capture off)."""
    keys: dict[str, dict[str, set[str]]] = {}
    for path, run in PATHS.items():
        before = len(traced.spans())
        asyncio.run(run())
        spans = [s for s in traced.spans()[before:] if s.attributes.get(semconv.GEN_AI_TOOL_NAME)]
        own = {semconv.GEN_AI_TOOL_CALL_ID, semconv.ANATOMY_TOOL_INPUT_HASH, semconv.GEN_AI_AGENT_NAME}
        keys[path] = {s.attributes[semconv.GEN_AI_TOOL_NAME]: set(s.attributes) - own for s in spans}  # type: ignore[misc]
        inside_agent = path == "run_agent"
        assert all((semconv.GEN_AI_AGENT_NAME in s.attributes) is inside_agent for s in spans), path
    assert keys["direct"] == keys["executor"] == keys["run_agent"]
