"""Claude Agent SDK sessions, traced, against the simulator: run in the SDK's own virtualenv.

``python _session.py OUT.jsonl`` starts the simulated API with a scenario that drives the Claude Code CLI's
built-in tools inside a temporary directory (turn 1: read a file and list the directory; turn 2: run a
command; then the answer), instruments ``claude-agent-sdk`` and runs seven sessions through the bundled
CLI: a ``query()`` (with a hook of the user's own), a ``query()`` that asks for partial messages itself,
a ``query()`` with the CLI's own traces on (sent as OTLP/HTTP JSON to a receiver on loopback), a
``ClaudeSDKClient`` with two queries, a ``query()`` whose agent hands the reading to a subagent of its
own definition (``reader``, which may only read) while it reads the file itself too, and a short one
uninstrumented, then instrumented again. Tools are allowed by name, as root can (``bypassPermissions``
is refused to root). Every span goes to OUT.jsonl, ours and the CLI's (OUT.cli.jsonl); one JSON line on
stdout says what each session saw.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from claude_agent_sdk import AgentDefinition, ClaudeAgentOptions, ClaudeSDKClient, HookMatcher, StreamEvent, query
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_anatomy.sim import SimServer
from agent_anatomy.sim.scenarios import scenario_from_mapping
from agent_anatomy.telemetry.jsonl import JsonlSpanExporter
from agent_anatomy.tracing.claude_agent import instrument_claude_agent, uninstrument_claude_agent

TTFT_MS = 400
"""Time to first token the simulator gives every call (``ANTHROPIC_CUSTOM_HEADERS``)."""
TOOLS = ["Read", "Bash"]


def scenario(folder: Path) -> Any:
    notes = folder / "notes.txt"
    return scenario_from_mapping(
        {
            "preface": "Let me look.",
            "turns": [
                [
                    {"name": "Read", "input": {"file_path": str(notes)}},
                    {"name": "Bash", "input": {"command": f"ls {folder}", "description": "List the folder"}},
                ],
                [{"name": "Bash", "input": {"command": f"wc -l {notes}", "description": "Count the lines"}}],
            ],
        }
    )


def subagent_scenario(folder: Path) -> Any:
    """Turn 1: start the ``reader`` subagent; turn 2: read the file. The subagent runs the same turns in its
    own conversation: it has no Agent tool, so it has only turn 2 (it reads), then it answers."""
    notes = folder / "notes.txt"
    prompt = {"description": "Read the notes", "prompt": f"Read {notes}", "subagent_type": "reader"}
    return scenario_from_mapping(
        {"turns": [[{"name": "Agent", "input": prompt}], [{"name": "Read", "input": {"file_path": str(notes)}}]]}
    )


def options(base_url: str, folder: Path, **more: Any) -> ClaudeAgentOptions:
    headers = f"x-sim-ttft-ms: {TTFT_MS}\nx-sim-generation-ms: 150\nx-sim-thinking-ms: 100\nx-sim-thinking-tokens: 20"
    return ClaudeAgentOptions(
        tools=TOOLS,
        allowed_tools=TOOLS,
        cwd=str(folder),
        max_turns=6,
        env={
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": "sk-sim",
            "ANTHROPIC_CUSTOM_HEADERS": headers,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        },
        **more,
    )


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP JSON receiver on loopback: its endpoint, and the bodies of the traces it got."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path.endswith("/v1/traces"):
                bodies.append(body)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", bodies
    finally:
        server.shutdown()
        server.server_close()


def cli_tracing(endpoint: str) -> dict[str, str]:
    """The environment that turns the CLI's own traces on (beta), sent to ``endpoint``."""
    return {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
    }


def posts(sim: SimServer) -> list[int]:
    return [r.arrived_ns for r in sim.received if r.method == "POST" and r.path == "/v1/messages"]


async def run(sim: SimServer, folder: Path, cli_spans: Path) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = []
    seen: list[str] = []

    async def users_hook(data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        seen.append(data["tool_name"])
        return {}

    for partial in (False, True):
        before = len(posts(sim))
        kinds: dict[str, int] = {}
        mine = options(
            sim.base_url,
            folder,
            include_partial_messages=partial,
            hooks={"PreToolUse": [HookMatcher(matcher=None, hooks=[users_hook])]},
        )
        async for message in query(prompt="What do my notes say?", options=mine):
            kinds[type(message).__name__] = kinds.get(type(message).__name__, 0) + 1
        assert mine.hooks is not None and len(mine.hooks) == 1 and mine.include_partial_messages is partial
        sessions.append(
            {"kind": "query", "partial": partial, "messages": kinds, "arrivals": posts(sim)[before:], "hooks": seen[:]}
        )
        seen.clear()
    with otlp_receiver() as (endpoint, bodies):
        before = len(posts(sim))
        traced = options(sim.base_url, folder)
        traced.env.update(cli_tracing(endpoint))
        async for _ in query(prompt="What do my notes say?", options=traced):
            pass
        deadline = time.monotonic() + 30
        while not any(b"claude_code.interaction" in body for body in bodies) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # the CLI sends its spans as it exits
        cli_spans.write_bytes(b"".join(body.replace(b"\n", b"") + b"\n" for body in bodies))
        sessions.append({"kind": "cli-traced", "arrivals": posts(sim)[before:], "bodies": len(bodies)})
    before = len(posts(sim))
    results = 0
    async with ClaudeSDKClient(options(sim.base_url, folder)) as client:
        for prompt in ("What do my notes say?", "Thanks, and now?"):
            await client.query(prompt)
            async for message in client.receive_response():
                results += 1 if type(message).__name__ == "ResultMessage" else 0
                assert not isinstance(message, StreamEvent)
    sessions.append({"kind": "client", "results": results, "arrivals": posts(sim)[before:]})
    return sessions


async def run_subagent(sim: SimServer, folder: Path) -> dict[str, Any]:
    before = len(posts(sim))
    helper = AgentDefinition(description="Reads files", prompt="You read files.", tools=["Read"])
    mine = options(sim.base_url, folder, agents={"reader": helper})
    mine.tools = mine.allowed_tools = ["Agent", "Read"]
    results = 0
    async for message in query(prompt="Have a helper read my notes", options=mine):
        results += 1 if type(message).__name__ == "ResultMessage" else 0
    return {"kind": "subagent", "results": results, "arrivals": posts(sim)[before:]}


async def answers(sim: SimServer, folder: Path) -> dict[str, int]:
    """A query with no tools (one API call): the messages the user's code got, by type (the CLI's system
    messages apart: how many thinking-token estimates it sends depends on timing)."""
    mine = options(sim.base_url, folder)
    mine.tools = mine.allowed_tools = []
    kinds: dict[str, int] = {}
    async for message in query(prompt="Hello?", options=mine):
        if type(message).__name__ != "SystemMessage":
            kinds[type(message).__name__] = kinds.get(type(message).__name__, 0) + 1
    return kinds


def instrumented_again(sim: SimServer, folder: Path, provider: TracerProvider) -> dict[str, Any]:
    """Uninstrumented, a session makes no span and its messages are the same; instrumented again, it does."""
    counted = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(counted))
    uninstrument_claude_agent()
    bare = asyncio.run(answers(sim, folder))
    spans_bare = len(counted.get_finished_spans())
    headers_bare = sim.received[-1].headers
    instrument_claude_agent(tracer_provider=provider)
    instrument_claude_agent(tracer_provider=provider)  # a second time: no second set of wrappers
    traced = asyncio.run(answers(sim, folder))
    names = sorted(span.name.split(" ")[0] for span in counted.get_finished_spans()[spans_bare:])
    headers_traced = sim.received[-1].headers
    return {
        "kind": "again",
        "messages": [bare, traced],
        "spans_bare": spans_bare,
        "spans_traced": names,
        "headers": [{k: v for k, v in h.items() if k != "content-length"} for h in (headers_bare, headers_traced)],
    }


def main() -> None:
    out = Path(sys.argv[1])
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(out)))
    instrument_claude_agent(tracer_provider=provider)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "notes.txt").write_text("the refund went out on the third\nthe card is a visa\n")
        started = time.perf_counter()
        with SimServer(scenario=scenario(folder)) as sim:
            sessions = asyncio.run(run(sim, folder, out.with_suffix(".cli.jsonl")))
        with SimServer(scenario=subagent_scenario(folder)) as sim:
            sessions.append(asyncio.run(run_subagent(sim, folder)))
        with SimServer() as sim:
            sessions.append(instrumented_again(sim, folder, provider))
    provider.shutdown()
    print(json.dumps({"sessions": sessions, "seconds": time.perf_counter() - started, "ttft_ms": TTFT_MS}))


if __name__ == "__main__":
    main()
