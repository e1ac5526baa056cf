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
from importlib import metadata
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    AgentDefinition,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    HookMatcher,
    PermissionResultAllow,
    StreamEvent,
    create_sdk_mcp_server,
    query,
    tool,
)
from opentelemetry import trace
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
    """A subagent's session; its transcript's output tokens by message id, as the CLI wrote them."""
    before = len(posts(sim))
    transcripts: list[str] = []

    async def stopped(data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        transcripts.append(data["agent_transcript_path"])
        return {}

    helper = AgentDefinition(description="Reads files", prompt="You read files.", tools=["Read"])
    mine = options(
        sim.base_url, folder, agents={"reader": helper}, hooks={"SubagentStop": [HookMatcher(hooks=[stopped])]}
    )
    mine.tools = mine.allowed_tools = ["Agent", "Read"]
    results = 0
    async for message in query(prompt="Have a helper read my notes", options=mine):
        results += 1 if type(message).__name__ == "ResultMessage" else 0
    output: dict[str, int] = {}
    for path in transcripts:
        for line in Path(path).read_text().splitlines():
            record = json.loads(line)
            if record.get("type") == "assistant":
                output[record["message"]["id"]] = record["message"]["usage"]["output_tokens"]
    return {"kind": "subagent", "results": results, "arrivals": posts(sim)[before:], "output_tokens": output}


PERMISSION_S = 0.3
"""How long the user's permission callback takes to allow a tool."""
ADD_S = 0.2
"""How long the in-process MCP server's ``add`` tool takes."""


def mcp_scenario() -> Any:
    return scenario_from_mapping({"turns": [[{"name": "mcp__calc__add", "input": {"a": 2, "b": 3}}]]})


async def run_mcp_client(sim: SimServer, folder: Path) -> dict[str, Any]:
    """A ``ClaudeSDKClient`` with an in-process SDK MCP server (``calc``, one ``add`` tool) and a permission
    callback of the user's own: its start-up, the server's spans under the tool use, the callback's time."""

    @tool("add", "Add two numbers", {"a": float, "b": float})
    async def add(args: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(ADD_S)
        return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}

    asked: list[str] = []

    async def allow(tool_name: str, tool_input: dict[str, Any], context: Any) -> Any:
        asked.append(tool_name)
        await asyncio.sleep(PERMISSION_S)
        return PermissionResultAllow()

    mine = options(sim.base_url, folder, mcp_servers={"calc": create_sdk_mcp_server("calc", tools=[add])})
    mine.tools = mine.allowed_tools = []
    mine.can_use_tool = allow
    before = len(posts(sim))
    async with ClaudeSDKClient(mine) as client:
        await client.query("What is 2 + 3?")
        async for _ in client.receive_response():
            pass
    return {"kind": "mcp", "asked": asked, "arrivals": posts(sim)[before:]}


async def run_interrupted(sim: SimServer, folder: Path) -> dict[str, Any]:
    """A client query interrupted while its answer streams (the answer takes seconds: the interrupt cuts it)."""
    mine = options(sim.base_url, folder)
    mine.tools = mine.allowed_tools = []
    mine.env["ANTHROPIC_CUSTOM_HEADERS"] = f"x-sim-ttft-ms: {TTFT_MS}\nx-sim-generation-ms: 8000"
    before = len(posts(sim))
    kinds: list[str] = []
    async with ClaudeSDKClient(mine) as client:
        await client.query("Tell me a long story")

        async def consume() -> None:  # as the SDK's own interrupt example does: read while it streams
            async for message in client.receive_response():
                kinds.append(type(message).__name__)

        reading = asyncio.create_task(consume())
        await asyncio.sleep(TTFT_MS / 1000 + 1.5)
        await client.interrupt()
        await reading
    return {"kind": "interrupted", "messages": kinds, "arrivals": posts(sim)[before:]}


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
    trace.set_tracer_provider(provider)  # the mcp package's own spans (an SDK MCP server's) go there
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
        with SimServer(scenario=mcp_scenario()) as sim:
            sessions.append(asyncio.run(run_mcp_client(sim, folder)))
            sessions.append(asyncio.run(run_interrupted(sim, folder)))
    provider.shutdown()
    report = {"sessions": sessions, "seconds": time.perf_counter() - started, "ttft_ms": TTFT_MS}
    versions = {name: metadata.version(name) for name in ("claude-agent-sdk", "mcp")}
    print(json.dumps({**report, "permission_s": PERMISSION_S, "add_s": ADD_S, "versions": versions}))


if __name__ == "__main__":
    main()
