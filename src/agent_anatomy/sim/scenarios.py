"""Scripted agent behaviour: which tools the simulated model calls on each turn, and what its answers say.

A scenario is a list of tool-calling turns and a list of scripted answers. A request that offers the tools a
scenario names is answered with the tool calls of turn *k*, where *k* is the conversation's depth: the rounds
of tool results it holds, or one more than the turn that issued the tool calls its latest message answers
(known from the ids the simulator handed out, so an agent that resends only its latest exchange is not sent
back to turn one). Once the turns are used up, or when no tools are offered, the model answers in text: the
first scripted answer that matches the request (by pattern, or by turn), else a sentence that names the
question. An agent the scenario does not know (none of its tools offered) gets the automatic scenario: one
declared tool called, with an input valid against its schema, then the answer. Tool inputs come from the
scenario or are generated to fit each tool's ``input_schema``; no conversation takes more than
``MAX_TOOL_TURNS`` tool turns of the simulator's choosing.
"""

from __future__ import annotations

import json
import random
import re
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
    "AUTOMATIC",
    "DEFAULT_SCENARIO",
    "MAX_TOOL_TURNS",
    "Plan",
    "SUBAGENT_TOOLS",
    "Scenario",
    "ScriptedAnswer",
    "ScriptedCall",
    "conversation_depth",
    "load_scenario",
    "load_scenarios",
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
class ScriptedAnswer:
    """The text of an answer: given when ``match`` is found in the request's text (its system prompt and last
    user message), or on the conversation's ``turn``-th answer (0-based: the assistant messages before it), or,
    with neither, as the answer of any turn no other fits. ``{question}`` in the text is the user's question."""

    text: str
    match: re.Pattern[str] | None = None
    turn: int | None = None

    def fits(self, request_text: str, turn: int) -> bool:
        if self.match is not None and not self.match.search(request_text):
            return False
        return self.turn is None or self.turn == turn


@dataclass(frozen=True)
class Scenario:
    turns: Sequence[Sequence[ScriptedCall]] = field(default_factory=tuple)
    preface: str = "Let me look that up."
    """Text the model says before its tool calls on a tool-calling turn (empty for none)."""
    answers: Sequence[ScriptedAnswer] = field(default_factory=tuple)
    """Scripted answer texts, tried in order; the first that fits the request is the answer."""

    def knows(self, offered: Mapping[str, Any]) -> bool:
        """Whether this scenario is about the agent offering ``offered``: it names one of those tools (a
        scenario with no turns scripts answers only, and so fits every agent)."""
        named = {call.name for turn in self.turns for call in turn}
        return not named or bool(named & set(offered))

    def turns_for(self, offered: Mapping[str, Any]) -> list[tuple[ScriptedCall, ...]]:
        """The turns of an agent that offers ``offered``: each turn's calls of tools it has, and no turn that
        has none (a subagent without the ``Agent`` tool goes straight to the turn after the one that starts it)."""
        turns = [tuple(call for call in turn if call.name in offered) for turn in self.turns]
        return [turn for turn in turns if turn]

    def answer_for(self, request_text: str, turn: int) -> ScriptedAnswer | None:
        return next((answer for answer in self.answers if answer.fits(request_text, turn)), None)


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

AUTOMATIC: Final = Scenario()
"""For an agent no scenario names: one declared tool called, then the answer, which names the question."""

MAX_TOOL_TURNS: Final = 8
"""Tool turns of the simulator's own choosing one conversation can take; after them it answers in text."""

SUBAGENT_TOOLS: Final = semconv.CLAUDE_CODE_SUBAGENT_TOOLS
"""Tools with which the Claude Code CLI starts a subagent (which calls the API again, on and on): called only
when a scenario names them."""


def _tool_results(message: Mapping[str, Any]) -> list[str]:
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, list):
        return []
    return [str(b.get("tool_use_id")) for b in content if isinstance(b, Mapping) and b.get("type") == "tool_result"]


def _last_user(messages: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((m for m in reversed(messages) if m.get("role") == "user"), None)


def conversation_depth(messages: Sequence[Mapping[str, Any]], issued: Mapping[str, int] | None = None) -> int:
    """How many tool turns this conversation has had: the rounds of tool results it holds, or, when its last user
    message answers tool calls the simulator issued (``issued``: tool-use id → turn), one more than the turn that
    issued them, if that is more (an agent that resends only its latest exchange holds one round, always). A new
    question does not start again from none: an agent that adds user messages of its own (the Claude Code CLI's
    background-task notices) would go round for ever."""
    rounds = sum(1 for message in messages if _tool_results(message))
    last = _last_user(messages)
    answered = _tool_results(last) if last is not None else []
    turns = [issued[tool_id] + 1 for tool_id in answered if issued and tool_id in issued]
    return max([rounds, *turns])


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping) and b.get("type") == "text")
    return ""


def question_of(messages: Sequence[Mapping[str, Any]]) -> str:
    """The user's latest question: the text of the last user message that has any (tool results have none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            text = " ".join(_text_of(message.get("content")).split())
            if text:
                return text
    return ""


def request_text(body: Mapping[str, Any]) -> str:
    """What a scripted answer's pattern is matched on: the system prompt and the last user message's text."""
    system = body.get("system")
    last = _last_user(body.get("messages") or [])
    return "\n".join((_text_of(system), _text_of(last.get("content")) if last is not None else ""))


def _resolved(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with a local ``$ref`` (``#/$defs/Order``, as pydantic writes them) followed; one of an
    ``anyOf``/``oneOf`` taken (the first that is not null)."""
    seen = 0
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/") and seen < 32:
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        schema, seen = target if isinstance(target, Mapping) else {}, seen + 1
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"] or options
            return _resolved({**{k: v for k, v in schema.items() if k != key}, **usable[0]}, root)
    return schema


def _value_for(schema: Mapping[str, Any], name: str, rng: random.Random, root: Mapping[str, Any]) -> Any:
    schema = _resolved(schema, root)
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
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
        return [_value_for(item, name, rng, root) for _ in range(max(int(schema.get("minItems", 1)), 1))]
    if kind == "object" or "properties" in schema:
        return _object_for(schema, rng, root)
    return f"{name}-{rng.randint(100, 999)}" if "id" in name else f"sample {name}"


def _object_for(schema: Mapping[str, Any], rng: random.Random, root: Mapping[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = schema.get("required") or list(properties)
    return {name: _value_for(properties.get(name) or {}, name, rng, root) for name in required}


def input_for_schema(schema: Mapping[str, Any] | None, rng: random.Random) -> dict[str, Any]:
    """A JSON value fitting ``schema``: every required property (all of them when none is marked)."""
    root = schema or {}
    return _object_for(_resolved(root, root), rng, root)


def output_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON schema a request's answer must fit (structured outputs: ``output_config.format``, or the older
    top-level ``output_format``), if it asks for one."""
    config = body.get("output_config")
    for holder in (config.get("format") if isinstance(config, Mapping) else None, body.get("output_format")):
        if isinstance(holder, Mapping) and holder.get("type") == "json_schema":
            schema = holder.get("schema")
            return schema if isinstance(schema, Mapping) else {}
    return None


def text_pieces(count: int, rng: random.Random) -> tuple[str, ...]:
    start = rng.randrange(len(_WORDS))
    return tuple(
        (_WORDS[(start + i) % len(_WORDS)].capitalize() if i == 0 else _WORDS[(start + i) % len(_WORDS)]) + " "
        for i in range(count)
    )


def _automatic_calls(offered: Mapping[str, Any], depth: int) -> list[ScriptedCall]:
    """One declared tool, a different one each turn; never one that starts a Claude Code subagent."""
    usable = [name for name in offered if name not in SUBAGENT_TOOLS]
    return [ScriptedCall(usable[depth % len(usable)])] if usable else []


def _forced(tool_choice: object, offered: Mapping[str, Any]) -> list[ScriptedCall] | None:
    """The call ``tool_choice`` forces (the named tool, or any one tool), as the real API must make it."""
    if not isinstance(tool_choice, Mapping):
        return None
    if tool_choice.get("type") == "tool" and tool_choice.get("name") in offered:
        return [ScriptedCall(str(tool_choice["name"]))]
    if tool_choice.get("type") == "any":
        return _automatic_calls(offered, 0) or [ScriptedCall(next(iter(offered)))]
    return None


def plan_calls(body: Mapping[str, Any], scenario: Scenario, depth: int) -> list[ScriptedCall]:
    """The tool calls of this turn of the conversation; none means: answer in text."""
    offered = {tool["name"]: tool for tool in body.get("tools") or [] if isinstance(tool, Mapping)}
    tool_choice = body.get("tool_choice") or {}
    if not offered or (isinstance(tool_choice, Mapping) and tool_choice.get("type") == "none"):
        return []
    forced = _forced(tool_choice, offered)
    if forced is not None:
        return forced
    if depth >= MAX_TOOL_TURNS:
        return []
    if not scenario.knows(offered) or not scenario.turns:
        return _automatic_calls(offered, depth) if depth == 0 else []
    turns = scenario.turns_for(offered)
    return list(turns[depth]) if depth < len(turns) else []


def _answer_text(body: Mapping[str, Any], scenario: Scenario, output_tokens: int, rng: random.Random) -> str:
    messages = body["messages"]
    question = question_of(messages)
    scripted = scenario.answer_for(request_text(body), sum(1 for m in messages if m.get("role") == "assistant"))
    if scripted is not None:
        return scripted.text.replace("{question}", question)
    schema = output_schema(body)
    if schema is not None:  # structured outputs: the answer is JSON that fits the schema
        return json.dumps(input_for_schema(schema, rng))
    last = _last_user(messages)
    if last is not None and _tool_results(last):
        opening = f"Based on what the tools returned, here is the answer to \u201c{_clip(question)}\u201d:"
    elif question:
        opening = f"About \u201c{_clip(question)}\u201d:"
    else:
        opening = ""
    words = opening.split()
    filler = "".join(text_pieces(max(output_tokens - len(words), 1), rng)).strip()
    return f"{opening} {filler[:1].lower()}{filler[1:]}" if opening else filler


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _stop_at(text: str, stop_sequences: object) -> tuple[str, str | None]:
    """The text up to the first of the request's stop sequences it holds, and that sequence."""
    if not isinstance(stop_sequences, list):
        return text, None
    found = [(text.find(stop), stop) for stop in stop_sequences if isinstance(stop, str) and stop and stop in text]
    if not found:
        return text, None
    at, stop = min(found)
    return text[:at], stop


@dataclass(frozen=True)
class Plan:
    """What the model answers one request with: its content blocks (thinking aside), stop reason, output tokens
    and the stop sequence it stopped on."""

    blocks: list[Block]
    stop_reason: str
    output_tokens: int
    stop_sequence: str | None = None

    @property
    def calls(self) -> list[str]:
        """The names of the tools it calls, in order."""
        return [block.tool_name or "" for block in self.blocks if block.type == "tool_use"]

    @property
    def text(self) -> str:
        return "".join("".join(block.pieces) for block in self.blocks if block.type == "text")


def plan_answer(
    body: Mapping[str, Any],
    scenario: Scenario,
    output_tokens: int,
    rng: random.Random,
    depth: int | None = None,
) -> Plan:
    """The answer to a validated request: its blocks, stop reason, output tokens and stop sequence.

    ``depth``: the conversation's tool turns so far (``conversation_depth``; from its messages alone if None).
    """
    max_tokens = int(body["max_tokens"])
    offered = {tool["name"]: tool for tool in body.get("tools") or [] if isinstance(tool, Mapping)}
    calls = plan_calls(body, scenario, conversation_depth(body["messages"]) if depth is None else depth)
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
        return Plan(blocks, "tool_use", tokens)
    text, stop = _stop_at(_answer_text(body, scenario, output_tokens, rng), body.get("stop_sequences"))
    pieces = text_pieces_from(text) or (" ",)
    if len(pieces) > max_tokens:
        return Plan([Block("text", pieces[:max_tokens])], "max_tokens", max_tokens)
    return Plan([Block("text", pieces)], "stop_sequence" if stop is not None else "end_turn", len(pieces), stop)


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
    """``text`` in token-sized pieces (a word and the space after it) that join back to exactly ``text``."""
    return tuple(re.findall(r"\s*\S+\s*?(?=\s|$)|\s+$", text)) if text.strip() else ()


def _answers_from(raw: object, source: str) -> tuple[ScriptedAnswer, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigurationError(f"{source}: 'answers' must be a list of tables", setting="answers", value=raw)
    answers = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("text"), str):
            raise ConfigurationError(f"{source}: answers[{index}] needs a 'text'", setting="answers", value=item)
        unknown = set(item) - {"text", "match", "turn"}
        if unknown:
            raise ConfigurationError(
                f"{source}: answers[{index}] has unknown keys {sorted(unknown)}; known: match, text, turn",
                setting="answers",
                value=sorted(unknown),
            )
        match = item.get("match")
        try:
            pattern = re.compile(match) if isinstance(match, str) else None
        except re.error as exc:
            raise ConfigurationError(
                f"{source}: answers[{index}].match {match!r} is not a regular expression: {exc}",
                setting="answers",
                value=match,
            ) from None
        turn = item.get("turn")
        if turn is not None and (isinstance(turn, bool) or not isinstance(turn, int) or turn < 0):
            raise ConfigurationError(
                f"{source}: answers[{index}].turn must be a whole number from 0", setting="answers", value=turn
            )
        answers.append(ScriptedAnswer(item["text"], pattern, turn))
    return tuple(answers)


def scenario_from_mapping(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """``{"preface": str, "turns": [[{"name": ..., "input": {...}}, ...], ...], "answers": [{"text": ...,
    "match": regex, "turn": n}, ...]}``; either list may be missing."""
    turns_raw = data.get("turns", [])
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
    return Scenario(turns=tuple(turns), preface=str(preface), answers=_answers_from(data.get("answers"), source))


def _read(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read scenario {path}: {exc}", setting="scenario", value=str(path)) from exc
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"scenario {path} must hold a table", setting="scenario", value=str(path))
    return data


def _one(data: Mapping[str, Any], source: str, toml: bool) -> Scenario:
    if toml and isinstance(data.get("turns"), list):  # TOML: [[turns]] tables of calls
        data = {**data, "turns": [turn.get("calls", []) if isinstance(turn, dict) else turn for turn in data["turns"]]}
    return scenario_from_mapping(data, source)


def load_scenarios(path: str | Path) -> dict[str, Scenario]:
    """The scenarios of a ``.json`` or ``.toml`` file, by name: those of its ``scenarios`` table, or the file's
    one scenario named after the file (``support.toml`` → ``support``)."""
    path = Path(path)
    data = _read(path)
    toml = path.suffix == ".toml"
    named = data.get("scenarios")
    if named is None:
        return {path.stem: _one(data, str(path), toml)}
    if not isinstance(named, Mapping) or not all(isinstance(v, Mapping) for v in named.values()):
        raise ConfigurationError(
            f"{path}: 'scenarios' must be a table of scenarios by name", setting="scenarios", value=named
        )
    return {str(name): _one(raw, f"{path} [scenarios.{name}]", toml) for name, raw in named.items()}


def load_scenario(path: str | Path) -> Scenario:
    """The one scenario of a ``.json`` or ``.toml`` file (TOML: ``[[turns]]`` tables of ``calls``)."""
    path = Path(path)
    return _one(_read(path), str(path), path.suffix == ".toml")
