"""Claude Agent SDK sessions traced end to end: the bundled Claude Code CLI against the simulator.

``_session.py`` runs in the SDK's own virtualenv (``make claude-venv``: the wheel carries the CLI, ~400 MB
unpacked), as root in CI: four sessions of three API calls and three tool uses (Read, Bash, Bash) each. The
spans must show one agent per query, one chat per request the simulator saw, one tool span per tool use
with its call id, the first token when the simulator sent it, and an anatomy with three LLM steps and
two tool batches; the user's own hook and options work as before. With the CLI's own traces on, its
``claude_code.*`` spans join the same trace and the anatomy reads each call, tool use and the agent once.
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
from agent_anatomy.anatomy.analysis import TraceAnalysis
from agent_anatomy.anatomy.phases import (
    PHASE_GAP,
    PHASE_GENERATION,
    PHASE_LLM_UNSPLIT,
    PHASE_PERMISSION,
    PHASE_THINKING,
    PHASE_TOOL,
    PHASE_TTFT,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
START_UP = f"step {semconv.CLAUDE_CODE_START_UP}"
PYTHON = Path(os.environ.get("AGENT_ANATOMY_CLAUDE_PYTHON", ROOT / ".venv-claude" / "bin" / "python"))
"""The Claude Agent SDK's virtualenv (``make claude-venv``), or another release's (the version matrix)."""
REQUIRE_ENV = "AGENT_ANATOMY_REQUIRE_CLAUDE"


@dataclass(frozen=True)
class Run:
    report: dict[str, Any]
    anatomy: Anatomy

    def analyses(self, *, start_ups: bool = False) -> list[TraceAnalysis]:
        """Each query's trace analysed, in the order the sessions ran (``start_ups``: a client's start-up traces
        too, each before its client's queries)."""
        trees = sorted(self.anatomy.traces, key=lambda a: a.tree.start_ns)
        return [a for a in trees if start_ups or a.tree.roots[0].name != START_UP]

    def traces(self, *, ours: bool = True, start_ups: bool = False) -> list[list[SpanRecord]]:
        """Each query's spans in the order the sessions ran (``ours``: without the CLI's own)."""
        return [
            [s for s in sorted(a.tree.spans.values(), key=lambda s: s.start_ns) if not (ours and _cli(s))]
            for a in self.analyses(start_ups=start_ups)
        ]


def _cli(span: SpanRecord) -> bool:
    return span.name.startswith("claude_code.")


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
    both = out.with_suffix(".both.jsonl")  # ours and the CLI's, as one backend would hold them
    both.write_bytes(out.read_bytes() + out.with_suffix(".cli.jsonl").read_bytes())
    yield Run(json.loads(result.stdout.strip().splitlines()[-1]), Anatomy.from_file(both))


def _of(spans: list[SpanRecord], operation: str) -> list[SpanRecord]:
    return [s for s in spans if s.operation == operation]


def test_one_agent_span_per_query_and_one_chat_per_request(run: Run) -> None:
    sessions = run.report["sessions"]
    traces = run.traces()
    assert len(traces) == 9, (
        "three query() sessions, a client's two, one with a subagent, one instrumented again, one with an SDK MCP "
        "server, one interrupted"
    )
    requests = [len(s["arrivals"]) for s in sessions[:3]] + [3, 1]
    assert len(sessions[3]["arrivals"]) == 4, "the client's second query is answered in one call"
    for spans, expected in zip(traces[:5], requests, strict=True):
        [agent] = _of(spans, semconv.OPERATION_INVOKE_AGENT)
        assert agent.parent_id is None and agent.name == "invoke_agent claude-code"
        assert agent.attributes[semconv.ANATOMY_AGENT_TURNS] >= 1
        assert agent.attributes[semconv.GEN_AI_CONVERSATION_ID]
        assert agent.attributes[semconv.ANATOMY_AGENT_COST_USD] > 0
        assert 0 < agent.attributes[semconv.ANATOMY_AGENT_API_TIME] * 1e9 <= agent.end_ns - agent.start_ns
        chats = _of(spans, semconv.OPERATION_CHAT)
        assert len(chats) == expected
        assert all(c.parent_id == agent.span_id and c.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 for c in chats)
    assert len({t[0].attributes[semconv.GEN_AI_CONVERSATION_ID] for t in traces[3:5]}) == 1, "one client session"
    first, second = (t[0].attributes[semconv.ANATOMY_AGENT_API_TIME] for t in traces[3:5])
    assert second < first, "a client's second query counts its own API time, not the session's"


def test_tool_spans_from_the_hooks(run: Run) -> None:
    for spans in run.traces()[:4]:
        [agent] = _of(spans, semconv.OPERATION_INVOKE_AGENT)
        tools = _of(spans, semconv.OPERATION_EXECUTE_TOOL)
        assert [t.attributes[semconv.GEN_AI_TOOL_NAME] for t in tools] == ["Read", "Bash", "Bash"]
        assert all(t.parent_id == agent.span_id for t in tools)
        assert len({t.attributes[semconv.GEN_AI_TOOL_CALL_ID] for t in tools}) == 3
        assert all(t.attributes[semconv.ANATOMY_TOOL_REPORTED_DURATION] >= 0 for t in tools)
        assert all(t.status != "error" for t in tools)


def test_time_to_first_token_is_when_the_simulator_sent_it(run: Run) -> None:
    """The span starts when the CLI says it is requesting, a little before the request arrives (the CLI
    builds it; on a loaded machine the SDK may read that status just after the request arrived, 0.3 ms
    seen: a twentieth of the injected time is allowed); the first token is stamped when the CLI's event
    reaches the SDK, right after the simulator sent it (1-6 ms on a quiet machine; the bound allows a loaded
    one a quarter of the injected time)."""
    injected_ns = run.report["ttft_ms"] * 1_000_000
    arrivals = [a for s in run.report["sessions"][:4] for a in s["arrivals"]]
    chats = [c for spans in run.traces()[:5] for c in _of(spans, semconv.OPERATION_CHAT)]
    assert len(chats) == len(arrivals)
    for chat, arrived in zip(chats, arrivals, strict=True):
        ttft_ns = chat.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] * 1e9
        assert chat.start_ns <= arrived + injected_ns / 20, "the call starts before its request arrives"
        relayed_after = chat.start_ns + ttft_ns - (arrived + injected_ns)
        assert -2e6 <= relayed_after <= injected_ns / 4, f"{relayed_after / 1e6:.1f} ms after the simulator sent it"
        assert ttft_ns >= injected_ns - 2e6


@pytest.mark.parametrize("session", [0, 2], ids=["ours", "with the CLI's own traces"])
def test_the_anatomy_of_a_session(run: Run, session: int) -> None:
    analysis = run.analyses()[session]
    assert len(analysis.llm_calls) == 3 and all(c.ttft_ns is not None for c in analysis.llm_calls)
    assert [sorted(t.name for t in b.tools) for b in analysis.batches] == [["Bash", "Read"], ["Bash"]]
    assert analysis.agents == [], "one agent, however many records of it"
    steps = Anatomy([analysis.tree]).to_dict()["traces"][0]["steps"]
    labels = [s["label"].split(" ·")[0] for s in steps if s["kind"] == "llm"]
    assert labels == ["LLM call 1", "LLM call 2", "LLM call 3"]
    assert not any("claude_code" in s["label"] for s in steps)
    assert steps[0]["label"] == "start-up" and steps[0]["duration_ms"] > 0, "the CLI starting, before its first turn"
    # What the CLI waited for: three first tokens (400 ms injected each), its tools, its own start and code.
    phases = analysis.phases
    injected_ns = run.report["ttft_ms"] * 1_000_000
    assert 3 * injected_ns <= phases[PHASE_TTFT] <= 3 * injected_ns * 1.5
    assert phases[PHASE_THINKING] > 0 and phases[PHASE_GENERATION] > 0 and phases[PHASE_TOOL] > 0
    assert phases[PHASE_LLM_UNSPLIT] == 0 and phases[PHASE_GAP] == 0
    assert sum(phases.values()) == analysis.wall_ns


def test_the_clis_own_traces_join_ours_and_merge(run: Run) -> None:
    """One trace, not two: the CLI continues ours through TRACEPARENT; each call is read once, its time to
    first token ours (the CLI's ttft_ms runs only to the first stream event)."""
    assert run.report["sessions"][2]["bodies"] >= 1
    injected_ms = run.report["ttft_ms"]
    spans = run.traces(ours=False)[2]
    [agent] = [s for s in spans if s.name == "invoke_agent claude-code"]
    [interaction] = [s for s in spans if s.name == semconv.CLAUDE_CODE_INTERACTION]
    assert interaction.parent_id == agent.span_id
    cli_calls = [s for s in spans if s.name == "claude_code.llm_request"]
    assert len(cli_calls) == 3 and all(c.attributes[semconv.CLAUDE_CODE_TTFT_MS] < injected_ms / 4 for c in cli_calls)
    assert len([s for s in spans if s.name == "claude_code.tool"]) == 3
    analysis = run.analyses()[2]
    ours = {s.span_id for s in spans if s.name.startswith("chat ")}
    for call in analysis.llm_calls:
        assert call.span_id in ours and len(call.traced_by) == 2, "ours stands for the call, the CLI's is merged"
        assert call.ttft_ns is not None and call.ttft_ns >= (injected_ms - 20) * 1_000_000
    assert any("ttft_ms runs to the first stream event" in note for note in analysis.notes)


def test_the_users_code_sees_what_it_asked_for(run: Run) -> None:
    plain, partial, _, client, *_ = run.report["sessions"]
    assert "StreamEvent" not in plain["messages"] and partial["messages"]["StreamEvent"] > 0
    assert plain["hooks"] == partial["hooks"] == ["Read", "Bash", "Bash"], "the user's own hook ran for each tool"
    assert plain["messages"]["ResultMessage"] == 1 and client["results"] == 2


def test_a_subagent_is_an_agent_of_its_own_beside_the_tool_use_that_started_it(run: Run) -> None:
    """The CLI runs the ``reader`` subagent in the background: its tool use ends at once, the subagent goes on,
    and the CLI forwards its messages but no stream events; its calls are read from them, without a first token."""
    session = run.report["sessions"][4]
    spans = run.traces()[5]
    [main] = [s for s in spans if s.name == "invoke_agent claude-code"]
    [launch] = [
        s for s in _of(spans, semconv.OPERATION_EXECUTE_TOOL) if s.attributes[semconv.GEN_AI_TOOL_NAME] == "Agent"
    ]
    [reader] = [s for s in spans if s.name == "invoke_agent reader"]
    assert reader.parent_id == main.span_id and launch.parent_id == main.span_id
    assert reader.attributes[semconv.ANATOMY_AGENT_TOOL_CALL_ID] == launch.attributes[semconv.GEN_AI_TOOL_CALL_ID]
    assert reader.attributes[semconv.ANATOMY_AGENT_ID]
    chats = _of(spans, semconv.OPERATION_CHAT)
    assert len(chats) == len(session["arrivals"]), "one chat per request, the subagent's too"
    readers = [c for c in chats if c.parent_id == reader.span_id]
    assert len(readers) == 2, "the scenario's read, its answer"
    assert all(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in c.attributes for c in readers)
    tools = [t for t in _of(spans, semconv.OPERATION_EXECUTE_TOOL) if t.parent_id == reader.span_id]
    assert [t.attributes[semconv.GEN_AI_TOOL_NAME] for t in tools] == ["Read"]
    assert [t.status for t in tools] == ["UNSET"]
    analysis = run.analyses()[5]
    [run_main, run_reader] = analysis.agents
    assert run_reader.parent_agent_id == run_main.span_id
    assert (run_reader.llm_calls, run_reader.tool_calls) == (2, 1)
    written = session["output_tokens"]
    assert len(written) == 2 and all(tokens > 1 for tokens in written.values())
    recorded = {
        c.attributes[semconv.GEN_AI_RESPONSE_ID]: c.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] for c in readers
    }
    assert recorded == written, "each call's output tokens as its transcript says, not the 1 its messages carry"
    assert run_reader.end_ns - run_reader.start_ns == reader.end_ns - reader.start_ns, "not cut to its tool use"


def test_uninstrumented_nothing_and_instrumented_again_once(run: Run) -> None:
    again = run.report["sessions"][5]
    assert again["spans_bare"] == 0
    assert again["spans_traced"] == ["chat", "invoke_agent"], "one set of spans, however often instrumented"
    assert again["messages"][0] == again["messages"][1], "the user's code gets the same messages either way"
    bare, traced = ({k: v for k, v in h.items() if k != "x-claude-code-session-id"} for h in again["headers"])
    assert bare == traced, "the CLI's API requests carry the same headers, traced or not"


def test_an_sdk_mcp_servers_spans_are_below_the_tool_use_that_called_it(run: Run) -> None:
    """The ``mcp`` package's own server spans of an in-process SDK MCP server: in the query's trace, the tool
    call's below the session's tool use, the rest below the agent or the start-up; no trace of their own.
    mcp 1.x writes none: there the tool use is all there is."""
    session = run.report["sessions"][6]
    assert session["asked"] == ["mcp__calc__add"], "the user's permission callback decided the tool"
    everything = run.analyses(start_ups=True)
    assert not [
        a for a in everything if a.tree.roots[0].name.split(" ")[0] in ("initialize", "tools/list", "tools/call")
    ]
    spans = run.traces()[7]
    by_id = {s.span_id: s for s in spans}
    [use] = [s for s in spans if s.name == "execute_tool mcp__calc__add"]
    assert use.attributes[semconv.ANATOMY_TOOL_SCHEDULED_BY] == semconv.SCHEDULER_CLAUDE_CODE
    if int(run.report["versions"]["mcp"].split(".")[0]) < 2:
        assert not [s for s in spans if s.name.startswith(("tools/", "initialize"))]
        return
    [call] = [s for s in spans if s.name == "tools/call add"]
    assert call.parent_id == use.span_id
    listed = [s for s in spans if s.name == "tools/list"]
    assert listed and all(by_id[s.parent_id].name == "invoke_agent claude-code" for s in listed)


def test_a_permission_callback_is_a_phase_of_its_own(run: Run) -> None:
    spans = run.traces()[7]
    [check] = [s for s in spans if s.operation == semconv.OPERATION_PERMISSION]
    [use] = [s for s in spans if s.name == "execute_tool mcp__calc__add"]
    assert check.name == "check_permission mcp__calc__add" and check.parent_id == use.span_id
    permission_s = run.report["permission_s"]
    assert permission_s * 1e9 <= check.end_ns - check.start_ns <= use.end_ns - use.start_ns
    analysis = run.analyses()[7]
    # its own, but for where an LLM call ran meanwhile (the CLI starts a tool while the answer still streams)
    overlap = sum(max(min(c.end_ns, check.end_ns) - max(c.start_ns, check.start_ns), 0) for c in analysis.llm_calls)
    assert analysis.phases[PHASE_PERMISSION] == check.end_ns - check.start_ns - overlap
    assert analysis.phases[PHASE_TOOL] <= (use.end_ns - use.start_ns) - analysis.phases[PHASE_PERMISSION]
    assert analysis.phases[PHASE_TOOL] >= run.report["add_s"] * 1e9, "the tool's own time stays the tool's"


def test_a_clients_start_up_is_a_span_of_its_own(run: Run) -> None:
    everything = run.analyses(start_ups=True)
    starts = [i for i, a in enumerate(everything) if a.tree.roots[0].name == START_UP]
    assert len(starts) == 3, "one for each client: the two-query one, the MCP one, the interrupted one"
    for index in starts:
        start_up, first_query = everything[index].tree.roots[0], everything[index + 1].tree.roots[0]
        assert start_up.end_ns <= first_query.start_ns, "the CLI started before the client's first query"
        assert start_up.end_ns > start_up.start_ns


def test_an_interrupted_call_is_marked_so(run: Run) -> None:
    session = run.report["sessions"][7]
    assert session["kind"] == "interrupted" and len(session["arrivals"]) == 1
    spans = run.traces()[8]
    [chat] = _of(spans, semconv.OPERATION_CHAT)
    assert chat.status == "ERROR" and chat.attributes[semconv.ERROR_TYPE] == semconv.ERROR_INTERRUPTED
    assert chat.attributes[semconv.ANATOMY_STREAM_END] == semconv.STREAM_END_INTERRUPTED
    [call] = run.analyses()[8].llm_calls
    assert call.error == semconv.ERROR_INTERRUPTED


def test_the_clis_tool_uses_are_marked_as_its_to_schedule(run: Run) -> None:
    """The CLI decides when its tools run (``anatomy.tool.scheduled_by``): a batch of them that ran one after
    another is not the user's to parallelise (``tests/anatomy/test_advice.py`` has the advice side)."""
    tools = [s for spans in run.traces() for s in _of(spans, semconv.OPERATION_EXECUTE_TOOL) if s.kind != "SERVER"]
    assert tools and all(
        t.attributes[semconv.ANATOMY_TOOL_SCHEDULED_BY] == semconv.SCHEDULER_CLAUDE_CODE for t in tools
    )
    report = run.anatomy.report()
    assert not [s for t in report.traces for s in t.suggestions if s.kind == "parallelise" and "tool" in s.title]
