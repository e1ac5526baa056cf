"""Claude Agent SDK sessions traced end to end: the bundled Claude Code CLI against the simulator.

``_session.py`` runs in the SDK's own virtualenv (``make claude-venv``: the wheel carries the CLI, ~400 MB
unpacked), as root in CI: three sessions of three API calls and three tool uses (Read, Bash, Bash) each. The
spans must show one agent per query, one chat per request the simulator saw, one tool span per tool use
with its call id, the first token when the simulator sent it, and an anatomy with three LLM steps and
two tool batches; the user's own hook and options work as before.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_anatomy import semconv
from agent_anatomy.anatomy import Anatomy, SpanRecord

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-claude" / "bin" / "python"
REQUIRE_ENV = "AGENT_ANATOMY_REQUIRE_CLAUDE"


@dataclass(frozen=True)
class Run:
    report: dict[str, Any]
    anatomy: Anatomy

    def traces(self) -> list[list[SpanRecord]]:
        """Each trace's spans, in the order the sessions ran."""
        trees = sorted(self.anatomy.traces, key=lambda a: a.tree.start_ns)
        return [sorted(a.tree.spans.values(), key=lambda s: s.start_ns) for a in trees]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if not PYTHON.exists():
        message = f"{PYTHON} missing: make claude-venv"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("claude") / "spans.jsonl"
    result = subprocess.run(
        [str(PYTHON), str(Path(__file__).with_name("_session.py")), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_", "CLAUDE_"))},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    yield Run(json.loads(result.stdout.strip().splitlines()[-1]), Anatomy.from_file(out))


def _of(spans: list[SpanRecord], operation: str) -> list[SpanRecord]:
    return [s for s in spans if s.operation == operation]


def test_one_agent_span_per_query_and_one_chat_per_request(run: Run) -> None:
    sessions = run.report["sessions"]
    traces = run.traces()
    assert len(traces) == 4, "two query() sessions, and a client's two queries"
    requests = [len(s["arrivals"]) for s in sessions[:2]] + [3, 1]
    assert len(sessions[2]["arrivals"]) == 4, "the client's second query is answered in one call"
    for spans, expected in zip(traces, requests, strict=True):
        [agent] = _of(spans, semconv.OPERATION_INVOKE_AGENT)
        assert agent.parent_id is None and agent.name == "invoke_agent claude-code"
        assert agent.attributes[semconv.ANATOMY_AGENT_TURNS] >= 1
        assert agent.attributes[semconv.GEN_AI_CONVERSATION_ID]
        assert agent.attributes[semconv.ANATOMY_AGENT_COST_USD] > 0
        assert 0 < agent.attributes[semconv.ANATOMY_AGENT_API_TIME] * 1e9 <= agent.end_ns - agent.start_ns
        chats = _of(spans, semconv.OPERATION_CHAT)
        assert len(chats) == expected
        assert all(c.parent_id == agent.span_id and c.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 for c in chats)
    assert len({t[0].attributes[semconv.GEN_AI_CONVERSATION_ID] for t in traces[2:]}) == 1, "one client session"
    assert (
        traces[3][0].attributes[semconv.ANATOMY_AGENT_API_TIME]
        < traces[2][0].attributes[semconv.ANATOMY_AGENT_API_TIME]
    )


def test_tool_spans_from_the_hooks(run: Run) -> None:
    for spans in run.traces()[:3]:
        [agent] = _of(spans, semconv.OPERATION_INVOKE_AGENT)
        tools = _of(spans, semconv.OPERATION_EXECUTE_TOOL)
        assert [t.attributes[semconv.GEN_AI_TOOL_NAME] for t in tools] == ["Read", "Bash", "Bash"]
        assert all(t.parent_id == agent.span_id for t in tools)
        assert len({t.attributes[semconv.GEN_AI_TOOL_CALL_ID] for t in tools}) == 3
        assert all(t.attributes[semconv.ANATOMY_TOOL_REPORTED_DURATION] >= 0 for t in tools)
        assert all(t.status != "error" for t in tools)


def test_time_to_first_token_is_when_the_simulator_sent_it(run: Run) -> None:
    """The span starts when the CLI says it is requesting, a little before the request arrives; the first
    token is then exactly when the simulator sent it (the injected time after the request arrived)."""
    injected_ns = run.report["ttft_ms"] * 1_000_000
    arrivals = [a for s in run.report["sessions"] for a in s["arrivals"]]
    chats = [c for spans in run.traces() for c in _of(spans, semconv.OPERATION_CHAT)]
    assert len(chats) == len(arrivals)
    for chat, arrived in zip(chats, arrivals, strict=True):
        ttft_ns = chat.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] * 1e9
        assert chat.start_ns <= arrived, "the call starts before its request arrives"
        assert abs(chat.start_ns + ttft_ns - (arrived + injected_ns)) <= 20_000_000
        assert ttft_ns >= injected_ns - 20_000_000


def test_the_anatomy_of_a_session(run: Run) -> None:
    analysis = sorted(run.anatomy.traces, key=lambda a: a.tree.start_ns)[0]
    assert len(analysis.llm_calls) == 3 and all(c.ttft_ns is not None for c in analysis.llm_calls)
    assert [sorted(t.name for t in b.tools) for b in analysis.batches] == [["Bash", "Read"], ["Bash"]]
    steps = [s for s in Anatomy([analysis.tree]).to_dict()["traces"][0]["steps"] if s["kind"] == "llm"]
    assert [s["label"].split(" ·")[0] for s in steps] == ["LLM call 1", "LLM call 2", "LLM call 3"]


def test_the_users_code_sees_what_it_asked_for(run: Run) -> None:
    plain, partial, client = run.report["sessions"]
    assert "StreamEvent" not in plain["messages"] and partial["messages"]["StreamEvent"] > 0
    assert plain["hooks"] == partial["hooks"] == ["Read", "Bash", "Bash"], "the user's own hook ran for each tool"
    assert plain["messages"]["ResultMessage"] == 1 and client["results"] == 2
