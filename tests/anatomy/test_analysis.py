"""Phases, critical path, batches and what-ifs: the seed anatomy as a golden trace, and random trees."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_anatomy.anatomy import Anatomy, SpanRecord, TraceTree
from agent_anatomy.anatomy.agents import find_agent
from agent_anatomy.anatomy.analysis import analyse_trace
from agent_anatomy.anatomy.calls import llm_calls
from agent_anatomy.anatomy.critical_path import critical_path
from agent_anatomy.anatomy.phases import PHASES
from agent_anatomy.anatomy.timeline import phases as phases_of
from tests.anatomy._build import T0, TRACE, llm, ms, seed_trace, span

MS = 1_000_000


def phases(tree: TraceTree) -> dict[str, int]:
    """The phases of a tree, its agent and LLM calls found as the analysis finds them."""
    return phases_of(tree, find_agent(tree), llm_calls(tree)[0])


def test_seed_phases_add_up_to_the_wall_time() -> None:
    tree = seed_trace()
    result = phases(tree)
    assert tree.wall_ns == 5710 * MS
    assert sum(result.values()) == tree.wall_ns
    assert result == {
        "llm_time_to_first_token": (500 + 400 + 300) * MS,
        "llm_thinking": 0,
        "llm_generation": (1000 + 800 + 600) * MS,
        "llm_first_token_unknown": 0,
        "permission": 0,
        "tool": (1400 + 700) * MS,
        "retrieval": 0,
        "cache": 0,
        "routing": 0,
        "agent": 10 * MS,
        "outside_agent": 0,
        "gap": 0,
    }


def test_seed_critical_path() -> None:
    path = critical_path(seed_trace())
    names = [(s.name, (s.start_ns - T0) // MS, (s.end_ns - T0) // MS) for s in path]
    assert names == [
        ("invoke_agent support", 0, 10),
        ("chat claude-sonnet-4-6", 10, 1510),
        ("execute_tool get_user_profile", 1510, 2310),
        ("execute_tool get_transaction_history", 2310, 2910),
        ("chat claude-sonnet-4-6", 2910, 4110),
        ("execute_tool get_transaction_history", 4110, 4810),
        ("chat claude-sonnet-4-6", 4810, 5710),
    ]
    assert "get_product_catalog" not in str(names), "the shorter parallel tool is off the path"


def test_a_tool_started_while_its_call_still_streamed_keeps_the_call_on_the_path() -> None:
    """The Claude Code CLI runs a tool once its ``tool_use`` block is complete, before the message ends: the
    call is on the path up to the tool's start. Two LLM calls racing (a hedge) stay as they were."""
    root = span("invoke_agent claude-code", 0, 1000)
    call = llm("claude-opus-4-6", 10, 520, root, ttft=300)
    tool = span("execute_tool Read", 480, 700, root)
    answer = llm("claude-opus-4-6", 700, 990, root, ttft=200)
    path = critical_path(TraceTree(TRACE, [root, call, tool, answer]))
    names = [(s.name, (s.start_ns - T0) // MS, (s.end_ns - T0) // MS) for s in path]
    assert names == [
        ("invoke_agent claude-code", 0, 10),
        ("chat claude-opus-4-6", 10, 480),
        ("execute_tool Read", 480, 700),
        ("chat claude-opus-4-6", 700, 990),
        ("invoke_agent claude-code", 990, 1000),
    ]
    route = span("route", 0, 600)
    primary, hedge = llm("claude-opus-4-6", 0, 590, route, ttft=400), llm("claude-haiku-4-5", 100, 600, route, ttft=50)
    raced = [s.name for s in critical_path(TraceTree(TRACE, [route, primary, hedge]))]
    assert raced == ["route", "chat claude-haiku-4-5"], "the call that lost the race is beside the path"


def test_a_routed_call_whose_tools_started_while_it_streamed_stays_on_the_path() -> None:
    """``run_agent`` with a router: the call is inside its ``route`` span, and the tool batch it started while
    streaming begins before the route ends; the route and its call are on the path up to the batch's start."""
    root = span("invoke_agent support", 0, 1000)
    route = span("route tool_decision", 0, 300, root)
    call = llm("claude-haiku-4-5", 1, 299, route, ttft=250)
    batch = span("tool_batch", 280, 900, root)
    tool = span("execute_tool get_user_profile", 280, 900, batch)
    answer = llm("claude-haiku-4-5", 900, 1000, root, ttft=50)
    path = critical_path(TraceTree(TRACE, [root, route, call, batch, tool, answer]))
    names = [(s.name, (s.start_ns - T0) // MS, (s.end_ns - T0) // MS) for s in path]
    assert names == [
        ("route tool_decision", 0, 1),
        ("chat claude-haiku-4-5", 1, 280),
        ("execute_tool get_user_profile", 280, 900),
        ("chat claude-haiku-4-5", 900, 1000),
    ]


def test_seed_batches_and_the_true_what_if() -> None:
    anatomy = Anatomy([seed_trace()])
    first, second = anatomy.trace.batches
    assert (first.mode, first.sum_ns, first.max_ns) == ("sequential", 1400 * MS, 800 * MS)
    assert (second.mode, second.wall_ns, second.max_ns) == ("parallel", 700 * MS, 700 * MS)
    suggestion, *others = anatomy.what_if()
    assert (suggestion.kind, suggestion.evidence) == ("parallelise", "proven")
    assert suggestion.saving_ns == 600 * MS
    assert anatomy.trace.wall_ns - suggestion.saving_ns == 5110 * MS, "not the article's 4,310 ms"
    # Only Sonnet was seen: Haiku's speed comes from the reference table, and the grade says so.
    assert others and all(
        (s.kind, s.evidence, s.title.endswith("Claude Haiku")) == ("route", "reference", True) for s in others
    )


def test_seed_text_has_the_articles_shape() -> None:
    text = Anatomy([seed_trace()]).render(color=False, width=200)
    for line in (
        "↓ [LLM call 1 · claude-sonnet-4-6: 1,500 ms]",
        "[TTFT: 500 ms → streaming starts]",
        "↓ [Tool calls (sequential): 800 ms + 600 ms = 1,400 ms]",
        "↓ [LLM call 2 · claude-sonnet-4-6: 1,200 ms]",
        "[TTFT: 400 ms → streaming starts]",
        "↓ [Tool calls (parallel): max(500 ms, 700 ms) = 700 ms]",
        "↓ [LLM call 3 · claude-sonnet-4-6: 900 ms]",
        "Total: 5,710 ms",
        "1. Parallelise tool batch 1 (get_user_profile, get_transaction_history): saves 600 ms → 5,110 ms",
    ):
        assert line in text, line
    assert "\033[" not in text


def _three_unstreamed_calls(tokens: int = 20) -> TraceTree:
    root = span("invoke_agent a", 0, 4000)
    return TraceTree(
        TRACE,
        [
            root,
            llm("big-model", 0, 1000, root, ttft=None, tokens=tokens),
            span("execute_tool lookup", 1000, 1500, root, anatomy__tool__input_hash="same"),
            llm("big-model", 1500, 2500, root, ttft=None, tokens=tokens),
            span("execute_tool lookup", 2500, 3000, root, anatomy__tool__input_hash="same"),
            llm("big-model", 3000, 4000, root, ttft=None, tokens=tokens),
        ],
    )


def _reference(*models: tuple[str, float, float, int]) -> TraceTree:
    root = span("invoke_agent ref", 0, 10_000, trace="f" * 32)
    calls = [
        llm(model, start, end, root, ttft=ttft, tokens=tokens, trace="f" * 32)
        for model, (start, end), ttft, tokens in (
            (m, (i * 2000, i * 2000 + duration), ttft, tokens) for i, (m, duration, ttft, tokens) in enumerate(models)
        )
    ]
    return TraceTree("f" * 32, [root, *calls])


def test_route_and_cache_suggestions() -> None:
    reference = _reference(("small-model", 300, 200, 100), ("big-model", 700, 400, 60))
    anatomy = Anatomy([_three_unstreamed_calls()], [reference])
    suggestions = anatomy.what_if()
    assert sorted(s.kind for s in suggestions) == ["cache", "route", "route", "route", "stream"]
    cache = next(s for s in suggestions if s.kind == "cache")
    assert cache.saving_ns == 500 * MS and cache.title == "Cache lookup"
    # small-model: first token 200 ms, 100 tokens in 100 ms = 1,000 tokens/s, so 20 tokens in 220 ms
    assert all(s.saving_ns == (1000 - 220) * MS for s in suggestions if s.kind == "route")
    # streaming the last answer is another measure (when it starts to appear): routing does not claim it
    [stream] = [s for s in suggestions if s.kind == "stream"]
    assert stream.perceived and stream.claimed


def test_a_repeat_nested_in_a_repeat_is_claimed_once() -> None:
    """A tool that calls itself with the same input: the inner call's time is inside the outer's."""
    root = span("invoke_agent a", 0, 300)
    first = span("execute_tool lookup", 0, 100, root, anatomy__tool__input_hash="h")
    outer = span("execute_tool lookup", 100, 300, root, anatomy__tool__input_hash="h")
    inner = span("execute_tool lookup", 100, 300, outer, anatomy__tool__input_hash="h")
    cache = next(s for s in Anatomy([TraceTree(TRACE, [root, first, outer, inner])]).what_if() if s.kind == "cache")
    assert cache.saving_ns == 200 * MS
    assert cache.claimed == ((ms(100), ms(300)),)


def test_stream_suggestion_is_perceived_latency() -> None:
    anatomy = Anatomy([_three_unstreamed_calls(tokens=120)], [_reference(("big-model", 700, 400, 60))])
    stream = next(s for s in anatomy.what_if() if s.kind == "stream")
    # big-model streamed 60 tokens in the 300 ms after its first token elsewhere in the input: 200 tokens/s,
    # so the last call's 120 tokens took 600 ms of its 1,000, and its first token came after about 400.
    assert stream.perceived and stream.saving_ns == 600 * MS
    assert (stream.evidence, stream.basis) == ("measured", "1 streamed call in this input")
    assert stream.title == "Stream the final answer (LLM call 3)"
    assert [c.estimated_ttft_ns for c in anatomy.trace.llm_calls] == [400 * MS] * 3
    assert anatomy.trace.phases["llm_generation"] == 1800 * MS, "unstreamed calls split by the estimate"
    assert sum(anatomy.trace.phases.values()) == anatomy.trace.wall_ns
    text = anatomy.render(color=False, width=200)
    assert "Stream the final answer (LLM call 3): the answer starts to appear 600 ms sooner  [measured]" in text
    assert "its first token came after about 400 ms (estimated)" in text
    assert "first token came is estimated from the output tokens: LLM calls 1, 2, 3 at 200 tokens/s" in text
    document = anatomy.to_dict()["traces"][0]
    entry = next(s for s in document["suggestions"] if s["kind"] == "stream")
    assert entry["total_after_ms"] == document["wall_ms"], "streaming does not shorten the total"


def test_orphans_skew_and_duplicates() -> None:
    root = span("invoke_agent a", 0, 1000)
    child = span("execute_tool late", 900, 1300, root)  # ends after its parent: clock skew
    early = span("execute_tool early", -100, 100, root)  # starts before it
    orphan = SpanRecord(TRACE, "00000000000000ff", "000000000000dead", "orphan", ms(2000), ms(2100))
    duplicate = SpanRecord(
        TRACE, child.span_id, root.span_id, child.name, child.start_ns, child.end_ns, {**child.attributes, "extra": 1}
    )
    tree = TraceTree(TRACE, [root, child, early, orphan, duplicate])
    assert len(tree) == 4 and tree.spans[child.span_id].attributes.get("extra") == 1
    assert {r.name for r in tree.roots} == {"invoke_agent a", "orphan"}
    assert tree.spans[child.span_id].clipped_end == root.end_ns
    assert tree.spans[early.span_id].clipped_start == root.start_ns
    result = phases(tree)
    assert sum(result.values()) == tree.wall_ns == 2100 * MS
    assert result["gap"] == 1000 * MS


# --- invariants on random trees -------------------------------------------------------------------------


_NAMES = ["chat m1", "chat m2", "execute_tool t", "tool_batch", "cache_lookup c", "route r", "step s", "custom"]


@st.composite
def trees(draw: st.DrawFn) -> TraceTree:
    count = draw(st.integers(min_value=1, max_value=40))
    records: list[SpanRecord] = []
    for index in range(count):
        start = draw(st.integers(min_value=0, max_value=10_000))
        length = draw(st.integers(min_value=0, max_value=3_000))
        parent = draw(st.sampled_from([None, *records])) if records else None
        name = draw(st.sampled_from(_NAMES))
        attributes = {}
        if name.startswith("chat") and draw(st.booleans()):
            attributes["gen_ai.response.time_to_first_chunk"] = draw(st.floats(min_value=0, max_value=5))
            attributes["gen_ai.usage.output_tokens"] = draw(st.integers(min_value=0, max_value=500))
        if name.startswith("execute_tool"):
            attributes["anatomy.tool.input_hash"] = draw(st.sampled_from(["x", "y"]))
        record = span(name, start, start + length, parent, **{k.replace(".", "__"): v for k, v in attributes.items()})
        if draw(st.integers(min_value=0, max_value=9)) == 0 and records:  # a parent that is not in the trace
            record.parent_id = f"{99_000 + index:016x}"
        records.append(record)
    return TraceTree(TRACE, records)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_phases_always_sum_to_the_wall_time(tree: TraceTree) -> None:
    result = phases(tree)
    assert set(result) == set(PHASES)
    assert all(value >= 0 for value in result.values())
    assert sum(result.values()) == tree.wall_ns


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_critical_path_tiles_the_trace_without_overlap(tree: TraceTree) -> None:
    path = critical_path(tree)
    if tree.wall_ns == 0:
        assert path == []
        return
    assert path[0].start_ns == tree.start_ns and path[-1].end_ns == tree.end_ns
    for before, after in itertools.pairwise(path):
        assert before.end_ns == after.start_ns
    assert all(s.end_ns > s.start_ns for s in path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(), trees())
def test_savings_are_never_negative_and_never_exceed_the_trace(tree: TraceTree, reference: TraceTree) -> None:
    analysis = Anatomy([tree], [TraceTree("e" * 32, list(reference.spans.values()))]).trace
    for perceived in (False, True):  # total time, and the time until the answer starts: each on its own
        of_measure = [s for s in analysis.suggestions if s.perceived is perceived]
        savings = [s.saving_ns for s in of_measure]
        assert all(saving > 0 for saving in savings)
        assert sum(savings) <= analysis.wall_ns
        claimed = sorted(piece for s in of_measure for piece in s.claimed)
        for (_, first_end), (second_start, _) in itertools.pairwise(claimed):
            assert first_end <= second_start, "no two suggestions of one measure claim the same milliseconds"
    Anatomy([tree]).render("text", color=False)
    Anatomy([tree]).to_dict()


def test_analysis_of_an_empty_trace_is_a_clear_error() -> None:
    import pytest

    from agent_anatomy import TraceNotFoundError

    with pytest.raises(TraceNotFoundError, match="no spans to analyse"):
        Anatomy([])
    assert analyse_trace(TraceTree(TRACE, [])).wall_ns == 0


def test_thinking_is_a_phase_of_its_own_and_the_answer_appears_after_it() -> None:
    """An LLM call that thought: TTFT, then thinking, then generating; the step says when text starts."""
    root = span("invoke_agent thinker", 0, 3000)
    call = llm("claude-sonnet-4-6", 0, 3000, root, ttft=400, anatomy__llm__thinking_time=1.6)
    tree = TraceTree(TRACE, [root, call])
    result = phases(tree)
    assert result["llm_time_to_first_token"] == 400 * MS
    assert result["llm_thinking"] == 1600 * MS
    assert result["llm_generation"] == 1000 * MS
    [analysed] = analyse_trace(tree).llm_calls
    assert analysed.first_text_ns == 2000 * MS
    assert analysed.generation_ns == 1000 * MS
    text = Anatomy([tree]).render(color=False, width=200)
    assert "TTFT: 400 ms → thinking 1,600 ms → the answer starts" in text
    assert "LLM, thinking" in text


def test_a_parallelise_what_if_names_the_time_between_sequential_tools() -> None:
    """The saving is the batch's wall time less its slowest tool: the time between the tools goes too, and the
    text says so, or 100 ms + 250 ms would seem to save only 100 ms."""
    root = span("invoke_agent support", 0, 700)
    spans = [
        root,
        llm("claude-sonnet-4-6", 0, 100, root, ttft=50),
        span("execute_tool lookup", 100, 200, root),
        span("execute_tool history", 240, 490, root),
        llm("claude-sonnet-4-6", 490, 700, root, ttft=50),
    ]
    [suggestion] = [s for s in Anatomy([TraceTree(TRACE, spans)]).what_if() if s.kind == "parallelise"]
    assert suggestion.saving_ns == 140 * MS
    assert "(100 ms + 250 ms, 40 ms between them)" in suggestion.explanation
