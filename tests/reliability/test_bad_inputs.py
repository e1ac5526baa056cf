"""Bad input from the model, the user or a file: a clear error that names the problem, and nothing lost.

The layer-by-layer cases live beside their code (the executor's error results, configure()'s choices,
the sources' file errors); here they are met end to end, the way an agent meets them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.errors import SourceError, TraceNotFoundError
from agent_anatomy.sim import Scenario, ScriptedCall, SimProfile, SimServer
from tests.conftest import Traced

PROMPT = [{"role": "user", "content": "Close my account and refund me."}]


class Receipt:
    """A value with no JSON form."""


@aa.tool
def lookup(user_id: str) -> dict[str, str]:
    """Look up a customer."""
    return {"id": user_id}


@aa.tool
def receipt(order_id: str) -> Receipt:
    """Fetch a receipt object."""
    return Receipt()


def definition(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "description": name, "input_schema": {"type": "object", "properties": properties}}


async def test_the_model_calling_badly_gets_error_results_and_the_agent_finishes(traced: Traced) -> None:
    scenario = Scenario(
        turns=[
            [
                ScriptedCall("close_account", {"user_id": "u1"}),  # offered to the model, implemented nowhere
                ScriptedCall("lookup", {"customer": "u1"}),  # wrong argument name
                ScriptedCall("receipt", {"order_id": "o1"}),  # a result that cannot be serialised
                ScriptedCall("lookup", {"user_id": "u1"}),  # fine
            ]
        ]
    )
    offered = [
        definition("close_account", {"user_id": {"type": "string"}}),
        definition("lookup", {"user_id": {"type": "string"}}),
        definition("receipt", {"order_id": {"type": "string"}}),
    ]
    with SimServer(SimProfile(seed=2).with_zero_latency(), scenario=scenario) as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
            result = await aa.run_agent(
                client, messages=PROMPT, model="claude-haiku-4-5", tools=[lookup, receipt], tool_definitions=offered
            )
    assert result.stop_reason == "end_turn" and result.iterations == 2, "the agent carried on to its answer"
    [tool_turn] = [m for m in result.messages if m["role"] == "user" and isinstance(m["content"], list)]
    by_id = {block["tool_use_id"]: block for block in tool_turn["content"]}
    assert len(by_id) == 4, "every call got a result, in the order asked"
    contents = [(block["is_error"], block["content"]) for block in tool_turn["content"]]
    assert contents[0] == (True, "Unknown tool 'close_account'. Available tools: lookup, receipt.")
    assert contents[1][0] and "Invalid input for tool 'lookup'" in contents[1][1] and "customer" in contents[1][1]
    assert contents[2][0] and "cannot be serialised as JSON" in contents[2][1] and "Receipt" in contents[2][1]
    assert contents[3] == (False, json.dumps({"id": "u1"}))
    errors = {
        s.attributes[semconv.GEN_AI_TOOL_NAME]: s.attributes[semconv.ERROR_TYPE]
        for s in traced.spans()
        if s.name.startswith("execute_tool") and s.status.status_code is StatusCode.ERROR
    }
    assert errors == {"close_account": "unknown_tool", "lookup": "invalid_input", "receipt": "result_not_serialisable"}
    assert traced.span("invoke_agent agent").status.status_code is StatusCode.UNSET


def test_a_trace_id_that_does_not_exist(traced: Traced, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with aa.span("something"):
        pass
    missing = "0000000000000000000000000000dead"
    with pytest.raises(TraceNotFoundError, match=missing):
        aa.anatomy_for(missing)
    path = tmp_path / "spans.jsonl"
    path.write_text("")
    with pytest.raises(SourceError, match="is empty: expected OTLP JSON"):
        Anatomy.from_file(path)
    from agent_anatomy.cli import main

    assert main(["report", str(path)]) == 2
    assert "is empty" in capsys.readouterr().err
