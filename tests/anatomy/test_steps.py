"""The agent-centred view: steps read from the agent wherever it sits, and what a trace cannot tell.

Each test is one item of "What was seen" in the issue on real-world traces; each failed on the
anatomy that split steps at the root's children only.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest

from agent_anatomy import semconv
from agent_anatomy.anatomy import Anatomy, SpanRecord, TraceTree
from agent_anatomy.anatomy.agents import find_agent
from agent_anatomy.anatomy.analysis import analyse_trace
from agent_anatomy.anatomy.model import EventRecord
from agent_anatomy.anatomy.sources import records_from_document
from tests.anatomy._build import TRACE, llm, ms, span

MS = 1_000_000


def _seed_under(parent: SpanRecord | None, offset: float = 0.0, batches: bool = True) -> list[SpanRecord]:
    """The seed agent (5,710 ms), started ``offset`` ms in, under ``parent``; without tool_batch spans if asked."""
    o = offset
    agent = span("invoke_agent support", o, o + 5710, parent)
    spans = [agent, llm("claude-sonnet-4-6", o + 10, o + 1510, agent, ttft=500)]
    holder1 = agent
    if batches:
        holder1 = span("tool_batch", o + 1510, o + 2910, agent)
        spans.append(holder1)
    spans += [
        span("execute_tool get_user_profile", o + 1510, o + 2310, holder1),
        span("execute_tool get_transaction_history", o + 2310, o + 2910, holder1),
        llm("claude-sonnet-4-6", o + 2910, o + 4110, agent, ttft=400),
    ]
    holder2 = agent
    if batches:
        holder2 = span("tool_batch", o + 4110, o + 4810, agent)
        spans.append(holder2)
    spans += [
        span("execute_tool get_product_catalog", o + 4110, o + 4610, holder2),
        span("execute_tool get_transaction_history", o + 4110, o + 4810, holder2),
        llm("claude-sonnet-4-6", o + 4810, o + 5710, agent, ttft=300),
    ]
    return spans


def _steps(anatomy: Anatomy) -> list[dict[str, object]]:
    return anatomy.to_dict()["traces"][0]["steps"]  # type: ignore[no-any-return]


def _llm_steps(anatomy: Anatomy) -> list[tuple[str, float, float | None]]:
    return [(s["label"], s["duration_ms"], s["ttft_ms"]) for s in _steps(anatomy) if s["kind"] == "llm"]  # type: ignore[misc]


def test_an_agent_under_an_http_server_span_keeps_every_llm_call() -> None:
    server = span("POST /chat", 0, 5800)
    server.kind = "SERVER"
    auth = span("auth", 5, 40, server)
    spans = [server, auth, *_seed_under(server, offset=50)]
    anatomy = Anatomy([TraceTree(TRACE, spans)])
    assert _llm_steps(anatomy) == [("LLM call 1", 1500, 500), ("LLM call 2", 1200, 400), ("LLM call 3", 900, 300)]
    kinds = [s["kind"] for s in _steps(anatomy)]
    assert kinds[0] == "outside" and kinds[-1] == "outside", "the handler's time before and after the agent"
    phases = anatomy.trace.phases
    assert phases["outside_agent"] == 90 * MS, "the server's own 50 + 40 ms (auth included), not agent code"
    assert phases["agent"] == 10 * MS
    assert sum(phases.values()) == 5800 * MS
    text = anatomy.render(color=False, width=200)
    assert "[LLM call 2 · claude-sonnet-4-6: 1,200 ms]" in text and "[invoke_agent support" not in text


def test_missing_tool_batch_spans_never_merge_llm_calls() -> None:
    anatomy = Anatomy([TraceTree(TRACE, _seed_under(span("POST /chat", 0, 5710), batches=False))])
    assert [label for label, _, _ in _llm_steps(anatomy)] == ["LLM call 1", "LLM call 2", "LLM call 3"]
    tools = [s for s in _steps(anatomy) if s["kind"] == "tools"]
    assert [t["mode"] for t in tools] == ["sequential", "parallel"]


def test_a_wrapper_around_several_calls_is_opened_up() -> None:
    """A ``step`` span (or any wrapper) holding two LLM calls and tools is not one step of 'LLM call 2'."""
    agent = span("invoke_agent a", 0, 3000)
    wrapper = span("step plan_and_act", 0, 3000, agent)
    spans = [
        agent,
        wrapper,
        llm("claude-haiku-4-5", 0, 800, wrapper, ttft=200),
        span("execute_tool lookup", 800, 1600, wrapper),
        llm("claude-haiku-4-5", 1600, 3000, wrapper, ttft=300),
    ]
    anatomy = Anatomy([TraceTree(TRACE, spans)])
    assert _llm_steps(anatomy) == [("LLM call 1", 800, 200), ("LLM call 2", 1400, 300)]


def test_the_agent_is_found_without_an_agent_span() -> None:
    handler = span("POST /chat", 0, 2000)
    work = span("handle", 100, 1900, handler)
    calls = [llm("m", 100, 900, work, ttft=100), llm("m", 1000, 1900, work, ttft=100)]
    tree = TraceTree(TRACE, [handler, work, *calls])
    assert find_agent(tree) is work
    assert analyse_trace(tree).phases["outside_agent"] == 200 * MS


def test_a_streamed_call_without_a_recorded_ttft_is_not_called_unstreamed() -> None:
    agent = span("invoke_agent a", 0, 1700)
    call = span("anthropic.chat", 50, 1653, agent, gen_ai__operation__name="chat", gen_ai__is_streaming=True)
    anatomy = Anatomy([TraceTree(TRACE, [agent, call])])
    text = anatomy.render(color=False, width=200)
    assert "streamed; time to first token not recorded" in text
    assert "not streamed" not in text
    assert anatomy.trace.phases["llm_first_token_unknown"] == 1603 * MS
    assert anatomy.trace.phases["llm_time_to_first_token"] == 0
    assert not any(s.kind == "stream" for s in anatomy.trace.suggestions), "no 'stream it' for a streamed call"


def test_a_trace_without_genai_spans_says_so() -> None:
    root = span("GET /health", 0, 100)
    anatomy = Anatomy([TraceTree(TRACE, [root, span("SELECT", 10, 60, root)])])
    [note] = anatomy.trace.notes
    assert note.startswith("no LLM, tool or agent span found")
    assert note in anatomy.render(color=False, width=200)
    assert anatomy.trace.phases["outside_agent"] == 100 * MS and anatomy.trace.phases["agent"] == 0


def test_a_parent_cycle_keeps_every_span(caplog: pytest.LogCaptureFixture) -> None:
    root = span("invoke_agent a", 0, 1000)
    first = span("execute_tool x", 100, 400, root)
    second = span("execute_tool y", 500, 900, first)
    first.parent_id = second.span_id  # x under y under x: neither reaches the root
    with caplog.at_level(logging.WARNING, logger="agent_anatomy"):
        anatomy = Anatomy([TraceTree("c" * 32, [root, first, second])])
    assert anatomy.wall_ms == 1000
    spans = anatomy.to_dict(spans=True)["traces"][0]["spans"]
    assert len(spans) == 3 and all(0 <= s["start_ms"] <= 1000 for s in spans), "times relative to the trace"
    assert "parent cycle" in caplog.text and "1 parent cycle(s)" in anatomy.trace.notes[0]


def test_the_header_names_the_roots_service() -> None:
    root = span("GET /dispatch", 0, 100)
    root.service = "frontend"
    child = span("SQL SELECT", 10, 50, root)
    child.service = "customer"
    assert Anatomy([TraceTree(TRACE, [root, child])]).trace.service == "frontend"


def test_protobuf_json_that_omits_zero_valued_fields() -> None:
    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "AAAAAAAAAAAAAAAAAAAAAQ==",
                                "spanId": "AAAAAAAAAAE=",
                                "name": "root",
                                "endTimeUnixNano": "5000000",
                            },
                            {
                                "traceId": "AAAAAAAAAAAAAAAAAAAAAQ==",
                                "spanId": "AAAAAAAAAAI=",
                                "parentSpanId": "AAAAAAAAAAE=",
                                "name": "child",
                                "startTimeUnixNano": "1000000",
                                "endTimeUnixNano": "2000000",
                                "events": [{"name": "e"}],
                            },
                        ]
                    }
                ]
            }
        ]
    }
    records = records_from_document(document)
    assert [(r.name, r.start_ns, r.end_ns) for r in records] == [
        ("root", 0, 5_000_000),
        ("child", 1_000_000, 2_000_000),
    ]
    assert records[1].events[0].time_ns == 0 and records[0].trace_id == "0" * 31 + "1"
    assert semconv.GEN_AI_OPERATION_NAME not in records[0].attributes


def test_the_docs_list_every_rule_of_the_normalisation_table() -> None:
    from pathlib import Path

    from agent_anatomy.anatomy.normalise import ROLE_RULES

    readme = (Path(__file__).parents[2] / "docs" / "anatomy.md").read_text()
    table = readme.split("## Traces written by other instrumentations", 1)[1].split("What a trace does not", 1)[0]
    for attribute, value, _, _ in ROLE_RULES:
        assert f"`{value}`" in table and (attribute == semconv.GEN_AI_OPERATION_NAME or f"`{attribute}`" in table), (
            attribute,
            value,
        )


def test_tools_either_side_of_an_unexplained_gap_are_never_one_batch() -> None:
    """The model turn between them was not traced: at most the first turn's tools can run together."""
    agent = span("invoke_agent a", 0, 2000)
    spans = [
        agent,
        span("execute_tool lookup", 0, 300, agent),
        span("execute_tool history", 300, 800, agent),  # 500 ms
        # 800..1300: a model call no instrumentation recorded
        span("execute_tool refund", 1300, 1800, agent),
    ]
    anatomy = Anatomy([TraceTree(TRACE, spans)])
    batches = anatomy.trace.batches
    assert [[t.name for t in b.tools] for b in batches] == [["lookup", "history"], ["refund"]]
    [parallelise] = [s for s in anatomy.trace.suggestions if s.kind == "parallelise"]
    assert parallelise.saving_ns == 300 * MS, "the first turn's shorter tool, not 800 ms across both turns"
    assert "Assumes the tools are independent" in anatomy.render(color=False, width=200)
    assert anatomy.to_dict()["traces"][0]["suggestions"][0]["assumes"]


def test_a_gap_another_span_explains_does_not_split() -> None:
    agent = span("invoke_agent a", 0, 2000)
    spans = [
        agent,
        span("execute_tool lookup", 0, 300, agent),
        span("SELECT orders", 300, 900, agent),  # the gap is this query, not a model turn
        span("execute_tool refund", 900, 1400, agent),
    ]
    assert len(Anatomy([TraceTree(TRACE, spans)]).trace.batches) == 1


def test_several_agents_each_get_their_anatomy_and_the_path_crosses_them() -> None:
    """A planner hands off to two researchers running side by side; the critical path goes through the
    slower researcher's own steps, and each agent gets its own phases."""
    planner = span("invoke_agent planner", 0, 3000)
    a = span("invoke_agent researcher_a", 1000, 2200, planner)
    b = span("invoke_agent researcher_b", 1000, 2900, planner)
    spans = [
        planner,
        llm("m", 0, 1000, planner, ttft=200),
        a,
        llm("m", 1000, 1600, a, ttft=100),
        span("execute_tool search", 1600, 2200, a),
        b,
        llm("m", 1000, 1500, b, ttft=100),
        span("execute_tool fetch", 1500, 2400, b),
        llm("m", 2400, 2900, b, ttft=100),
        llm("m", 2900, 3000, planner, ttft=50),
    ]
    anatomy = Anatomy([TraceTree(TRACE, spans)])
    runs = {run.name: run for run in anatomy.trace.agents}
    assert set(runs) == {"invoke_agent planner", "invoke_agent researcher_a", "invoke_agent researcher_b"}
    b_run = runs["invoke_agent researcher_b"]
    assert (b_run.llm_calls, b_run.tool_calls, b_run.wall_ns) == (2, 1, 1900 * MS)
    assert b_run.parent_agent_id == planner.span_id and runs["invoke_agent planner"].parent_agent_id is None
    assert sum(b_run.phases.values()) == b_run.wall_ns and b_run.phases["tool"] == 900 * MS
    labels = [s["label"] for s in _steps(anatomy) if s["kind"] in ("llm", "tools")]
    # The planner's call, researcher B's call, its tool, its second call, the planner's last call:
    # researcher A (LLM call 2, the search tool) ran beside the critical path.
    assert labels == ["LLM call 1", "LLM call 3", "Tool batch 1", "LLM call 4", "LLM call 5"], labels
    assert [[t.name for t in b.tools] for b in anatomy.trace.batches] == [["fetch"], ["search"]], "one per agent"
    text = anatomy.render(color=False, width=200)
    assert "Agents in this trace (3)" in text and "    invoke_agent researcher_b: 1,900 ms" in text


def test_retrieval_and_embedding_calls_have_a_phase_of_their_own() -> None:
    agent = span("invoke_agent rag", 0, 1000)
    spans = [
        agent,
        span("retrieve docs", 0, 300, agent, openinference__span__kind="RETRIEVER"),
        span("embed query", 300, 400, agent, gen_ai__operation__name="embeddings"),
        llm("m", 400, 1000, agent, ttft=200),
    ]
    phases = Anatomy([TraceTree(TRACE, spans)]).trace.phases
    assert phases["retrieval"] == 400 * MS and phases["agent"] == 0


def _claude_session(cli_tokens: int = 40, cli_model: str = "claude-opus-4-6") -> TraceTree:
    """An Agent SDK session traced by agent-anatomy, with the Claude Code CLI's own spans below it, as the CLI
    writes them (its request id as ``gen_ai.response.id``, ``ttft_ms`` to the first stream event)."""
    agent = span("invoke_agent claude-code", 0, 2000)
    ours = llm("claude-opus-4-6", 100, 800, agent, ttft=400, tokens=40, gen_ai__response__id="msg_1")
    tool = span("execute_tool Read", 790, 900, agent, gen_ai__tool__call__id="toolu_1")
    answer = llm("claude-opus-4-6", 910, 1900, agent, ttft=300, tokens=90, gen_ai__response__id="msg_2")
    interaction = span("claude_code.interaction", 50, 1950, agent, gen_ai__operation__name="invoke_agent")
    cli = {"gen_ai__operation__name": "chat", "gen_ai__request__model": cli_model, "ttft_ms": 5}
    cli_call = span(
        "claude_code.llm_request",
        110,
        800,
        interaction,
        **cli,
        gen_ai__response__id="req_1",
        request_id="req_1",
        gen_ai__usage__output_tokens=cli_tokens,
    )
    cli_tool = span(
        "claude_code.tool",
        788,
        902,
        interaction,
        gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="Read",
        gen_ai__tool__call__id="toolu_1",
    )
    execution = span("claude_code.tool.execution", 795, 898, cli_tool)
    cli_answer = span(
        "claude_code.llm_request",
        915,
        1900,
        interaction,
        **cli,
        gen_ai__response__id="req_2",
        request_id="req_2",
        gen_ai__usage__output_tokens=90,
    )
    return TraceTree(TRACE, [agent, ours, tool, answer, interaction, cli_call, cli_tool, execution, cli_answer])


def test_the_claude_code_clis_own_spans_are_second_records_of_ours() -> None:
    analysis = analyse_trace(_claude_session())
    calls = analysis.llm_calls
    assert [len(c.traced_by) for c in calls] == [2, 2], "each call once, the CLI's record merged into ours"
    assert [c.ttft_ns for c in calls] == [400_000_000, 300_000_000], "ours: the CLI's ttft_ms is to message_start"
    assert [[t.name for t in b.tools] for b in analysis.batches] == [["Read"]], "the tool call once"
    assert analysis.agents == [] and analysis.agent_span is not None
    assert analysis.agent_span.name == "invoke_agent claude-code"
    labels = [item["label"] for item in Anatomy([analysis.tree]).to_dict()["traces"][0]["steps"]]
    assert not any("claude_code" in label for label in labels), labels
    assert any("ttft_ms runs to the first stream event" in note for note in analysis.notes)


def _older_cli(record: SpanRecord) -> SpanRecord:
    """A CLI span as Claude Code 2.1.142 writes it: no ``gen_ai.*`` names but the model's, its kind in
    ``span.type``, its usage under its own names (input without the cache), no tool call id."""
    if not record.name.startswith("claude_code."):
        return record
    kind = record.name.removeprefix("claude_code.")
    attributes = {k: v for k, v in record.attributes.items() if not k.startswith("gen_ai.") or "model" in k}
    if kind == "llm_request":
        output = record.attributes["gen_ai.usage.output_tokens"]
        attributes |= {
            "output_tokens": output,
            "input_tokens": 0,
            "cache_read_tokens": 20,
            "cache_creation_tokens": 3000,
        }
    elif kind == "tool":
        attributes["tool_name"] = record.attributes["gen_ai.tool.name"]
    attributes["span.type"] = kind
    return dataclasses.replace(record, attributes=attributes, scope=semconv.SCOPE_CLAUDE_CODE, role=None)


def test_an_older_clis_spans_are_second_records_of_ours_too() -> None:
    """Claude Code 2.1.142 names the model it asked for with a million-token context ``claude-opus-4-6[1m]``
    (the request named ``claude-opus-4-6``), writes its usage under its own names, its spans' kinds only in
    ``span.type`` and no tool call id: each call, tool use and the agent still once, and alone its calls have
    the model without the label and the conventions' token counts."""
    tree = _claude_session(cli_model="claude-opus-4-6[1m]")
    older = TraceTree(TRACE, [_older_cli(s) for s in tree.spans.values()])
    analysis = analyse_trace(older)
    assert [len(c.traced_by) for c in analysis.llm_calls] == [2, 2]
    assert [[t.name for t in b.tools] for b in analysis.batches] == [["Read"]], "its tool use ours, once"
    assert analysis.agents == [], "its turn a second record of the session's agent"
    labels = [item["label"] for item in Anatomy([analysis.tree]).to_dict()["traces"][0]["steps"]]
    assert not any("claude_code" in label for label in labels), labels
    alone = [s for s in older.spans.values() if s.name == "claude_code.llm_request"]
    calls = analyse_trace(TraceTree(TRACE, alone)).llm_calls
    assert [(c.model, c.output_tokens, c.input_tokens, c.cache_read_tokens) for c in calls] == [
        ("claude-opus-4-6", 40, 3020, 20),
        ("claude-opus-4-6", 90, 3020, 20),
    ]


def test_a_cli_call_that_answered_otherwise_is_not_merged() -> None:
    """Under different parents, only the same answer (output tokens) makes two records one call."""
    calls = analyse_trace(_claude_session(cli_tokens=41)).llm_calls
    assert len(calls) == 3


def test_the_clis_spans_alone_time_no_first_token() -> None:
    """Without agent-anatomy's spans, the CLI's calls stand alone: their ttft_ms is not a time to first token."""
    tree = _claude_session()
    kept = [s for s in tree.spans.values() if s.name.startswith("claude_code.")]
    analysis = analyse_trace(TraceTree(TRACE, [dataclasses.replace(kept[0], parent_id=None), *kept[1:]]))
    assert [c.ttft_ns for c in analysis.llm_calls] == [None, None]
    assert any("instrument the Agent SDK" in note for note in analysis.notes)
    assert [[t.name for t in b.tools] for b in analysis.batches] == [["Read"]]


def test_the_agents_time_before_its_runtime_was_ready_is_its_start_up() -> None:
    """``anatomy.agent.ready`` on the agent span (the Claude Code CLI initialised): the agent's own time
    before it is start-up; after it, agent code as before; without it, no start-up at all."""
    agent = span("invoke_agent claude-code", 0, 1000)
    call = llm("claude-opus-4-6", 320, 980, agent, ttft=300)
    ready = dataclasses.replace(agent, events=(EventRecord(semconv.EVENT_AGENT_READY, ms(300)),))
    steps = Anatomy([TraceTree(TRACE, [ready, dataclasses.replace(call)])]).to_dict()["traces"][0]["steps"]
    assert [(s["label"].split(" ·")[0], s["duration_ms"]) for s in steps] == [
        ("start-up", 300.0),
        ("agent code", 20.0),
        ("LLM call 1", 660.0),
        ("agent code", 20.0),
    ]
    plain = Anatomy([TraceTree(TRACE, [agent, call])]).to_dict()["traces"][0]["steps"]
    assert [s["label"].split(" ·")[0] for s in plain] == ["agent code", "LLM call 1", "agent code"]


@pytest.mark.parametrize("streamed", [True, False])
def test_a_trace_of_one_llm_span_is_one_llm_step(streamed: bool) -> None:
    """A bare ``messages.create`` with nothing around it: its one span is the step, not "agent code"."""
    call = llm("claude-sonnet-4-6", 0, 2343, None, ttft=400 if streamed else None, tokens=100)
    anatomy = Anatomy([TraceTree(TRACE, [call])])
    [step] = anatomy.to_dict()["traces"][0]["steps"]
    assert (step["kind"], step["label"], step["duration_ms"]) == ("llm", "LLM call 1", 2343.0)
    text = anatomy.render(color=False, width=200)
    assert "↓ [LLM call 1 · claude-sonnet-4-6: 2,343 ms]" in text and "agent code" not in text
    assert anatomy.trace.phases["agent"] == 0


def test_a_trace_of_one_tool_span_is_one_tool_step() -> None:
    anatomy = Anatomy([TraceTree(TRACE, [span("execute_tool lookup", 0, 50)])])
    [step] = anatomy.to_dict()["traces"][0]["steps"]
    assert (step["kind"], step["mode"], step["wall_ms"]) == ("tools", "single", 50.0)
