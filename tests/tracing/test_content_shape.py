"""Captured content in the GenAI conventions' shape: valid JSON however long, every block kind mapped,
tool definitions recorded, all only with capture on."""

from __future__ import annotations

import json

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_anatomy import semconv
from agent_anatomy.sim import SimServer
from agent_anatomy.tracing._content import MAX_CONTENT_CHARS, value_json
from agent_anatomy.tracing._genai_content import output_messages_json, tool_definitions_json
from tests.conftest import make_traced

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3000),
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(st.text(max_size=8), inner, max_size=12),
    max_leaves=60,
)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_long_content_stays_valid_json_within_the_limit(value: object) -> None:
    text = value_json(value)
    if isinstance(value, str):
        assert len(text) <= MAX_CONTENT_CHARS
        return
    assert len(text) <= MAX_CONTENT_CHARS
    decoded = json.loads(text)
    if isinstance(value, dict) and isinstance(decoded, dict) and "truncated" not in decoded:
        assert set(decoded) == set(value), "keys are kept; only strings inside are cut"


def test_a_huge_tool_result_is_cut_inside_its_parts() -> None:
    content = [{"type": "text", "text": "x" * 50_000}, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]
    text = output_messages_json(content, "tool_use")
    [message] = json.loads(text)
    assert [part["type"] for part in message["parts"]] == ["text", "tool_call"]
    assert message["parts"][0]["content"].endswith("…[truncated]")
    assert message["finish_reason"] == "tool_use"


def test_block_kinds_map_to_the_conventions_parts() -> None:
    content = [
        {"type": "thinking", "thinking": "hmm", "signature": "s"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "server_tool_use", "id": "srv1", "name": "web_search", "input": {"query": "refunds"}},
        {"type": "web_search_tool_result", "tool_use_id": "srv1", "content": []},
        {"type": "text", "text": "done"},
    ]
    [message] = json.loads(output_messages_json(content, "end_turn"))
    parts = message["parts"]
    assert parts[0] == {"type": "reasoning", "content": "hmm"}
    assert parts[1] == {"type": "redacted_thinking", "data": "opaque"}
    assert parts[2] == {
        "type": "server_tool_call",
        "id": "srv1",
        "name": "web_search",
        "arguments": {"query": "refunds"},
    }
    assert parts[3]["type"] == "web_search_tool_result" and parts[3]["tool_use_id"] == "srv1"


def test_tool_definitions() -> None:
    tools = [
        {"name": "lookup", "description": "Find a customer", "input_schema": {"type": "object"}},
        {"name": "bare", "input_schema": {"type": "object"}},
    ]
    assert json.loads(tool_definitions_json(tools) or "") == [
        {"type": "function", "name": "lookup", "description": "Find a customer", "parameters": {"type": "object"}},
        {"type": "function", "name": "bare", "parameters": {"type": "object"}},
    ]
    assert tool_definitions_json([]) is None and tool_definitions_json(None) is None


@pytest.mark.parametrize("capture", [False, True])
def test_tool_definitions_on_the_span_only_with_capture(sim: SimServer, capture: bool) -> None:
    traced = make_traced(capture_content=capture)
    tools = [{"name": "lookup", "description": "Find a customer", "input_schema": {"type": "object"}}]
    with anthropic.Anthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=16,
            tools=tools,
            tool_choice={"type": "none"},
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-ttft-ms": "0", "x-sim-generation-ms": "0"},
        )
    [span] = [s for s in traced.spans() if s.name.startswith("chat")]
    if capture:
        assert json.loads(span.attributes[semconv.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "lookup"
    else:
        assert semconv.GEN_AI_TOOL_DEFINITIONS not in span.attributes
