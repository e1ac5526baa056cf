"""Advice on every trace, graded by its evidence: the ordinary one-model unstreamed agent is told to stream
(checked against streaming it for real on the simulator), speeds files, and the true reason for no advice."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import anthropic
import pytest

import agent_anatomy as aa
from agent_anatomy import catalogue, semconv
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.model import TraceTree
from agent_anatomy.anatomy.speeds import REFERENCE_SPEEDS, read_speeds, speeds_document
from agent_anatomy.cli import main
from agent_anatomy.errors import SourceError
from agent_anatomy.sim import SimServer
from agent_anatomy.sim.profiles import DEFAULT_FAMILIES, SimProfile
from tests.anatomy._build import TRACE, llm, span

MS = 1_000_000
MODEL = "claude-sonnet-4-6"
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _weather_agent(client: anthropic.Anthropic, *, stream: bool) -> None:
    """The shape of the anthropic SDK's ``examples/tools.py``: ask, run the tool it asks for, ask again."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Paris?"}]

    def ask() -> Any:
        if stream:
            with client.messages.stream(model=MODEL, max_tokens=512, messages=messages, tools=[WEATHER]) as s:
                return s.get_final_message()
        return client.messages.create(model=MODEL, max_tokens=512, messages=messages, tools=[WEATHER])

    answer = ask()
    while answer.stop_reason == "tool_use":
        messages.append({"role": "assistant", "content": answer.content})
        results = [
            {"type": "tool_result", "tool_use_id": block.id, "content": "sunny, 21 °C"}
            for block in answer.content
            if block.type == "tool_use"
        ]
        messages.append({"role": "user", "content": results})
        answer = ask()


def _run_agent(stream: bool) -> Anatomy:
    """One run on a fresh simulator of the default profile and one seed: both runs draw the same speeds.

    The reference speed is the middle of the profile's range, so the estimate is off by at most the range's
    ±20 % (seeds 11 to 15 give 0.82 to 1.17 of the real saving); seed 15 draws near the middle, so that the
    bound tested is the method's, not the network's jitter on a draw at the edge of the range."""
    handle = aa.configure(exporter="memory", metrics=False)
    try:
        with (
            SimServer(SimProfile(seed=15)) as sim,
            anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0) as client,
        ):
            aa.agent(name="weather")(_weather_agent)(client, stream=stream)
        return Anatomy.from_spans(handle.finished_spans())
    finally:
        handle.shutdown(timeout_s=2.0)


@pytest.mark.slow
def test_an_unstreamed_one_model_agent_is_told_to_stream_and_the_saving_is_what_streaming_gives() -> None:
    unstreamed = _run_agent(stream=False)
    trace = unstreamed.trace
    assert len(trace.llm_calls) >= 2 and all(c.streamed is False for c in trace.llm_calls)
    stream = next(s for s in unstreamed.what_if() if s.kind == "stream")
    assert (stream.evidence, stream.basis) == ("reference", "reference table, 2026-12-02")
    # the first token of each call, estimated: waiting and generating both have time, and say so
    assert trace.phases["llm_generation"] > 0 and trace.phases["llm_time_to_first_token"] > 0
    assert any("estimated from the output tokens" in note for note in trace.notes)

    streamed = _run_agent(stream=True)
    final_before, final_after = trace.llm_calls[-1], streamed.trace.llm_calls[-1]
    assert final_before.output_tokens == final_after.output_tokens, "the same draws on both runs"
    assert final_after.first_text_ns is not None
    # what streaming really gives: the user's first word at the streamed call's first token, not at its end
    real = final_before.duration_ns - final_after.first_text_ns
    assert abs(stream.saving_ns - real) <= 0.2 * real, (stream.saving_ns / MS, real / MS)


def test_the_reference_table_is_the_middle_of_the_simulators_speeds() -> None:
    """The reference names its source: the simulator's default profiles (and the seed article's first tokens)."""
    for family, speed in REFERENCE_SPEEDS.items():
        profile = DEFAULT_FAMILIES[family]
        assert speed.ttft_ns == sum(profile.ttft_ms) / 2 * MS
        assert speed.tokens_per_second == sum(profile.tokens_per_s) / 2


def _one_call(model: str, *, streamed: bool, duration: float = 2000, tokens: int = 300) -> TraceTree:
    root = span("invoke_agent a", 0, duration)
    ttft = 400 if streamed else None
    return TraceTree(TRACE, [root, llm(model, 0, duration, root, ttft=ttft, tokens=tokens)])


def test_a_speeds_file_written_from_one_input_grades_another_measured(tmp_path: Path) -> None:
    streamed = tmp_path / "streamed.json"
    streamed.write_text(json.dumps(_otlp(_one_call("acme-large", streamed=True))))
    speeds = tmp_path / "speeds.json"
    assert main(["report", str(streamed), "--no-color", "--write-speeds", str(speeds)]) == 0
    document = json.loads(speeds.read_text())
    assert document == {
        "schema": "agent-anatomy/speeds@1",
        "models": {"acme-large": {"ttft_ms": 400.0, "tokens_per_second": 187.5, "calls": 1}},
    }
    # a model the reference does not know: without the file there is nothing to estimate with
    tree = _one_call("acme-large", streamed=False)
    alone = Anatomy([tree])
    assert not alone.what_if()
    assert "the speed of acme-large is not known (pass --speeds)" in alone.render(color=False, width=300)
    known = Anatomy([tree], speeds=read_speeds(speeds))
    [stream] = known.what_if()
    assert (stream.kind, stream.evidence, stream.basis) == ("stream", "measured", "speeds file speeds.json (1 calls)")
    # 300 tokens at 187.5 tokens/s: 1,600 ms of the 2,000 were generation
    assert stream.saving_ns == 1600 * MS


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON at line 1"),
        ('{"models": {}}', "expected a speeds file"),
        ('{"schema": "agent-anatomy/speeds@1", "models": []}', 'expected "models" as an object'),
        (
            '{"schema": "agent-anatomy/speeds@1", "models": {"m": {"ttft_ms": "x"}}}',
            "model 'm' needs numbers ttft_ms and tokens_per_second",
        ),
        (
            '{"schema": "agent-anatomy/speeds@1", "models": {"m": {"ttft_ms": 1, "tokens_per_second": 0}}}',
            "tokens_per_second > 0",
        ),
    ],
)
def test_a_bad_speeds_file_is_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "speeds.json"
    path.write_text(content)
    with pytest.raises(SourceError, match=message) as raised:
        read_speeds(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_nothing_to_suggest_says_what_was_looked_for() -> None:
    root = span("invoke_agent a", 0, 1000)
    call = llm("claude-haiku-4-5", 0, 600, root, ttft=200, tokens=60)
    tools = [
        span("execute_tool a", 600, 900, root, anatomy__tool__input_hash="1"),
        span("execute_tool b", 600, 880, root, anatomy__tool__input_hash="2"),
    ]
    anatomy = Anatomy([TraceTree(TRACE, [root, call, *tools])])
    assert anatomy.what_if() == []
    reason = anatomy.trace.nothing_to_suggest
    for part in (
        "each tool batch ran its tools together",
        "no tool ran twice with the same input",
        "the final answer streamed",
        "no model known would answer a call at least 10 % sooner",
    ):
        assert part in reason
    assert anatomy.to_dict()["traces"][0]["nothing_to_suggest"] == reason
    assert f"nothing to suggest ({reason})" in anatomy.render(color=False, width=400)


def test_a_fast_model_is_never_routed_to_a_slower_family() -> None:
    """One slow Haiku call is no reason to suggest Sonnet: like for like, Sonnet is slower."""
    slow = _one_call("claude-haiku-4-5", streamed=True, duration=3000, tokens=60)
    assert not [s for s in Anatomy([slow]).what_if() if s.kind == "route"]
    opus = _one_call("claude-opus-4-7", streamed=True, duration=4000, tokens=200)
    [route] = [s for s in Anatomy([opus]).what_if() if s.kind == "route"]
    assert route.title == "Route LLM call 1 to Claude Haiku" and route.evidence == "reference"


def _otlp(tree: TraceTree) -> dict[str, Any]:
    """A tree as an OTLP JSON document."""

    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        if isinstance(v, float):
            return {"doubleValue": v}
        return {"stringValue": str(v)}

    spans = [
        {
            "traceId": s.trace_id,
            "spanId": s.span_id,
            **({"parentSpanId": s.parent_id} if s.parent_id else {}),
            "name": s.name,
            "startTimeUnixNano": str(s.start_ns),
            "endTimeUnixNano": str(s.end_ns),
            "attributes": [{"key": k, "value": value(v)} for k, v in s.attributes.items()],
        }
        for s in tree.spans.values()
    ]
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS in tree.spans[spans[-1]["spanId"]].attributes
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]}


def test_tools_that_waited_for_the_end_of_a_streamed_answer_are_advised_to_start_early(sim: SimServer) -> None:
    """The SDK's ``tools_stream.py`` shape with the executor: each ``tool_use`` block's end is on the ``chat`` span,
    and the tools, started only once the message ended, are told how much sooner the batch would end."""
    from agent_anatomy import semconv as names
    from agent_anatomy.levers import ParallelExecutor

    def get_user_profile(user_id: str) -> str:
        time.sleep(0.4)
        return f"profile of {user_id}"

    def get_transaction_history(user_id: str) -> str:
        time.sleep(0.05)
        return "none"

    handle = aa.configure(exporter="memory", metrics=False)
    executor = ParallelExecutor(
        {"get_user_profile": get_user_profile, "get_transaction_history": get_transaction_history}
    )
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0)
    schema = {"type": "object", "properties": {"user_id": {"type": "string"}}, "required": ["user_id"]}
    tools = [
        {"name": name, "description": "A lookup.", "input_schema": schema}
        for name in ("get_user_profile", "get_transaction_history")
    ]
    headers = {"x-sim-ttft-ms": "50", "x-sim-tokens-per-s": "20"}  # the second block: 100 ms after the first

    @aa.agent(name="support")
    def support() -> None:
        messages = [{"role": "user", "content": "Where is my refund?"}]
        with client.messages.stream(
            model=MODEL, max_tokens=512, messages=messages, tools=tools, extra_headers=headers
        ) as stream:
            answer = stream.get_final_message()
        executor.run_sync([b for b in answer.content if b.type == "tool_use"])

    try:
        support()
        spans = handle.finished_spans()
        anatomy = Anatomy.from_spans(spans)
    finally:
        executor.close()
        client.close()
        handle.shutdown(timeout_s=2.0)
    [chat] = [s for s in spans if s.name == f"chat {MODEL}"]
    ready = [e for e in chat.events if e.name == names.EVENT_TOOL_USE_READY]
    assert [e.attributes[names.GEN_AI_TOOL_NAME] for e in ready] == ["get_user_profile", "get_transaction_history"]
    assert ready[0].timestamp < ready[1].timestamp <= chat.end_time
    [advice] = [s for s in anatomy.what_if() if s.kind == "stream_tools"]
    assert advice.title == "Start the tools of LLM call 1 as their blocks complete" and advice.evidence == "proven"
    # the profile's 400 ms (the longer) would start when its block ended, not at the message's end
    [batch] = anatomy.trace.batches
    profile = next(t for t in batch.tools if t.name == "get_user_profile")
    early_end = max(ready[0].timestamp + profile.duration_ns, chat.end_time)
    assert advice.saving_ns == pytest.approx(batch.end_ns - early_end, abs=2 * MS)
    assert advice.saving_ns >= 40 * MS, "the second block took its tokens' time to stream"
    assert not anatomy.to_dict()["traces"][0].get("failures"), "the tools ran"


@pytest.mark.parametrize("early", [True, False], ids=["started early", "after the answer"])
def test_run_agents_early_tools_are_one_batch_a_turn_and_need_no_advice(sim: SimServer, early: bool) -> None:
    """``run_agent`` starts a turn's reads as their blocks complete: the anatomy reads each turn's tools as one
    batch, though they started apart while the call streamed, and advises neither an early start for them nor
    running them together. Without it, the advice names each turn's own batch (not the next turn's)."""

    @aa.tool
    async def get_user_profile(user_id: str) -> str:
        """A slow lookup."""
        await asyncio.sleep(0.2)
        return f"profile of {user_id}"

    @aa.tool
    async def get_transaction_history(user_id: str) -> str:
        """A slow lookup."""
        await asyncio.sleep(0.2)
        return "none"

    @aa.tool
    async def get_product_catalog(category: str = "plans") -> str:
        """A quick lookup."""
        return "pro, team"

    handle = aa.configure(exporter="memory", metrics=False)

    async def run() -> None:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
            await aa.run_agent(
                client,
                messages=[{"role": "user", "content": "Why was I charged twice?"}],
                model=MODEL,
                tools=[get_user_profile, get_transaction_history, get_product_catalog],
                start_tools_early=early,
                extra_headers={"x-sim-ttft-ms": "50", "x-sim-generation-ms": "600"},
            )

    try:
        asyncio.run(run())
        anatomy = Anatomy.from_spans(handle.finished_spans())
    finally:
        handle.shutdown(timeout_s=2.0)
    batches = anatomy.trace.batches
    assert [sorted(t.name for t in b.tools) for b in batches] == [
        ["get_transaction_history", "get_user_profile"],
        ["get_product_catalog", "get_transaction_history"],
    ]
    advice = [s for s in anatomy.what_if() if s.kind == "stream_tools"]
    parallelise = [s for s in anatomy.what_if() if s.kind == "parallelise"]
    # On a loaded machine a task may start a millisecond or more after it could, which the anatomy sees (and
    # names, from 1 ms on); a batch run one after another would save a whole 200 ms lookup.
    lag = 50 * MS
    assert all(s.saving_ns < lag for s in parallelise), "each tool started when it could: as its block completed"
    if early:
        assert all(s.saving_ns < lag for s in advice), "the tools started as their blocks completed"
        return
    assert advice and all(s.title.startswith("Start the tools of LLM call") for s in advice)
    for suggestion in advice:
        call = int(suggestion.title.split("LLM call ")[1].split(" ")[0])
        assert f"tool batch {call} started only after the end" in suggestion.explanation


def _agent_loop(inputs: tuple[int, ...], ttfts: tuple[float, ...], cache_read: int = 0) -> TraceTree:
    """An agent loop of streamed calls whose prompt grows each turn (the conversation resent)."""
    root = span("invoke_agent loop", 0, 1000 * len(inputs))
    calls = [
        llm(
            MODEL,
            1000 * i,
            1000 * i + 900,
            root,
            ttft=ttft,
            tokens=100,
            gen_ai__usage__input_tokens=size,
            gen_ai__usage__cache_read__input_tokens=cache_read,
        )
        for i, (size, ttft) in enumerate(zip(inputs, ttfts, strict=True))
    ]
    return TraceTree(TRACE, [root, *calls])


def test_a_prompt_read_again_uncached_is_advised_to_be_cached_at_the_measured_rate() -> None:
    """Three turns whose first token comes 0.05 ms later per uncached input token: the second and third
    turns re-read the turn before's prompt and answer, and a cache read of it would bring their first token
    that much sooner."""
    anatomy = Anatomy([_agent_loop((2000, 4000, 6000), (400, 500, 600))])
    advice = {s.title: s for s in anatomy.what_if() if s.kind == "cache_prompt"}
    assert set(advice) == {"Cache the prompt of LLM call 2", "Cache the prompt of LLM call 3"}
    second, third = advice["Cache the prompt of LLM call 2"], advice["Cache the prompt of LLM call 3"]
    assert second.saving_ns == pytest.approx(2100 * 0.05 * MS, rel=1e-6)  # call 1's 2,000 + 100 tokens
    assert third.saving_ns == pytest.approx(4100 * 0.05 * MS, rel=1e-6)
    assert (second.evidence, second.basis) == ("proven", "3 streamed calls in this trace")
    assert "50 ms later per 1,000 uncached input tokens" in second.explanation


@pytest.mark.parametrize(
    ("inputs", "cache_read", "why"),
    [
        ((2000, 4000, 6000), 1500, "already read from the cache"),
        ((300, 500, 700), 0, "too short to cache, and too alike to measure a rate"),
        ((3000, 3100, 3200), 0, "sizes too alike: no rate measured"),
    ],
)
def test_no_prompt_caching_advice_without_the_facts(inputs: tuple[int, ...], cache_read: int, why: str) -> None:
    anatomy = Anatomy([_agent_loop(inputs, (400, 500, 600), cache_read=cache_read)])
    assert not [s for s in anatomy.what_if() if s.kind == "cache_prompt"], why


def test_a_speeds_file_carries_the_measured_rate(tmp_path: Path) -> None:
    measured = Anatomy([_agent_loop((2000, 4000, 6000), (400, 500, 600))])
    path = tmp_path / "speeds.json"
    path.write_text(json.dumps(speeds_document(measured.speeds)))
    [speed] = read_speeds(path).values()
    assert speed.prefill_ns_per_token == pytest.approx(50_000, rel=1e-3)
    # an unstreamed loop of the same model elsewhere: the rate comes from the file, graded measured
    root = span("invoke_agent loop", 0, 3000)
    calls = [
        llm(
            MODEL,
            1000 * i,
            1000 * i + 900,
            root,
            ttft=None,
            tokens=100,
            gen_ai__usage__input_tokens=size,
            gen_ai__usage__cache_read__input_tokens=0,
        )
        for i, size in enumerate((2000, 4000))
    ]
    judged = Anatomy([TraceTree(TRACE, [root, *calls])], speeds=read_speeds(path))
    [advice] = [s for s in judged.what_if() if s.kind == "cache_prompt"]
    assert advice.evidence == "measured" and advice.basis == "speeds file speeds.json (3 calls)"


def test_a_prometheus_that_is_not_there_or_a_bad_window_is_named() -> None:
    from agent_anatomy.anatomy.speeds import speeds_from
    from agent_anatomy.errors import ConfigurationError

    with pytest.raises(SourceError, match=r"cannot reach Prometheus at http://127\.0\.0\.1:9"):
        speeds_from("prometheus+http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="window='soon' is not like 30m, 1h or 7d"):
        speeds_from("prometheus+http://127.0.0.1:9?window=soon")


@pytest.mark.parametrize("scheduler", [None, "claude_code"], ids=["the user's code", "the Claude Code CLI"])
def test_tools_a_runtime_schedules_are_not_the_users_to_parallelise(scheduler: str | None) -> None:
    """Two tools answering one turn, run one after another (400 + 300 ms): advice when the user's code ran them,
    none when the Claude Code CLI did (``anatomy.tool.scheduled_by``), and the reason says so."""
    extra = {"anatomy__tool__scheduled_by": scheduler} if scheduler else {}
    root = span("invoke_agent a", 0, 2500)
    first = llm(MODEL, 0, 800, root, ttft=300, tokens=40)
    tools = [
        span("execute_tool Read", 810, 1210, root, **extra),
        span("execute_tool Bash", 1215, 1515, root, **extra),
    ]
    last = llm(MODEL, 1520, 2490, root, ttft=300, tokens=60)
    [report] = Anatomy([TraceTree(TRACE, [root, first, *tools, last])]).report().traces
    parallelise = [s for s in report.suggestions if s.kind == "parallelise"]
    if scheduler is None:
        assert parallelise and "Read, Bash" in parallelise[0].title
    else:
        assert not parallelise
        assert Anatomy([TraceTree(TRACE, [root, first, *tools, last])]).trace.batches[0].tools[0].scheduled_by


def test_each_suggestion_names_its_lever_and_a_reference_route_a_model_id() -> None:
    """A route to a reference line (``Claude Haiku``) names a model the router can call: the line's newest."""
    report = _run_agent(stream=False).trace_reports()[0]
    assert report.suggestions and all(isinstance(s.lever, str) and s.lever for s in report.suggestions)
    [route] = [s for s in report.suggestions if s.kind == "route" and s.evidence == "reference"][:1]
    assert "Claude Haiku" in route.title
    newest = catalogue.newest_of("haiku")
    assert newest in catalogue.MODELS and route.lever.startswith(f"ModelRouter(routes={{'<step>': '{newest}'}}")
