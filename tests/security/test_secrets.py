"""No prompt, completion, tool argument or tool result leaves the process unless capture is on; the API
key never does. Checked on the bytes actually exported (OTLP over HTTP, traces and metrics, and the
JSON Lines file) and on the log, after a full agent run: routed, streamed, with tools and a cache."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from opentelemetry.sdk.trace import TracerProvider

import agent_anatomy as aa
from agent_anatomy.sim import Scenario, ScriptedCall, SimProfile, SimServer
from tests._receivers import HttpReceiver

API_KEY = "sk-ant-api03-SECRETKEY0123456789"
PROMPT_MARKER = "PROMPT-MARKER-7f3a"
SYSTEM_MARKER = "SYSTEM-MARKER-c41d"
ARGUMENT_MARKER = "ARGUMENT-MARKER-55e0"
RESULT_MARKER = "RESULT-MARKER-91bc"
CONTENT_MARKERS = (PROMPT_MARKER, SYSTEM_MARKER, ARGUMENT_MARKER, RESULT_MARKER)


@pytest.fixture
def receiver(otel_globals: None) -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.stop()


async def exported_after_an_agent_run(receiver: HttpReceiver, tmp_path: Path, capture: bool) -> bytes:
    cache = aa.ResultCache()

    @aa.tool
    @cache.cached
    def lookup(user_id: str) -> str:
        """Look up a customer."""
        return f"{RESULT_MARKER} for {user_id}"

    jsonl = tmp_path / "spans.jsonl"
    handle = aa.configure(
        exporter=["otlp", f"jsonl:{jsonl}"],
        endpoint=receiver.base,
        protocol="http/protobuf",
        capture_content=capture,
        tracer_provider=TracerProvider(),
        metrics=True,
    )
    scenario = Scenario(turns=[[ScriptedCall("lookup", {"user_id": ARGUMENT_MARKER})]] * 2)
    router = aa.ModelRouter({"tool_decision": "claude-haiku-4-5"}, default="claude-sonnet-4-6")
    with SimServer(SimProfile(seed=4).with_zero_latency(), scenario=scenario) as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key=API_KEY, max_retries=0) as client:
            await aa.run_agent(
                client,
                messages=[{"role": "user", "content": f"My question: {PROMPT_MARKER}"}],
                system=f"You are a support agent. {SYSTEM_MARKER}",
                router=router,
                tools=[lookup],
            )
            # and a plain call, streamed, outside the agent loop
            async with client.messages.stream(
                model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": PROMPT_MARKER}]
            ) as stream:
                await stream.until_done()
    assert handle.shutdown(timeout_s=10)
    paths = {path for path, _ in receiver.received.bodies}
    assert {"/v1/traces", "/v1/metrics"} <= paths, paths
    return b"".join(body for _, body in receiver.received.bodies) + jsonl.read_bytes()


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """What agent-anatomy logged (the SDK's own debug log shows requests; that is the user's to set)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("agent_anatomy"))


async def test_nothing_of_the_conversation_is_exported_by_default(
    receiver: HttpReceiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    exported = await exported_after_an_agent_run(receiver, tmp_path, capture=False)
    assert b"execute_tool lookup" in exported and b"chat claude-haiku-4-5" in exported, "spans were exported"
    for secret in (API_KEY, *CONTENT_MARKERS):
        assert secret.encode() not in exported, f"{secret} was exported"
        assert secret not in ours(caplog), f"{secret} was logged"


async def test_content_capture_exports_the_conversation_but_never_the_key(
    receiver: HttpReceiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    exported = await exported_after_an_agent_run(receiver, tmp_path, capture=True)
    for marker in CONTENT_MARKERS:
        assert marker.encode() in exported, f"{marker} is missing with capture on"
    assert API_KEY.encode() not in exported
    assert API_KEY not in ours(caplog)
