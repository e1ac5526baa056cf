"""Scripted agent behaviour: which tools the simulated model calls on each turn, then its answer.

A scenario is a list of tool-calling turns. A request that offers tools is answered with the tool
calls of turn *k*, where *k* is how many rounds of tool results the conversation already holds; once
the turns are used up (or when no tools are offered), the model answers in text. Tool inputs come
from the scenario or are generated to fit each tool's ``input_schema``.
"""

from __future__ import annotations

import json
import random
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .. import semconv
from ..errors import ConfigurationError
from .profiles import Timing
from .protocol import Block, json_pieces, new_id, thinking_requested

__all__ = [
    "DEFAULT_SCENARIO",
    "SUBAGENT_TOOLS",
    "Scenario",
    "ScriptedCall",
    "load_scenario",
    "plan_answer",
    "plan_thinking",
]

_WORDS: Final = tuple(
    " ".join(
        (
            "your refund was processed on the third and should reach the card within five business days",
            "the pro plan includes priority support and the team plan adds shared workspaces for up to",
            "twenty people let me know if you would like me to switch plans or check anything else",
        )
    ).split()
)


@dataclass(frozen=True)
class ScriptedCall:
    """One tool call of a turn; ``input`` None means: generate one from the tool's schema."""

    name: str
    input: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Scenario:
    turns: Sequence[Sequence[ScriptedCall]] = field(default_factory=tuple)
    preface: str = "Let me look that up."
    """Text the model says before its tool calls on a tool-calling turn (empty for none)."""


DEFAULT_SCENARIO: Final = Scenario(
    turns=(
        (
            ScriptedCall("get_user_profile", {"user_id": "u-1042"}),
            ScriptedCall("get_transaction_history", {"user_id": "u-1042"}),
        ),
        (
            ScriptedCall("get_product_catalog", {"category": "plans"}),
            ScriptedCall("get_transaction_history", {"user_id": "u-1042", "days": 90}),
        ),
    )
)
"""The seed article's support agent: two rounds of lookups, then the answer."""

SUBAGENT_TOOLS: Final = semconv.CLAUDE_CODE_SUBAGENT_TOOLS
"""Tools with which the Claude Code CLI starts a subagent (which calls the API again, on and on): called only
when a scenario names them."""


def _completed_tool_rounds(messages: Sequence[Mapping[str, Any]]) -> int:
    rounds = 0
    for message in messages:
        content = message.get("content")
        if (
            message.get("role") == "user"
            and isinstance(content, list)
            and any(isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content)
        ):
            rounds += 1
    return rounds


def _value_for(schema: Mapping[str, Any], name: str, rng: random.Random) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        return int(schema.get("minimum", rng.randint(1, 30)))
    if kind == "number":
        return float(schema.get("minimum", round(rng.uniform(1, 100), 2)))
    if kind == "boolean":
        return True
    if kind == "array":
        item = schema.get("items") or {"type": "string"}
        return [_value_for(item, name, rng)]
    if kind == "object":
        return input_for_schema(schema, rng)
    return f"{name}-{rng.randint(100, 999)}" if "id" in name else f"sample {name}"


def input_for_schema(schema: Mapping[str, Any] | None, rng: random.Random) -> dict[str, Any]:
    """A JSON value fitting ``schema``: every required property (all of them when none is marked)."""
    properties = (schema or {}).get("properties") or {}
    required = (schema or {}).get("required") or list(properties)
    return {name: _value_for(properties.get(name) or {}, name, rng) for name in required}


def text_pieces(count: int, rng: random.Random) -> tuple[str, ...]:
    start = rng.randrange(len(_WORDS))
    return tuple(
        (_WORDS[(start + i) % len(_WORDS)].capitalize() if i == 0 else _WORDS[(start + i) % len(_WORDS)]) + " "
        for i in range(count)
    )


def plan_answer(
    body: Mapping[str, Any], scenario: Scenario, output_tokens: int, rng: random.Random
) -> tuple[list[Block], str, int]:
    """The content blocks, stop reason and output token count for a validated request."""
    max_tokens = int(body["max_tokens"])
    offered = {tool["name"]: tool for tool in body.get("tools") or [] if isinstance(tool, Mapping)}
    turn = _completed_tool_rounds(body["messages"])
    calls: list[ScriptedCall] = []
    if offered and body.get("tool_choice", {}) != {"type": "none"} and turn < len(scenario.turns):
        calls = [call for call in scenario.turns[turn] if call.name in offered]
        if not calls:  # a tool the scenario does not name: the first offered, never one that starts a subagent
            fallback = next((name for name in offered if name not in SUBAGENT_TOOLS), None)
            calls = [ScriptedCall(fallback)] if fallback is not None else []
    if calls:
        blocks: list[Block] = []
        if scenario.preface:
            blocks.append(Block("text", text_pieces_from(scenario.preface)))
        for call in calls:
            # the scenario's values over a schema-fitting input, so required fields are never missing
            generated = input_for_schema(offered[call.name].get("input_schema"), rng)
            tool_input = {**generated, **dict(call.input or {})}
            blocks.append(
                Block(
                    "tool_use",
                    tuple(json_pieces(tool_input)),
                    tool_id=new_id("toolu"),
                    tool_name=call.name,
                    tool_input=tool_input,
                )
            )
        tokens = sum(len(block.pieces) for block in blocks)
        return blocks, "tool_use", tokens
    count = min(output_tokens, max_tokens)
    stop_reason = "max_tokens" if output_tokens > max_tokens else "end_turn"
    return [Block("text", text_pieces(max(count, 1), rng))], stop_reason, max(count, 1)


_THINKING_TOKENS: Final = (150, 600)
"""Reasoning tokens a thinking request draws when the request does not fix them."""


def plan_thinking(body: Mapping[str, Any], timing: Timing, rng: random.Random) -> tuple[list[Block], int]:
    """The reasoning blocks that go before the answer of a request that asks for thinking, and their tokens.

    The tokens are drawn (or fixed by ``x-sim-thinking-tokens``) and capped by the request's budget; with
    ``display: "omitted"`` the thinking block carries only its signature, as the API sends it.
    """
    if not thinking_requested(body):
        return [], 0
    thinking = body["thinking"]
    tokens = timing.thinking_tokens if timing.thinking_tokens is not None else rng.randint(*_THINKING_TOKENS)
    budget = thinking.get("budget_tokens")
    if isinstance(budget, int):
        tokens = min(tokens, budget)
    tokens = max(tokens, 1)
    pieces = () if thinking.get("display") == "omitted" else text_pieces(tokens, rng)
    blocks = [Block("thinking", pieces, signature=new_id("sig"))]
    blocks.extend(Block("redacted_thinking", (), data=new_id("redacted")) for _ in range(timing.redacted_thinking))
    return blocks, tokens


def text_pieces_from(text: str) -> tuple[str, ...]:
    words = text.split()
    return tuple(word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words))


def scenario_from_mapping(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """``{"preface": str, "turns": [[{"name": ..., "input": {...}}, ...], ...]}``."""
    turns_raw = data.get("turns")
    if not isinstance(turns_raw, list) or not all(isinstance(turn, list) for turn in turns_raw):
        raise ConfigurationError(
            f"{source}: 'turns' must be a list of lists of tool calls", setting="turns", value=turns_raw
        )
    turns: list[tuple[ScriptedCall, ...]] = []
    for index, turn in enumerate(turns_raw):
        calls = []
        for call in turn:
            if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
                raise ConfigurationError(f"{source}: turns[{index}] entries need a 'name'", setting="turns", value=call)
            tool_input = call.get("input")
            if tool_input is not None and not isinstance(tool_input, Mapping):
                raise ConfigurationError(
                    f"{source}: turns[{index}] input must be an object", setting="turns", value=tool_input
                )
            calls.append(ScriptedCall(call["name"], tool_input))
        turns.append(tuple(calls))
    preface = data.get("preface", DEFAULT_SCENARIO.preface)
    return Scenario(turns=tuple(turns), preface=str(preface))


def load_scenario(path: str | Path) -> Scenario:
    """A scenario from a ``.json`` or ``.toml`` file (TOML: ``[[turns]]`` tables of ``calls``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read scenario {path}: {exc}", setting="scenario", value=str(path)) from exc
    if path.suffix == ".toml" and isinstance(data.get("turns"), list):
        data = {**data, "turns": [turn.get("calls", []) if isinstance(turn, dict) else turn for turn in data["turns"]]}
    return scenario_from_mapping(data, str(path))
