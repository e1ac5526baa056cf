"""The simulated prompt cache (reads shorten the first token, diagnostics say why one missed) and fast mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from agent_anatomy.catalogue import CACHE_READ_SHARE, FAST_MODE_BETA, FAST_MODE_SPEEDUP
from agent_anatomy.sim import ModelProfile, SimProfile, SimServer
from agent_anatomy.sim.protocol import estimate_tokens

PREFILL_MS_PER_1K = 100.0
BASE_TTFT_MS = 50.0
SYSTEM = [{"type": "text", "text": "Policy: refunds within 30 days. " * 500, "cache_control": {"type": "ephemeral"}}]
SYSTEM_TOKENS = estimate_tokens(SYSTEM[0]["text"])
QUESTION = [{"role": "user", "content": "Why was I charged twice?"}]


@pytest.fixture
def client() -> Iterator[anthropic.Anthropic]:
    fixed = ModelProfile(
        ttft_ms=(BASE_TTFT_MS, BASE_TTFT_MS),
        tokens_per_s=(400, 400),
        output_tokens=(40, 40),
        prefill_ms_per_1k=PREFILL_MS_PER_1K,
    )
    profile = SimProfile(families={"sonnet": fixed, "opus": fixed})
    with SimServer(profile) as server, anthropic.Anthropic(base_url=server.base_url, api_key="sim") as client:
        yield client


def _first_token_s(client: anthropic.Anthropic, **request: Any) -> tuple[float, Any]:
    """Seconds to the first content delta of a streamed call, and its final message."""
    started = time.perf_counter()
    first = None
    with client.messages.stream(max_tokens=64, messages=QUESTION, **request) as stream:
        for event in stream:
            if first is None and event.type == "content_block_delta":
                first = time.perf_counter() - started
        message = stream.get_final_message()
    assert first is not None
    return first, message


def test_the_first_token_waits_for_the_uncached_prompt_and_a_cache_read_takes_its_share(
    client: anthropic.Anthropic,
) -> None:
    written_s, written = _first_token_s(client, model="claude-sonnet-4-6", system=SYSTEM)
    read_s, read = _first_token_s(client, model="claude-sonnet-4-6", system=SYSTEM)
    assert written.usage.cache_creation_input_tokens >= SYSTEM_TOKENS and written.usage.cache_read_input_tokens == 0
    assert read.usage.cache_read_input_tokens == written.usage.cache_creation_input_tokens
    # The read saves (1 - share) of reading those tokens uncached: about 360 ms here, timers' lateness aside.
    saved_ms = (written_s - read_s) * 1000
    modelled = read.usage.cache_read_input_tokens * PREFILL_MS_PER_1K / 1000 * (1 - CACHE_READ_SHARE)
    assert modelled > 300
    assert abs(saved_ms - modelled) < 0.1 * modelled


def test_a_header_fixes_the_whole_first_token_time_whatever_the_prompt(client: anthropic.Anthropic) -> None:
    fixed = {"x-sim-ttft-ms": "40", "x-sim-generation-ms": "10"}
    first_s, message = _first_token_s(client, model="claude-sonnet-4-6", system=SYSTEM, extra_headers=fixed)
    assert message.usage.cache_creation_input_tokens >= SYSTEM_TOKENS
    assert first_s < 0.040 + SYSTEM_TOKENS * PREFILL_MS_PER_1K / 1e6 / 4, "no prefill added to a header's figure"


def test_fast_mode_speeds_output_not_the_first_token(client: anthropic.Anthropic) -> None:
    plain = client.messages.with_raw_response.create(model="claude-opus-5-5", max_tokens=64, messages=QUESTION)
    fast = client.messages.with_raw_response.create(
        model="claude-opus-5-5", max_tokens=64, messages=QUESTION, speed="fast"
    )
    assert fast.parse().usage.speed == "fast" and plain.parse().usage.speed is None
    assert fast.parse().usage.service_tier == "standard"
    plain_s, _ = _first_token_s(client, model="claude-opus-5-5")
    started = time.perf_counter()
    with client.messages.stream(model="claude-opus-5-5", max_tokens=64, messages=QUESTION, speed="fast") as stream:
        stream.get_final_message()
    fast_total = time.perf_counter() - started
    generation = 40 / 400
    assert fast_total < plain_s + generation / FAST_MODE_SPEEDUP + 0.5 * generation


@pytest.mark.parametrize(
    ("model", "headers", "message"),
    [
        ("claude-sonnet-4-6", {}, "fast mode is not available for model 'claude-sonnet-4-6'"),
        ("claude-opus-5", {}, f"needs the anthropic-beta header '{FAST_MODE_BETA}'"),
    ],
)
def test_fast_mode_where_the_api_refuses_it_is_a_400_naming_why(
    client: anthropic.Anthropic, model: str, headers: dict[str, str], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message):
        client.messages.create(model=model, max_tokens=8, messages=QUESTION, speed="fast", extra_headers=headers)
    beta = {"anthropic-beta": FAST_MODE_BETA}
    if model == "claude-opus-5":
        client.messages.create(model=model, max_tokens=8, messages=QUESTION, speed="fast", extra_headers=beta)


def test_diagnostics_say_why_the_cache_missed_the_previous_request(client: anthropic.Anthropic) -> None:
    first = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=8,
        system=SYSTEM,
        messages=QUESTION,
        diagnostics={"previous_message_id": None},
    )
    assert first.diagnostics is None, "nothing to compare on the first turn"

    def after(previous: str, **request: Any) -> Any:
        call = {"model": "claude-sonnet-4-6", "system": SYSTEM, "messages": QUESTION} | request
        message = client.messages.create(max_tokens=8, diagnostics={"previous_message_id": previous}, **call)
        return message.diagnostics.cache_miss_reason if message.diagnostics else None

    assert after(first.id) is None, "the same prefix: read, no miss"
    changed = [{**SYSTEM[0], "text": "Policy: refunds within 14 days. " * 500}]
    reason = after(first.id, system=changed)
    assert reason.type == "system_changed" and reason.cache_missed_input_tokens >= SYSTEM_TOKENS
    assert after(first.id, model="claude-opus-5-5").type == "model_changed"
    assert after(first.id, model="claude-opus-5-5", speed="fast").type == "model_changed"
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    assert after(first.id, tools=tools).type == "tools_changed"
    other = [{"role": "user", "content": "Something else entirely"}]
    assert after(first.id, messages=other).type == "messages_changed"
    assert after(first.id, tool_choice={"type": "auto"}).type == "unavailable"
    assert after("msg_unknown").type == "previous_message_not_found"
