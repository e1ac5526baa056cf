"""Agents the simulator was not written for, through the real SDK: conversations validated as the API validates
them, the automatic scenario (never looping), scripted answers, scenarios chosen per request, today's models."""

from __future__ import annotations

import typing
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import anthropic
import jsonschema
import pydantic
import pytest

from agent_anatomy import catalogue
from agent_anatomy.anatomy.speeds import REFERENCE_SPEEDS
from agent_anatomy.sim import SimProfile, SimServer
from agent_anatomy.sim.scenarios import MAX_TOOL_TURNS, scenario_from_mapping

FAST = {"x-sim-ttft-ms": "0", "x-sim-tokens-per-s": "100000"}
MODEL = "claude-sonnet-5-5"
TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_customer_info",
        "description": "Retrieves customer information based on their customer ID.",
        "input_schema": {
            "type": "object",
            "properties": {"customer_id": {"type": "string", "description": "The unique customer identifier"}},
            "required": ["customer_id"],
        },
    },
    {
        "name": "cancel_order",
        "input_schema": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string"},
                "reason": {"type": "string", "enum": ["changed_mind", "damaged"]},
                "refund": {"type": "boolean"},
                "items": {"type": "array", "items": {"type": "integer", "minimum": 1}},
            },
            "required": ["order_id", "reason", "items"],
        },
    },
]
TASKS = """<tasks>
  <task><type>formal</type><description>Write a precise, technical version</description></task>
  <task><type>conversational</type><description>Write an engaging, friendly version</description></task>
</tasks>"""


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    scripted = scenario_from_mapping(
        {
            "answers": [
                {"match": r"(?i)break this task down", "text": f"<analysis>Two ways.</analysis>\n{TASKS}"},
                {"match": r"<response>", "text": "<response>{question}</response> and nothing after"},
                {"turn": 1, "text": "the second answer"},
            ]
        }
    )
    lookup = scenario_from_mapping({"turns": [[{"name": "cancel_order", "input": {"order_id": "o-7"}}]] * 3})
    with SimServer(SimProfile(seed=3), scenarios={"scripted": scripted, "cancel": lookup}) as server:
        yield server


@pytest.fixture
def client(sim: SimServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0, default_headers=FAST) as opened:
        yield opened


# --- the automatic scenario --------------------------------------------------------------------------------


def test_an_agent_that_resends_only_its_latest_exchange_finishes(client: anthropic.Anthropic) -> None:
    """The cookbook's customer-service agent rebuilds ``messages`` as question, last answer, one tool result: it
    used to be sent back to the first turn for ever."""
    question = "What is the email address of customer C1?"
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    response = client.messages.create(model=MODEL, max_tokens=4096, tools=TOOLS, messages=messages)
    requests = 1
    while response.stop_reason == "tool_use" and requests < 20:
        tool_use = next(block for block in response.content if block.type == "tool_use")
        jsonschema.validate(tool_use.input, next(t for t in TOOLS if t["name"] == tool_use.name)["input_schema"])
        messages = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": response.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "found"}]},
        ]
        response = client.messages.create(model=MODEL, max_tokens=4096, tools=TOOLS, messages=messages)
        requests += 1
    assert (response.stop_reason, requests) == ("end_turn", 2), "one tool turn, then the answer"
    [text] = [block.text for block in response.content if block.type == "text"]
    assert question in text, "the answer names the question"


@pytest.mark.parametrize("stream", [False, True])
def test_automatic_inputs_are_valid_against_each_schema(client: anthropic.Anthropic, stream: bool) -> None:
    for tools in (TOOLS, TOOLS[::-1]):
        request = {"model": MODEL, "max_tokens": 256, "tools": tools, "messages": [{"role": "user", "content": "go"}]}
        if stream:
            with client.messages.stream(**request) as events:
                message = events.get_final_message()
        else:
            message = client.messages.create(**request)
        [call] = [block for block in message.content if block.type == "tool_use"]
        assert call.name == tools[0]["name"]
        jsonschema.validate(call.input, tools[0]["input_schema"])


def test_a_scripted_scenario_never_loops(client: anthropic.Anthropic) -> None:
    """Even a scenario of many turns, answered one exchange at a time, ends within its turns (and the bound)."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "cancel it"}]
    extra = {"x-sim-scenario": "cancel"}
    requests = 0
    while requests < 3 * MAX_TOOL_TURNS:
        requests += 1
        response = client.messages.create(
            model=MODEL, max_tokens=256, tools=TOOLS, messages=messages, extra_headers=extra
        )
        if response.stop_reason != "tool_use":
            break
        [call] = [block for block in response.content if block.type == "tool_use"]
        assert call.input["order_id"] == "o-7"
        messages = [
            messages[0],
            {"role": "assistant", "content": response.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "done"}]},
        ]
    assert requests == 4, "the scenario's three tool turns, then the answer"


def test_a_forced_tool_is_called(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=TOOLS,
        tool_choice={"type": "tool", "name": "cancel_order"},
        messages=[{"role": "user", "content": "go"}],
    )
    assert [block.name for block in message.content if block.type == "tool_use"] == ["cancel_order"]


# --- invalid conversations ----------------------------------------------------------------------------------

USE = {"type": "tool_use", "id": "toolu_1", "name": "get_customer_info", "input": {"customer_id": "C1"}}


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": [USE]},
                {"role": "user", "content": "?"},
            ],
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1.",
        ),
        (
            [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": [USE]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"},
                        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "x"},
                    ],
                },
            ],
            "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_2.",
        ),
        (
            [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}]}],
            "messages.0.content.0: unexpected `tool_use_id`",
        ),
        (
            [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}],
            'first message must use the "user"',
        ),
        ([], "messages: at least one message is required"),
    ],
)
def test_conversations_the_api_refuses_are_refused(
    client: anthropic.Anthropic, messages: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model=MODEL, max_tokens=64, tools=TOOLS, messages=messages)
    assert refused.value.status_code == 400
    assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert message in refused.value.body["error"]["message"]  # type: ignore[index]


def test_a_valid_conversation_with_merged_turns_is_accepted(client: anthropic.Anthropic) -> None:
    """Consecutive messages of one role are one turn, as the API merges them."""
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "text", "text": "looking"}]},
        {"role": "assistant", "content": [USE]},
        {"role": "user", "content": [result]},
        {"role": "user", "content": "and?"},
    ]
    assert client.messages.create(model=MODEL, max_tokens=64, tools=TOOLS, messages=messages).stop_reason


def test_missing_max_tokens_and_unknown_model(sim: SimServer, client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="max_tokens: Field required"):
        client.post(
            "/v1/messages", body={"model": MODEL, "messages": [{"role": "user", "content": "q"}]}, cast_to=object
        )
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="gpt-4o", max_tokens=8, messages=[{"role": "user", "content": "q"}])
    assert missing.value.body == {  # type: ignore[comparison-overlap]
        "type": "error",
        "error": {"type": "not_found_error", "message": "model: gpt-4o"},
        "request_id": missing.value.request_id,
    }


# --- scripted answers and scenarios per request --------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_a_scripted_tagged_answer_parses(client: anthropic.Anthropic, stream: bool) -> None:
    prompt = "Analyze this task and break this task down into 2-3 distinct approaches: write a product description"
    request = {"model": MODEL, "max_tokens": 1024, "messages": [{"role": "user", "content": prompt}]}
    extra = {"x-sim-scenario": "scripted"}
    if stream:
        with client.messages.stream(**request, extra_headers=extra) as events:
            text = events.get_final_text()
    else:
        text = client.messages.create(**request, extra_headers=extra).content[0].text  # type: ignore[union-attr]
    assert text == f"<analysis>Two ways.</analysis>\n{TASKS}", "exactly the scripted text, new lines and all"
    tasks = ET.fromstring(text[text.index("<tasks>") :])
    assert [task.findtext("type") for task in tasks] == ["formal", "conversational"]


def test_a_scripted_answer_stops_at_a_stop_sequence_and_by_metadata(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=64,
        stop_sequences=["</response>"],
        metadata={"user_id": "scenario:scripted"},
        messages=[{"role": "user", "content": "Answer in <response> tags: why is the sky blue?"}],
    )
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "</response>")
    assert message.content[0].text == "<response>Answer in <response> tags: why is the sky blue?"  # type: ignore[union-attr]


def test_a_scripted_answer_by_turn(client: anthropic.Anthropic) -> None:
    messages = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first"},
        {"role": "user", "content": "two"},
    ]
    message = client.messages.create(
        model=MODEL, max_tokens=64, messages=messages, extra_headers={"x-sim-scenario": "scripted"}
    )
    assert message.content[0].text == "the second answer"  # type: ignore[union-attr]


def test_a_scenario_the_server_does_not_hold(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="scenario 'nope' is not one this simulator holds"):
        client.messages.create(
            model=MODEL,
            max_tokens=8,
            messages=[{"role": "user", "content": "q"}],
            extra_headers={"x-sim-scenario": "nope"},
        )


# --- models ---------------------------------------------------------------------------------------------


def test_the_catalogue_is_what_is_served_and_what_the_reference_table_knows(client: anthropic.Anthropic) -> None:
    listed = [model.id for model in client.models.list()]
    assert listed == list(catalogue.MODELS)
    sdk_models = [m for arg in typing.get_args(anthropic.types.Model) for m in typing.get_args(arg)]
    assert sdk_models, "the installed SDK names its models"
    for model in dict.fromkeys(listed + sdk_models):
        line = catalogue.line_of(model)
        assert line in REFERENCE_SPEEDS, f"{model}: a reference speed"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's, for a model past its end of life
            message = client.messages.create(
                model=model,
                max_tokens=8,
                messages=[{"role": "user", "content": "q"}],
                extra_headers={"x-sim-tokens": "3"},
            )
        assert message.model == model


# --- message threads ----------------------------------------------------------------------------------------


def test_a_thread_continues_with_only_its_new_messages(client: anthropic.Anthropic) -> None:
    betas = ["message-threads-2026-08-12"]
    first = client.beta.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=TOOLS,
        messages=[{"role": "user", "content": "Where is customer C1?"}],
        thread={"type": "create"},
        betas=betas,
    )
    [call] = [block for block in first.content if block.type == "tool_use"]
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Paris"}]}
    thread = {"type": "continue", "previous_message_id": first.id}
    second = client.beta.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=[result],
        thread=thread,
        betas=betas,  # type: ignore[list-item]
    )
    assert second.stop_reason == "end_turn", "the tool result answers the thread's tool call: no 400, the answer"
    assert "Where is customer C1?" in second.content[0].text  # type: ignore[union-attr]
    with pytest.raises(anthropic.BadRequestError) as again:
        client.beta.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[result],
            thread=thread,
            betas=betas,  # type: ignore[list-item]
        )
    assert again.value.body["error"]["details"] == {"error_code": "thread_already_continued"}  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as lost:
        client.beta.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": "q"}],
            thread={"type": "continue", "previous_message_id": "msg_gone"},
            betas=betas,
        )
    assert lost.value.body["error"]["details"] == {"error_code": "thread_not_found"}  # type: ignore[index]


@pytest.mark.parametrize("stream", [False, True])
def test_a_structured_output_fits_its_schema(client: anthropic.Anthropic, stream: bool) -> None:
    class Line(pydantic.BaseModel):
        sku: str
        quantity: int

    class Order(pydantic.BaseModel):
        customer: str
        lines: list[Line]
        gift: bool | None = None

    request: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Extract the order: 2 packs of tea for Ann."}],
        "output_format": Order,
    }
    if stream:
        with client.messages.stream(**request) as events:
            parsed = events.get_final_message().parsed_output
    else:
        parsed = client.messages.parse(**request).parsed_output
    assert isinstance(parsed, Order) and parsed.lines and isinstance(parsed.lines[0], Line)
