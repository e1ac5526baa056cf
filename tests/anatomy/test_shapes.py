"""Right on every shape real agents make: concurrent LLM calls, calls recorded twice, failed runs.

The traces come from the real anthropic SDK against the simulator where a real agent makes the shape, and
from records as a peer instrumentation writes them where a peer made the original.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import anthropic
import pytest

import agent_anatomy as aa
from agent_anatomy.anatomy import Anatomy, TraceTree
from agent_anatomy.semconv import (
    GEN_AI_REQUEST_STREAM,
    INSTRUMENTATION_SCOPE,
    SCOPE_ANTHROPIC_SDK,
    SCOPE_OTEL_GENAI_ANTHROPIC,
)
from agent_anatomy.sim import SimServer
from tests.anatomy._build import TRACE, llm, span

MS = 1_000_000
MODEL = "claude-sonnet-4-6"


async def test_concurrent_calls_that_all_fail_are_three_calls(sim: SimServer) -> None:
    """Three ``messages.create`` at once that each get a 529: no response id, no tokens, the same interval —
    three calls, not one."""
    handle = aa.configure(exporter="memory", metrics=False)
    client = anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0)
    headers = {"x-sim-status": "529", "x-sim-header-delay-ms": "150"}

    async def ask(n: int) -> None:
        messages = [{"role": "user", "content": f"question {n}"}]
        await client.messages.create(model=MODEL, max_tokens=64, messages=messages, extra_headers=headers)

    @aa.agent(name="fan-out")
    async def agent() -> list[BaseException | None]:
        return await asyncio.gather(*(ask(n) for n in range(3)), return_exceptions=True)

    try:
        outcomes = await agent()
        assert all(isinstance(o, anthropic.APIStatusError) and o.status_code == 529 for o in outcomes)
        anatomy = Anatomy.from_spans(handle.finished_spans())
    finally:
        await client.close()
        handle.shutdown(timeout_s=2.0)
    assert len(anatomy.trace.llm_calls) == 3
    assert not any("counted once" in note for note in anatomy.trace.notes)


def _fan_out(tokens: tuple[int | None, int | None, int | None]) -> TraceTree:
    """Three calls under one parent over the same 1.5 s, as OpenInference records them: no response id, one
    span name."""
    root = span("invoke_agent parallel", 0, 1600)
    calls = [
        llm(MODEL, 10 + i, 1500 + i, root, ttft=300, tokens=t)
        if t is not None
        else span(f"chat {MODEL}", 10, 1500, root)
        for i, t in enumerate(tokens)
    ]
    return TraceTree(TRACE, [root, *calls])


@pytest.mark.parametrize(
    "tokens", [(120, 95, 131), (None, None, None), (1, 1, 1)], ids=["tokens differ", "no tokens", "alike answers"]
)
def test_concurrent_calls_are_merged_only_on_conclusive_evidence(tokens: tuple[int | None, ...]) -> None:
    anatomy = Anatomy([_fan_out(tokens)])  # type: ignore[arg-type]
    assert len(anatomy.trace.llm_calls) == 3
    assert not any("counted once" in note for note in anatomy.trace.notes)


def test_a_call_recorded_twice_is_merged_and_the_report_says_so() -> None:
    """A peer's span with the SDK's own inside it, of one model and the same tokens: one call, noted."""
    root = span("invoke_agent a", 0, 1600)
    outer = llm(MODEL, 0, 1500, root, ttft=300, tokens=120)
    inner = dataclasses.replace(llm(MODEL, 5, 1495, outer, ttft=None, tokens=120), name="anthropic.messages.create")
    anatomy = Anatomy([TraceTree(TRACE, [root, outer, inner])])
    [call] = anatomy.trace.llm_calls
    assert call.ttft_ns == 300 * MS
    [note] = [n for n in anatomy.trace.notes if "counted once" in n]
    assert note.startswith("LLM call 1 was recorded by 2 spans (chat claude-sonnet-4-6, ")
    assert note in anatomy.render(color=False, width=300)


def test_each_fact_of_a_merged_call_comes_from_the_record_that_measured_it_best() -> None:
    """A peer's record starts first and says 100 ms to the first chunk; the SDK's own, inside it, says 300: the
    SDK's is kept (it was the peer's, the first in start order); and a record of ours beats both."""
    root = span("invoke_agent a", 0, 1600)
    peer = dataclasses.replace(llm(MODEL, 0, 1500, root, ttft=100, tokens=120), scope="some.peer.instrumentation")
    sdk = dataclasses.replace(
        llm(MODEL, 5, 1495, peer, ttft=300, tokens=120), name="anthropic.messages.create", scope=SCOPE_ANTHROPIC_SDK
    )
    [call] = Anatomy([TraceTree(TRACE, [root, peer, sdk])]).trace.llm_calls
    assert call.ttft_ns == 300 * MS and call.span_id == peer.span_id  # the outermost still stands for the call
    ours = dataclasses.replace(llm(MODEL, 8, 1490, sdk, ttft=305, tokens=120), scope=INSTRUMENTATION_SCOPE)
    [call] = Anatomy([TraceTree(TRACE, [root, peer, sdk, ours])]).trace.llm_calls
    assert call.ttft_ns == 305 * MS


def test_a_time_to_the_first_stream_event_is_no_time_to_first_token() -> None:
    """The OpenTelemetry project's instrumentation times the first event of any kind: its 4 ms is not taken
    (the call reads not recorded, streamed); its call without ``gen_ai.request.stream`` did not stream."""
    root = span("invoke_agent a", 0, 1600)
    streamed = dataclasses.replace(llm(MODEL, 0, 700, root, ttft=4, tokens=20), scope=SCOPE_OTEL_GENAI_ANTHROPIC)
    plain = llm(MODEL, 800, 1500, root, ttft=None, tokens=20)
    attributes = {k: v for k, v in plain.attributes.items() if k != GEN_AI_REQUEST_STREAM}
    plain = dataclasses.replace(plain, attributes=attributes, scope=SCOPE_OTEL_GENAI_ANTHROPIC)
    first, second = Anatomy([TraceTree(TRACE, [root, streamed, plain])]).trace.llm_calls
    assert (first.ttft_ns, first.streamed) == (None, True)
    assert second.streamed is False
    anonymous = dataclasses.replace(plain, scope=None, span_id="00000000000000aa")
    [unknown] = Anatomy([TraceTree(TRACE, [root, anonymous])]).trace.llm_calls
    assert unknown.streamed is None, "from an instrumentation not known to write it only when true: not said"


def test_nested_spans_with_different_tokens_are_two_calls() -> None:
    """A call made inside another's span (a streaming callback asking again): different tokens, two calls."""
    root = span("invoke_agent a", 0, 1600)
    outer = llm(MODEL, 0, 1500, root, ttft=300, tokens=120)
    inner = llm(MODEL, 400, 900, outer, ttft=100, tokens=30)
    assert len(Anatomy([TraceTree(TRACE, [root, outer, inner])]).trace.llm_calls) == 2


def test_a_crashed_run_and_an_interrupted_call_are_failures_in_text_and_json(sim: SimServer) -> None:
    """An agent that dies of a ``KeyError`` after its first answer, and one whose streamed answer is cut by
    Ctrl-C: the report says they failed, in every format, not that the user waited for a first word."""
    handle = aa.configure(exporter="memory", metrics=False)
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0)
    messages = [{"role": "user", "content": "Where is my refund?"}]
    headers = {"x-sim-ttft-ms": "30", "x-sim-generation-ms": "200"}

    @aa.agent(name="crashing")
    def crashing() -> None:
        answer = client.messages.create(model=MODEL, max_tokens=64, messages=messages, extra_headers=headers)
        {"text": answer}["missing"]  # the agent's own bug

    @aa.agent(name="interrupted")
    def interrupted() -> None:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=messages, extra_headers=headers) as stream:
            for event in stream:
                if event.type == "content_block_delta":
                    raise KeyboardInterrupt  # as Ctrl-C arrives mid-answer

    try:
        with pytest.raises(KeyError):
            crashing()
        with pytest.raises(KeyboardInterrupt):
            interrupted()
        anatomy = Anatomy.from_spans(handle.finished_spans())
    finally:
        client.close()
        handle.shutdown(timeout_s=2.0)
    by_agent = {t.tree.roots[0].name: t for t in anatomy.traces}
    crashed = Anatomy._made([t for t in anatomy._traces if t.analysis is by_agent["invoke_agent crashing"]], {})
    cut = Anatomy._made([t for t in anatomy._traces if t.analysis is by_agent["invoke_agent interrupted"]], {})

    [failure] = crashed.to_dict()["traces"][0]["failures"]
    assert (failure["name"], failure["error"]) == ("invoke_agent crashing", "KeyError")
    assert "✕ Failed: invoke_agent crashing (KeyError)" in crashed.render(color=False, width=200)

    document = cut.to_dict()["traces"][0]
    assert [f["error"] for f in document["failures"]] == ["KeyboardInterrupt", "KeyboardInterrupt"]
    [step] = [s for s in document["steps"] if s["kind"] == "llm"]
    assert step["error"] == "KeyboardInterrupt" and document["llm_calls"][0]["error"] == "KeyboardInterrupt"
    text = cut.render(color=False, width=200)
    assert "[failed after" in text and ": KeyboardInterrupt]" in text
    assert "for the first word" not in text


def _ask(client: anthropic.Anthropic, prompt: str, tokens: int = 80, rate: int = 400) -> str:
    """The cookbook's ``llm_call``: one user message, the answer's text."""
    headers = {"x-sim-ttft-ms": "60", "x-sim-tokens": str(tokens), "x-sim-tokens-per-s": str(rate)}
    answer = client.messages.create(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": prompt}], extra_headers=headers
    )
    return "".join(block.text for block in answer.content if block.type == "text")


def test_a_fan_out_on_a_plain_thread_pool_is_one_batch_of_llm_calls(sim: SimServer) -> None:
    """The cookbook's parallelization workflow: ``ThreadPoolExecutor`` over ``llm_call``, as it is written."""
    from concurrent.futures import ThreadPoolExecutor

    handle = aa.configure(exporter="memory", metrics=False)
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0)

    @aa.workflow(name="parallelization")
    def parallel(inputs: list[str]) -> list[str]:
        with ThreadPoolExecutor(max_workers=3) as executor:
            # calls of about 860 ms: started together within their twentieth, however busy the machine
            futures = [executor.submit(_ask, client, f"Analyse the impact on {x}.", rate=100) for x in inputs]
            return [f.result() for f in futures]

    try:
        assert len(parallel(["customers", "employees", "investors"])) == 3
        anatomy = Anatomy.from_spans(handle.finished_spans())
    finally:
        client.close()
        handle.shutdown(timeout_s=2.0)
    assert len(anatomy) == 1, "the workers' calls are in the workflow's trace"
    trace = anatomy.trace
    [batch] = trace.llm_batches
    assert len(batch.calls) == 3 and batch.mode == "parallel"
    document = anatomy.to_dict()["traces"][0]
    [step] = [s for s in document["steps"] if s["kind"] == "llms"]
    assert len(step["calls"]) == 3 and not [s for s in document["steps"] if s["kind"] == "llm"]
    [entry] = document["llm_batches"]
    assert entry["overlap_saved_ms"] > 0 and document["levers"]["parallel_llm_saved_ms"] == entry["overlap_saved_ms"]
    text = anatomy.render(color=False, width=200)
    assert "↓ [LLM calls (parallel): max(" in text and "LLM calls made at once saved" in text


def test_workers_called_one_after_another_are_advised_to_run_at_once(sim: SimServer) -> None:
    """The cookbook's orchestrator-workers: a plan, then each worker in turn, each prompt short and the answers
    long, so no prompt holds the answer before it: "make them at once", with what it assumes."""
    handle = aa.configure(exporter="memory", metrics=False)
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0)

    @aa.workflow(name="orchestrator")
    def orchestrate() -> list[str]:
        plan = _ask(client, "Plan three styles of product description for a water bottle.", tokens=300, rate=1000)
        styles = ("formal", "chatty", "terse")
        return [plan, *(_ask(client, f"Write the {style} one.", tokens=300, rate=1000) for style in styles)]

    try:
        orchestrate()
        anatomy = Anatomy.from_spans(handle.finished_spans())
    finally:
        client.close()
        handle.shutdown(timeout_s=2.0)
    [run] = anatomy.trace.independent_runs
    assert [c.index for c in run.calls] == [1, 2, 3, 4]
    [advice] = [s for s in anatomy.what_if() if s.title.startswith("Make LLM calls")]
    # the plan's answer may be what the workers are cut from: the workers are made at once, after it
    assert advice.title == "Make LLM calls 2, 3, 4 at once"
    assert advice.kind == "parallelise" and advice.evidence == "proven"
    assert "they need LLM call 1's answer at most, not each other's" in advice.assumes
    workers = run.calls[1:]
    wall = workers[-1].end_ns - workers[0].start_ns
    assert advice.saving_ns == pytest.approx(wall - max(c.duration_ns for c in workers), rel=0.05)


def test_a_side_trace_is_set_apart_and_each_agent_run_gets_its_anatomy(sim: SimServer, tmp_path: Path) -> None:
    """An agent run and a token count beside it, in one file: the count never is "the most common path", the
    percentiles are the agent's, and the text shows the run's own anatomy."""
    path = tmp_path / "traces.jsonl"
    handle = aa.configure(exporter=f"jsonl:{path}", metrics=False)
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0)
    messages = [{"role": "user", "content": "Where is my refund?"}]
    try:
        client.messages.count_tokens(model=MODEL, messages=messages)

        @aa.agent(name="support")
        def support() -> None:
            _ask(client, "Where is my refund?")
            _ask(client, "And when will it arrive?")

        support()
    finally:
        client.close()
        handle.shutdown(timeout_s=2.0)
    anatomy = Anatomy.from_file(path)
    assert len(anatomy) == 2
    summary = anatomy.to_dict()["summary"]
    assert summary["side_traces"] == 1
    assert summary["common_path"] == {"steps": [f"chat {MODEL}"], "traces": 1}
    agent = next(t for t in anatomy.traces if t.llm_calls)
    assert summary["phases_ms"]["total"]["p50"] == round(agent.wall_ns / 1e6, 3), "the side trace is not in p50"
    text = anatomy.render(color=False, width=200)
    assert "Latency anatomy of 1 traces (1 side trace set apart" in text
    assert f"Latency anatomy · trace {agent.trace_id}" in text, "the run's own anatomy follows the summary"
    assert "↓ [LLM call 2 · claude-sonnet-4-6:" in text
    assert f"Latency anatomy · trace {agent.trace_id}" not in anatomy.render(color=False, width=200, each=0)


def test_calls_that_lost_their_context_are_diagnosed_in_one_line(sim: SimServer) -> None:
    """A thread pool started with no trace context carried (the threading instrumentation off): the calls are
    traces of their own, and the summary says why."""
    from concurrent.futures import ThreadPoolExecutor

    from agent_anatomy.tracing.threads import ThreadingInstrumentor

    handle = aa.configure(exporter="memory", metrics=False)
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0)
    threads = ThreadingInstrumentor()
    threads.uninstrument()
    try:

        @aa.workflow(name="parallelization")
        def parallel() -> None:
            time.sleep(0.01)
            with ThreadPoolExecutor(max_workers=2) as executor:
                list(executor.map(lambda x: _ask(client, f"About {x}."), ["a", "b"]))

        parallel()
        anatomy = Anatomy.from_spans(handle.finished_spans())
    finally:
        threads.instrument()
        client.close()
        handle.shutdown(timeout_s=2.0)
    assert len(anatomy) == 3
    [note] = anatomy.to_dict()["summary"]["notes"]
    assert note.startswith("2 traces of one LLM call ran inside agent trace ")
    assert "their trace context was lost on the way" in note
    assert note in anatomy.render(color=False, width=400)


def test_traces_of_one_conversation_are_read_as_one() -> None:
    """Turns called one by one with no agent span, each its own trace, carrying one conversation id."""
    turns = []
    for n, trace in enumerate(("a" * 32, "b" * 32, "c" * 32)):
        start = n * 3000
        turns.append(llm(MODEL, start, start + 1000, None, ttft=200, trace=trace, gen_ai__conversation__id="conv-7"))
    other = llm(MODEL, 0, 500, None, ttft=100, trace="d" * 32)
    anatomy = Anatomy.from_records([*turns, other])
    assert len(anatomy) == 2
    joined = next(t for t in anatomy.traces if len(t.llm_calls) == 3)
    assert joined.trace_id == "a" * 32 and joined.wall_ns == 7000 * MS
    assert "3 traces of conversation conv-7 read as one" in " ".join(joined.notes)


def test_a_bare_call_with_nothing_around_it_is_one_llm_step(sim: SimServer) -> None:
    """``messages.create`` alone, the first thing a user tries: its trace is one span, and one LLM step."""
    handle = aa.configure(exporter="memory", metrics=False)
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0)
    try:
        _ask(client, "Hello")
        anatomy = Anatomy.from_spans(handle.finished_spans())
    finally:
        client.close()
        handle.shutdown(timeout_s=2.0)
    [step] = anatomy.to_dict()["traces"][0]["steps"]
    assert (step["kind"], step["label"]) == ("llm", "LLM call 1")
    assert "agent code" not in anatomy.render(color=False, width=200)
