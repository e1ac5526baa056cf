"""Scenarios: turns by completed tool rounds, schema-fitting inputs, files."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent_anatomy.errors import ConfigurationError
from agent_anatomy.sim import DEFAULT_SCENARIO, load_scenario
from agent_anatomy.sim.scenarios import input_for_schema, plan_answer, scenario_from_mapping


def test_input_for_schema_covers_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "user_id": {"type": "string"},
            "days": {"type": "integer", "minimum": 30},
            "score": {"type": "number"},
            "active": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "sort": {"type": "string", "enum": ["asc", "desc"]},
            "filters": {"type": "object", "properties": {"region": {"type": "string"}}},
            "note": {"type": ["null", "string"]},
        },
    }
    value = input_for_schema(schema, random.Random(0))
    assert set(value) == set(schema["properties"])
    assert isinstance(value["user_id"], str) and value["days"] == 30 and isinstance(value["score"], float)
    assert value["active"] is True and isinstance(value["tags"][0], str) and value["sort"] == "asc"
    assert set(value["filters"]) == {"region"} and isinstance(value["note"], str)


def test_only_offered_tools_are_called() -> None:
    body = {
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "search", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}],
    }
    plan = plan_answer(body, DEFAULT_SCENARIO, 10, random.Random(0))
    assert plan.stop_reason == "tool_use"
    assert plan.calls == ["search"]
    assert plan.output_tokens == sum(len(b.pieces) for b in plan.blocks)


@pytest.mark.parametrize(
    ("offered", "called"),
    [(["Agent", "Task", "Read"], ["Read"]), (["Agent"], [])],
)
def test_a_subagent_tool_is_never_the_fallback(offered: list[str], called: list[str]) -> None:
    """The Claude Code CLI offers ``Agent`` first: calling it unasked starts subagents that never end."""
    body = {
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": name, "input_schema": {"type": "object"}} for name in offered],
    }
    plan = plan_answer(body, DEFAULT_SCENARIO, 10, random.Random(0))
    assert plan.calls == called
    assert plan.stop_reason == ("tool_use" if called else "end_turn")
    asked = scenario_from_mapping({"turns": [[{"name": "Agent", "input": {"prompt": "look"}}]]})
    assert plan_answer(body, asked, 10, random.Random(0)).calls == ["Agent"], "named by the scenario: called"


def test_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('preface = ""\n[[turns]]\ncalls = [{ name = "search", input = { q = "refund" } }]\n')
    scenario = load_scenario(path)
    body = {
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "search", "input_schema": {}}],
    }
    plan = plan_answer(body, scenario, 10, random.Random(0))
    assert [(b.type, dict(b.tool_input or {})) for b in plan.blocks] == [("tool_use", {"q": "refund"})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"turns": 3}', "'turns' must be a list"),
        ('{"turns": [[{"input": {}}]]}', "entries need a 'name'"),
        ("{oops", "cannot read scenario"),
    ],
)
def test_bad_scenarios(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        load_scenario(path)
