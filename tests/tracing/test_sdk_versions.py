"""The instrumentation on each anthropic release line: the oldest supported (0.41.0), the last of each major
(0.125.0, 1.17.0) and the newest (this virtualenv's), each in a virtualenv of its own (``make sdk-venvs``),
its calls traced against the simulator by ``_sdk_probe.py``; the MCP tests on the last mcp 1.x (this
virtualenv has the newest 2.x); and the Claude Agent SDK sessions on its first 0.2 release.

Without those virtualenvs the older lines skip, or fail where ``AGENT_ANATOMY_REQUIRE_SDK_MATRIX`` is set, as
in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_anatomy import semconv

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("_sdk_probe.py")
MATRIX = ("0.41.0", "0.125.0", "1.17.0")
"""The releases CI tests besides the newest; the Makefile's SDK_MATRIX builds their virtualenvs."""
MCP_MATRIX = ("1.30.0",)
"""The mcp releases besides the newest (the Makefile's MCP_MATRIX)."""
CLAUDE_MATRIX = ("0.2.82",)
"""The claude-agent-sdk releases besides the one of ``make claude-venv`` (the Makefile's CLAUDE_MATRIX)."""
SLACK_MS = 20
"""How far a span's first token may be from when the caller saw it (the SDK's and our own work between)."""

pytestmark = pytest.mark.slow


def _python(version: str, package: str = "anthropic") -> str:
    if version == "newest":
        return sys.executable
    venv = ROOT / ".venv-sdk" / f"{package}-{version}"
    if not (venv / ".installed").exists():
        message = f"{package} {version} has no virtualenv at {venv.relative_to(ROOT)} (make sdk-venvs)"
        if os.environ.get("AGENT_ANATOMY_REQUIRE_SDK_MATRIX"):
            pytest.fail(message)
        pytest.skip(message)
    return str(venv / "bin" / "python")


def test_the_matrix_is_the_one_the_makefile_builds() -> None:
    makefile = (ROOT / "Makefile").read_text().splitlines()
    for name, wanted in (("SDK_MATRIX", MATRIX), ("MCP_MATRIX", MCP_MATRIX), ("CLAUDE_MATRIX", CLAUDE_MATRIX)):
        [line] = [line for line in makefile if line.startswith(f"{name} ?=")]
        assert tuple(line.split("?=")[1].split()) == wanted


def _pytest(python: str, tests: str, timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    """``tests`` run by ``python``'s pytest, in this checkout, with none of this run's OTel or pytest settings;
    failed unless they all passed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTEST_"))}
    run = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=clean | env,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return run


@pytest.mark.parametrize("version", MCP_MATRIX)
def test_the_mcp_tests_pass_on_an_older_mcp(version: str) -> None:
    """The client's tool spans (the server's name kept from ``initialize``, which mcp 1.x forgets), the trace
    context to a real server over stdio, and the server's spans joining the agent's trace."""
    python = _python(version, "mcp")
    run = _pytest(python, "tests/tracing/test_mcp.py", 300)
    version_seen = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('mcp'))"], capture_output=True, text=True
    )
    assert version_seen.stdout.strip() == version and "5 passed" in run.stdout


@pytest.mark.parametrize("version", CLAUDE_MATRIX)
def test_the_claude_agent_sessions_pass_on_an_older_claude_agent_sdk(version: str) -> None:
    """Every session test on the first claude-agent-sdk 0.2 (Claude Code 2.1.142, mcp 1.x): its CLI's traces
    in their older shape, its foreground subagent's last call known only from its transcript."""
    python = _python(version, "claude-agent-sdk")
    run = _pytest(
        sys.executable, "tests/claude_agent", 600, AGENT_ANATOMY_CLAUDE_PYTHON=python, AGENT_ANATOMY_REQUIRE_CLAUDE="1"
    )
    assert "14 passed" in run.stdout, run.stdout[-1000:]


@pytest.mark.parametrize("version", [*MATRIX, "newest"])
def test_every_kind_of_call_gives_one_chat_span_with_its_tokens_and_first_token(version: str) -> None:
    """create, create(stream=True), messages.stream() and an async create: one ``chat`` span each and nothing
    else (from 1.14, where the SDK traces itself too), the tokens the SDK returned, and on a stream the first
    token no earlier than the simulator's injected wait and within SLACK_MS of when the caller saw its first
    text (this machine's timers wake a sleeping simulator several ms late, so the wait itself is a floor and
    not the true value); no warning (every method of the wrap table this
    release should have was found)."""
    probe = subprocess.run([_python(version), str(PROBE)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert "agent-anatomy" not in probe.stderr, probe.stderr[-3000:]
    report = json.loads(probe.stdout)
    if version != "newest":
        assert report["version"] == version
    assert set(report["calls"]) == {"create", "create(stream=True)", "messages.stream()", "async create"}
    for kind, call in report["calls"].items():
        [span] = call["spans"]
        assert span["name"] == "chat claude-haiku-4-5" and span["kind"] == "CLIENT", (kind, call["spans"])
        tokens = (span[semconv.GEN_AI_USAGE_INPUT_TOKENS], span[semconv.GEN_AI_USAGE_OUTPUT_TOKENS])
        assert tokens == (call["usage"]["input"], call["usage"]["output"]), kind
        first = span.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        if "stream" in kind:
            assert first is not None, kind
            seen = call["first_seen_ms"]
            assert report["ttft_ms"] <= first * 1000 and abs(first * 1000 - seen) <= SLACK_MS, (kind, first, seen)
        else:
            assert first is None, kind
