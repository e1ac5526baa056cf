"""The simulated API over HTTP: what the real SDK sees, errors in Anthropic's shape, faults, timing."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx2
import pytest

from agent_anatomy.errors import SimulatorError
from agent_anatomy.sim import SimProfile, SimServer
from agent_anatomy.sim.profiles import FaultProfile
from tests._processes import running

HEADERS = {"x-api-key": "test", "anthropic-version": "2023-06-01", "x-sim-ttft-ms": "0", "x-sim-generation-ms": "0"}
BODY = {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
TOOLS = [
    {
        "name": "get_user_profile",
        "description": "Look up a customer",
        "input_schema": {"type": "object", "properties": {"user_id": {"type": "string"}}, "required": ["user_id"]},
    },
    {
        "name": "get_transaction_history",
        "input_schema": {
            "type": "object",
            "properties": {"user_id": {"type": "string"}, "days": {"type": "integer", "minimum": 7}},
            "required": ["user_id", "days"],
        },
    },
    {"name": "get_product_catalog", "input_schema": {"type": "object", "properties": {"category": {"type": "string"}}}},
]


def post(sim: SimServer, body: object, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.post(f"{sim.base_url}/v1/messages", json=body, headers=headers if headers is not None else HEADERS)


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**BODY, "model": None}, "model: Field required"),
        ({k: v for k, v in BODY.items() if k != "max_tokens"}, "max_tokens: Field required"),
        ({**BODY, "max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
        ({**BODY, "messages": []}, "messages: at least one message is required"),
        ({**BODY, "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({**BODY, "messages": [{"role": "assistant", "content": "x"}]}, 'first message must use the "user" role'),
        ({**BODY, "messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages.0.content.0.type"),
        ({**BODY, "stream": "yes"}, "stream: Input should be a valid boolean"),
        ({**BODY, "tools": [{"description": "no name"}]}, "tools.0.name: Field required"),
        ([1, 2], "request body must be a JSON object"),
    ],
)
def test_malformed_requests_get_invalid_request_error(sim: SimServer, body: object, message: str) -> None:
    response = post(sim, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert message in payload["error"]["message"]
    assert payload["request_id"] == response.headers["request-id"]


@pytest.mark.parametrize("beta", ["per-turn-control-2026-07-01", "mid-conversation-tool-changes-2026-07-01"])
def test_system_role_messages_under_the_betas_that_allow_them(sim: SimServer, beta: str) -> None:
    """The Claude Code CLI sends mid-conversation ``system`` messages under these betas; the API takes them."""
    messages = [{"role": "user", "content": "hi"}, {"role": "system", "content": "be brief"}]
    body = {**BODY, "messages": messages}
    refused = post(sim, body)
    assert refused.status_code == 400 and "messages.1.role: Input should be 'user' or 'assistant'" in refused.text
    accepted = post(sim, body, {**HEADERS, "anthropic-beta": f"claude-code-20250219, {beta}"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["content"][0]["type"] == "text"
    other = post(
        sim, {**body, "messages": [*messages, {"role": "tool", "content": "x"}]}, {**HEADERS, "anthropic-beta": beta}
    )
    assert "messages.2.role: Input should be 'user' or 'assistant' or 'system'" in other.text


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_the_cli_probe_is_answered(sim: SimServer, method: str) -> None:
    assert httpx2.request(method, f"{sim.base_url}/api/hello").status_code == 200


def test_received_requests_carry_their_arrival_time(sim: SimServer) -> None:
    before = time.time_ns()
    post(sim, BODY)
    received = sim.received[-1]
    assert received.path == "/v1/messages" and before <= received.arrived_ns <= time.time_ns()


def test_body_that_is_not_json(sim: SimServer) -> None:
    response = httpx2.post(f"{sim.base_url}/v1/messages", content=b"{oops", headers=HEADERS)
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]


def test_missing_api_key_is_401(sim: SimServer) -> None:
    response = post(sim, BODY, headers={"anthropic-version": "2023-06-01", "x-sim-ttft-ms": "0"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("status", "error_type", "exc_type"),
    [
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.APIStatusError),
    ],
)
def test_injected_status_reaches_the_sdk_as_its_error(
    sim: SimServer, status: int, error_type: str, exc_type: type
) -> None:
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0)
    with pytest.raises(exc_type) as raised:
        client.messages.create(**BODY, extra_headers={"x-sim-status": str(status)})
    assert raised.value.status_code == status
    assert raised.value.body["error"]["type"] == error_type
    assert raised.value.request_id.startswith("req_sim")


def test_bad_override_header(sim: SimServer) -> None:
    response = post(sim, BODY, headers={**HEADERS, "x-sim-ttft-ms": "fast"})
    assert response.status_code == 400 and "x-sim-ttft-ms" in response.json()["error"]["message"]
    response = post(sim, BODY, headers={**HEADERS, "x-sim-status": "418"})
    assert response.status_code == 400


# --- the SDK works unmodified ---------------------------------------------------------------------------


def test_sdk_non_streaming_and_streaming_agree(sim: SimServer) -> None:
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0)
    headers = {"x-sim-ttft-ms": "0", "x-sim-tokens": "12"}
    message = client.messages.create(**BODY, extra_headers=headers)
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 12
    assert len(message.content[0].text.split()) == 12
    with client.messages.stream(**BODY, extra_headers=headers) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[:4] == ["message_start", "content_block_start", "content_block_delta", "text"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert final.usage.output_tokens == 12 and final.stop_reason == "end_turn"


def test_raw_event_sequence_includes_ping(sim: SimServer) -> None:
    with httpx2.stream(
        "POST",
        f"{sim.base_url}/v1/messages",
        json={**BODY, "stream": True},
        headers={**HEADERS, "x-sim-ttft-ms": "0", "x-sim-tokens": "3"},
    ) as response:
        text = response.read().decode()
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("event: ")]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_a_request_shaped_as_the_claude_code_cli_sends_it(sim: SimServer) -> None:
    """``?beta=true``, adaptive thinking, context management, an output config, 128,000 max tokens, a
    mid-conversation system message under its beta: answered as the API would, thinking first."""
    body = {
        "model": "claude-opus-4-6",
        "max_tokens": 128000,
        "stream": True,
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What do my notes say?"}]},
            {"role": "system", "content": "The user is in /tmp/notes."},
        ],
        "tools": [
            {"name": "Read", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}
        ],
    }
    headers = {
        **HEADERS,
        "x-sim-thinking-tokens": "3",
        "anthropic-beta": "claude-code-20250219,per-turn-control-2026-07-01",
    }
    with httpx2.stream("POST", f"{sim.base_url}/v1/messages?beta=true", json=body, headers=headers) as response:
        text = response.read().decode()
    assert response.status_code == 200, text
    starts = [json.loads(line[6:]) for line in text.splitlines() if '"content_block_start"' in line]
    assert [s["content_block"]["type"] for s in starts] == ["thinking", "text", "tool_use"]
    assert starts[2]["content_block"]["name"] == "Read"


def test_max_tokens_stops_the_answer(sim: SimServer) -> None:
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0)
    message = client.messages.create(
        **{**BODY, "max_tokens": 5}, extra_headers={"x-sim-ttft-ms": "0", "x-sim-tokens": "40"}
    )
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 5


def test_tool_turns_follow_the_default_scenario(sim: SimServer) -> None:
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0)
    messages: list[dict] = [{"role": "user", "content": "Why was I charged twice?"}]
    rounds = []
    for _ in range(3):
        with client.messages.stream(
            model="claude-sonnet-4-6",
            max_tokens=512,
            tools=TOOLS,
            messages=messages,
            extra_headers={"x-sim-ttft-ms": "0"},
        ) as stream:
            message = stream.get_final_message()
        calls = [block for block in message.content if block.type == "tool_use"]
        rounds.append((message.stop_reason, [call.name for call in calls]))
        messages.append({"role": "assistant", "content": [block.model_dump() for block in message.content]})
        if calls:
            messages.append(
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "ok"} for call in calls],
                }
            )
    assert rounds == [
        ("tool_use", ["get_user_profile", "get_transaction_history"]),
        ("tool_use", ["get_product_catalog", "get_transaction_history"]),
        ("end_turn", []),
    ]
    first_calls = [block for block in messages[1]["content"] if block["type"] == "tool_use"]
    assert set(first_calls[0]["input"]) == {"user_id"}
    assert first_calls[1]["input"]["days"] >= 7, "generated inputs respect the schema"


def test_tool_choice_none_answers_in_text(sim: SimServer) -> None:
    response = post(
        sim, {**BODY, "tools": TOOLS, "tool_choice": {"type": "none"}}, headers={**HEADERS, "x-sim-tokens": "10"}
    )
    assert response.json()["stop_reason"] == "end_turn"


# --- latency and faults -----------------------------------------------------------------------------------


def test_injected_latency_non_streaming(sim: SimServer) -> None:
    started = time.monotonic()
    post(sim, BODY, headers={**HEADERS, "x-sim-ttft-ms": "300", "x-sim-generation-ms": "200"})
    elapsed = time.monotonic() - started
    assert elapsed >= 0.49, "never before the injected 500 ms"
    assert elapsed < 0.5 * 4, "and not far after it (a generous multiple, for a loaded machine)"


def test_header_delay_and_stall(sim: SimServer) -> None:
    started = time.monotonic()
    with httpx2.stream(
        "POST",
        f"{sim.base_url}/v1/messages",
        json={**BODY, "stream": True},
        headers={
            **HEADERS,
            "x-sim-ttft-ms": "0",
            "x-sim-tokens": "10",
            "x-sim-generation-ms": "0",
            "x-sim-header-delay-ms": "250",
            "x-sim-stall-ms": "300",
            "x-sim-stall-after": "4",
        },
    ) as response:
        headers_at = time.monotonic() - started
        response.read()
    total = time.monotonic() - started
    assert headers_at >= 0.24
    assert total >= 0.54


def test_cut_stream_breaks_the_connection(sim: SimServer) -> None:
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        httpx2.stream(
            "POST",
            f"{sim.base_url}/v1/messages",
            json={**BODY, "stream": True},
            headers={**HEADERS, "x-sim-ttft-ms": "0", "x-sim-tokens": "30", "x-sim-cut-after": "4"},
        ) as response,
    ):
        response.read()


def test_profile_error_rates_are_seeded() -> None:
    profile = SimProfile(seed=3, faults=FaultProfile(error_rates={529: 0.5}))
    with SimServer(profile) as server:
        statuses = [post(server, BODY).status_code for _ in range(40)]
    assert 10 < statuses.count(529) < 30
    assert set(statuses) == {200, 529}
    again = SimProfile(seed=3, faults=FaultProfile(error_rates={529: 0.5}))
    with SimServer(again) as server:
        assert [post(server, BODY).status_code for _ in range(40)] == statuses


def test_zero_latency(sim: SimServer) -> None:
    """Five zero-latency requests take less than one request with 1 s injected, timed on the same machine now."""
    body = {**BODY, "model": "claude-opus-4-6"}
    with SimServer(SimProfile().with_zero_latency()) as server:
        started = time.monotonic()
        for _ in range(5):
            post(server, body, headers={"x-api-key": "k"})
        five_zero = time.monotonic() - started
        started = time.monotonic()
        post(server, body, headers={"x-api-key": "k", "x-sim-ttft-ms": "1000", "x-sim-generation-ms": "0"})
        one_injected = time.monotonic() - started
    assert one_injected >= 0.99, "control: a header still injects latency on a zero-latency server"
    assert five_zero < one_injected, f"5 zero-latency requests took {five_zero:.2f} s"


# --- running it ------------------------------------------------------------------------------------------------


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(SimulatorError, match=f"cannot listen on 127.0.0.1:{port}"):
            SimServer(port=port).start()


def test_base_url_before_start_is_a_clear_error() -> None:
    with pytest.raises(SimulatorError, match="not running"):
        SimServer().base_url  # noqa: B018


def test_health_and_binding(sim: SimServer) -> None:
    assert sim.host == "127.0.0.1"
    health = httpx2.get(f"{sim.base_url}/health").json()
    assert health["status"] == "ok" and health["requests"] >= 0


def test_cli_sim_serves_until_interrupted(tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text('seed = 1\n[models."claude-haiku-4-5"]\nttft_ms = 0\ntokens_per_s = 1000000\n')
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with running(
        [sys.executable, "-m", "agent_anatomy.cli", "sim", "--port", str(port), "--profile", str(profile)],
        stop=signal.SIGINT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line and "loopback only" in line
        response = httpx2.post(f"http://127.0.0.1:{port}/v1/messages", json=BODY, headers=HEADERS, timeout=10)
        assert response.status_code == 200 and response.json()["type"] == "message"
    assert process.returncode == 0, "SIGINT ends the simulator cleanly"


def test_cli_sim_bad_profile_exits_2(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text("seed = 'x'\n")
    result = subprocess.run(
        [sys.executable, "-m", "agent_anatomy.cli", "sim", "--profile", str(profile)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "seed='x' must be an integer" in result.stderr
    assert json.dumps  # the module is used above for bodies
