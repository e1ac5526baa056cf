"""A Claude Agent SDK session, traced, and its latency anatomy: the agent you did not write.

The SDK starts the Claude Code CLI bundled in its wheel; the CLI talks to the simulated Anthropic API on
127.0.0.1 (no API key), reads a file and runs two commands in a temporary folder, as the scenario scripts
it, and answers. agent-anatomy turns the session into spans (the agent, each API call, each tool use)
and prints where the time went. Run it with the SDK installed (``make claude-venv``):

    .venv-claude/bin/python examples/claude_agent_session.py

To have the CLI's own spans in the same trace, give the CLI the OTLP endpoint your spans go to (see the
README's "Claude Agent SDK sessions"): the anatomy reads each call once, with agent-anatomy's time to first
token.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from claude_agent_sdk import ClaudeAgentOptions, query

import agent_anatomy as aa
from agent_anatomy.sim import Scenario, SimServer
from agent_anatomy.sim.scenarios import scenario_from_mapping
from agent_anatomy.tracing import instrument_claude_agent

LATENCY = "x-sim-ttft-ms: 600\nx-sim-generation-ms: 300\nx-sim-thinking-ms: 200\nx-sim-thinking-tokens: 40"
"""What the simulator does per call (``ANTHROPIC_CUSTOM_HEADERS``: the CLI sends them on every request)."""


def scenario(folder: Path) -> Scenario:
    notes = folder / "notes.txt"
    return scenario_from_mapping(
        {
            "turns": [
                [
                    {"name": "Read", "input": {"file_path": str(notes)}},
                    {"name": "Bash", "input": {"command": f"ls {folder}", "description": "List the folder"}},
                ],
                [{"name": "Bash", "input": {"command": f"wc -l {notes}", "description": "Count the lines"}}],
            ]
        }
    )


async def session(base_url: str, folder: Path) -> None:
    options = ClaudeAgentOptions(
        tools=["Read", "Bash"],
        allowed_tools=["Read", "Bash"],  # allowed by name: bypassPermissions is refused to root
        cwd=str(folder),
        env={
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": "sk-sim",
            "ANTHROPIC_CUSTOM_HEADERS": LATENCY,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        },
    )
    async for message in query(prompt="What do my notes say?", options=options):
        if type(message).__name__ == "ResultMessage":
            turns, api_ms = message.num_turns, message.duration_api_ms
            print(f"session {message.session_id}: {turns} turns, {api_ms} ms in API calls as the CLI counts them")


def main() -> None:
    telemetry = aa.configure(service_name="claude-agent-example", exporter="none")  # spans to the recorder
    instrument_claude_agent()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "notes.txt").write_text("the refund went out on the third\nthe card is a visa\n")
        with SimServer(scenario=scenario(folder)) as sim:
            asyncio.run(session(sim.base_url, folder))
    print(aa.anatomy.last_anatomy().render())
    telemetry.shutdown()


if __name__ == "__main__":
    main()
