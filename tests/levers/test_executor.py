"""ParallelExecutor: concurrency, side-effect ordering, limits, every bad input as an error result, spans."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.levers.executor import input_hash
from tests.conftest import Traced


@aa.tool
async def lookup_a(key: str) -> str:
    """Slow read A."""
    await asyncio.sleep(0.3)
    return f"a:{key}"


@aa.tool
def lookup_b(key: str) -> dict[str, str]:
    time.sleep(0.5)
    return {"b": key}


async def lookup_c(key: str, limit: int = 3) -> list[str]:
    await asyncio.sleep(0.2)
    return [key] * limit


TOOLS = {"lookup_a": lookup_a, "lookup_b": lookup_b, "lookup_c": lookup_c}
CALLS = [
    {"id": "t1", "name": "lookup_a", "input": {"key": "x"}},
    {"id": "t2", "name": "lookup_b", "input": {"key": "y"}},
    {"id": "t3", "name": "lookup_c", "input": {"key": "z", "limit": 2}},
]


async def test_parallel_is_the_slowest_tool_not_the_sum(traced: Traced) -> None:
    executor = aa.ParallelExecutor(TOOLS)
    started = time.perf_counter()
    results = await executor.run(CALLS)
    elapsed = time.perf_counter() - started
    # The slowest tool is 500 ms and the sum 1,000 ms: parallel ends near the first, well short of the second.
    assert 0.5 <= elapsed < 0.9, f"3 tools of 300/500/200 ms took {elapsed:.3f} s in parallel"
    assert results == [
        {"type": "tool_result", "tool_use_id": "t1", "content": "a:x", "is_error": False},
        {"type": "tool_result", "tool_use_id": "t2", "content": '{"b": "y"}', "is_error": False},
        {"type": "tool_result", "tool_use_id": "t3", "content": '["z", "z"]', "is_error": False},
    ]
    batch = traced.span("tool_batch")
    assert batch.attributes[semconv.ANATOMY_BATCH_MODE] == "parallel"
    assert batch.attributes[semconv.ANATOMY_BATCH_TOOL_COUNT] == 3
    assert batch.attributes[semconv.ANATOMY_BATCH_SUM_TIME] >= 0.99
    assert 0.5 <= batch.attributes[semconv.ANATOMY_BATCH_WALL_TIME] <= elapsed
    assert batch.attributes[semconv.ANATOMY_BATCH_SAVED_TIME] == pytest.approx(
        batch.attributes[semconv.ANATOMY_BATCH_SUM_TIME] - batch.attributes[semconv.ANATOMY_BATCH_WALL_TIME]
    )


async def test_sequential_mode_is_the_sum(traced: Traced) -> None:
    executor = aa.ParallelExecutor(TOOLS, mode="sequential")
    started = time.perf_counter()
    await executor.run(CALLS)
    assert time.perf_counter() - started >= 1.0
    batch = traced.span("tool_batch")
    assert batch.attributes[semconv.ANATOMY_BATCH_MODE] == "sequential"
    assert batch.attributes[semconv.ANATOMY_BATCH_SAVED_TIME] == 0.0


async def test_tool_spans_are_children_with_call_ids_and_input_hashes(traced: Traced) -> None:
    executor = aa.ParallelExecutor(TOOLS)

    @aa.agent
    async def run() -> None:
        await executor.run(CALLS)

    await run()
    batch = traced.span("tool_batch")
    assert batch.parent.span_id == traced.span("invoke_agent run").context.span_id
    spans = {s.attributes[semconv.GEN_AI_TOOL_CALL_ID]: s for s in traced.spans() if s.name.startswith("execute_tool")}
    assert set(spans) == {"t1", "t2", "t3"}, "one span per call: the @tool span is not doubled"
    for span in spans.values():
        assert span.parent.span_id == batch.context.span_id
    assert spans["t1"].name == "execute_tool lookup_a"
    assert spans["t1"].attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "Slow read A."
    assert spans["t3"].attributes[semconv.ANATOMY_TOOL_INPUT_HASH] == input_hash({"limit": 2, "key": "z"})
    assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in spans["t1"].attributes


async def test_sync_tools_see_the_tool_span_as_current(traced: Traced) -> None:
    seen: list[trace.Span] = []

    def probe() -> str:
        seen.append(trace.get_current_span())
        return "ok"

    await aa.ParallelExecutor({"probe": probe}).run([{"id": "p", "name": "probe", "input": {}}])
    assert seen[0].get_span_context().span_id == traced.span("execute_tool probe").context.span_id


async def test_content_captured_when_on(traced_with_content: Traced) -> None:
    await aa.ParallelExecutor(TOOLS).run(CALLS[:1])
    span = traced_with_content.span("execute_tool lookup_a")
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"key": "x"}'
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == "a:x"


async def test_accepts_anthropic_tool_use_blocks(traced: Traced) -> None:
    from anthropic.types import ToolUseBlock

    block = ToolUseBlock(id="toolu_1", name="lookup_c", input={"key": "q"}, type="tool_use")
    [result] = await aa.ParallelExecutor(TOOLS).run([block])
    assert result == {"type": "tool_result", "tool_use_id": "toolu_1", "content": '["q", "q", "q"]', "is_error": False}


# --- side effects ---------------------------------------------------------------------------------------


def _recording_tools(log: list[tuple[str, float, float]]) -> list[Any]:
    def make(name: str, seconds: float, side_effects: bool) -> Any:
        async def run(n: int) -> str:
            started = time.perf_counter()
            await asyncio.sleep(seconds)
            log.append((f"{name}{n}", started, time.perf_counter()))
            return name

        run.__name__ = name
        return aa.tool(name=name, side_effects=side_effects)(run)

    return [make("read", 0.15, False), make("write", 0.1, True)]


def _overlap(a: tuple[str, float, float], b: tuple[str, float, float]) -> bool:
    return a[1] < b[2] and b[1] < a[2]


async def test_side_effect_tools_never_overlap_and_keep_their_order(traced: Traced) -> None:
    log: list[tuple[str, float, float]] = []
    executor = aa.ParallelExecutor(_recording_tools(log))
    calls = [
        {"id": f"c{i}", "name": name, "input": {"n": i}}
        for i, name in enumerate(["read", "write", "read", "write", "write", "read", "read"])
    ]
    results = await executor.run(calls)
    assert [r["content"] for r in results] == ["read", "write", "read", "write", "write", "read", "read"]
    spans = {entry[0]: entry for entry in log}
    writes = sorted((e for e in log if e[0].startswith("write")), key=lambda e: e[1])
    assert [w[0] for w in writes] == ["write1", "write3", "write4"], "writes run in call order"
    for write in writes:
        for other in log:
            if other is not write:
                assert not _overlap(write, other), f"{write[0]} overlapped {other[0]}"
    assert _overlap(spans["read5"], spans["read6"]), "reads between writes still run together"


async def test_reads_may_overlap_writes_when_allowed(traced: Traced) -> None:
    log: list[tuple[str, float, float]] = []
    executor = aa.ParallelExecutor(_recording_tools(log), reads_overlap_writes=True)
    await executor.run(
        [
            {"id": "1", "name": "write", "input": {"n": 1}},
            {"id": "2", "name": "read", "input": {"n": 2}},
            {"id": "3", "name": "write", "input": {"n": 3}},
        ]
    )
    by_name = {e[0]: e for e in log}
    assert _overlap(by_name["write1"], by_name["read2"])
    assert not _overlap(by_name["write1"], by_name["write3"]) and by_name["write1"][2] <= by_name["write3"][1]


# --- limits ---------------------------------------------------------------------------------------------------


async def test_max_concurrency(traced: Traced) -> None:
    running, peak = 0, 0
    lock = threading.Lock()

    async def busy(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        await asyncio.sleep(0.05)
        with lock:
            running -= 1
        return n

    executor = aa.ParallelExecutor({"busy": busy}, max_concurrency=2)
    results = await executor.run([{"id": str(i), "name": "busy", "input": {"n": i}} for i in range(6)])
    assert [r["content"] for r in results] == ["0", "1", "2", "3", "4", "5"]
    assert peak == 2


async def test_tool_timeout_and_batch_timeout(traced: Traced) -> None:
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    async def quick() -> str:
        return "quick"

    tools = {"slow": slow, "quick": quick}
    started = time.perf_counter()
    results = await aa.ParallelExecutor(tools, tool_timeout_s=0.2).run(
        [{"id": "s", "name": "slow", "input": {}}, {"id": "q", "name": "quick", "input": {}}]
    )
    assert time.perf_counter() - started < 2.5, "the 0.2 s timeout ends the batch, long before the 5 s tool would"
    assert results[0] == {
        "type": "tool_result",
        "tool_use_id": "s",
        "is_error": True,
        "content": "Tool 'slow' timed out after 0.2 s",
    }
    assert results[1]["content"] == "quick" and not results[1]["is_error"]
    results = await aa.ParallelExecutor(tools, batch_timeout_s=0.2, mode="sequential").run(
        [
            {"id": "q", "name": "quick", "input": {}},
            {"id": "s", "name": "slow", "input": {}},
            {"id": "q2", "name": "quick", "input": {}},
        ]
    )
    assert results[0]["content"] == "quick"
    assert results[1]["is_error"] and "the batch timed out after 0.2 s" in results[1]["content"]
    assert results[2]["is_error"]
    timed_out = [s for s in traced.spans() if s.name == "execute_tool slow"]
    assert timed_out[0].attributes[semconv.ERROR_TYPE] == "timeout"
    assert all(s.end_time for s in traced.spans())


# --- bad input never raises ------------------------------------------------------------------------------------


class Opaque:
    pass


@pytest.mark.parametrize(
    ("call", "message", "error_type"),
    [
        (
            {"id": "1", "name": "ghost", "input": {}},
            "Unknown tool 'ghost'. Available tools: boom, echo, loop, opaque.",
            "unknown_tool",
        ),
        (
            {"id": "2", "name": "echo", "input": {"text": "a", "extra": 1}},
            "Invalid input for tool 'echo': the input does not fit the tool's parameters: got an unexpected "
            "keyword argument 'extra'",
            "invalid_input",
        ),
        (
            {"id": "3", "name": "echo", "input": {}},
            "Invalid input for tool 'echo': the input does not fit the tool's parameters: missing a required "
            "argument: 'text'",
            "invalid_input",
        ),
        (
            {"id": "4", "name": "echo", "input": '{"text": '},
            "Invalid input for tool 'echo': the input is not valid JSON (Expecting value at position 9)",
            "invalid_input",
        ),
        (
            {"id": "5", "name": "echo", "input": [1, 2]},
            "Invalid input for tool 'echo': the input must be a JSON object, got list",
            "invalid_input",
        ),
        (
            {"id": "6", "name": "boom", "input": {}},
            "Tool 'boom' failed: ValueError: the database is down",
            "ValueError",
        ),
        (
            {"id": "7", "name": "opaque", "input": {}},
            "Tool 'opaque' returned a value that cannot be serialised as JSON: Opaque is not JSON serialisable",
            "result_not_serialisable",
        ),
        (
            {"id": "8", "name": "loop", "input": {}},
            "Tool 'loop' returned a value that cannot be serialised as JSON: Circular reference detected",
            "result_not_serialisable",
        ),
    ],
)
async def test_bad_inputs_become_error_results(traced: Traced, call: dict, message: str, error_type: str) -> None:
    def echo(text: str) -> str:
        return text

    def boom() -> None:
        raise ValueError("the database is down")

    def opaque() -> Opaque:
        return Opaque()

    def loop() -> dict[str, object]:
        looped: dict[str, object] = {}
        looped["self"] = looped
        return looped

    executor = aa.ParallelExecutor({"echo": echo, "boom": boom, "opaque": opaque, "loop": loop})
    results = await executor.run([call, {"id": "ok", "name": "echo", "input": {"text": "fine"}}])
    assert results[0] == {"type": "tool_result", "tool_use_id": call["id"], "content": message, "is_error": True}
    assert results[1]["content"] == "fine" and not results[1]["is_error"], "other tools still complete"
    [failed] = [s for s in traced.spans() if s.attributes.get(semconv.GEN_AI_TOOL_CALL_ID) == call["id"]]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[semconv.ERROR_TYPE] == error_type
    assert traced.span("tool_batch").attributes[semconv.ANATOMY_BATCH_ERROR_COUNT] == 1


async def test_json_string_input_is_parsed(traced: Traced) -> None:
    def echo(text: str) -> str:
        return text

    [result] = await aa.ParallelExecutor({"echo": echo}).run([{"id": "1", "name": "echo", "input": '{"text": "hi"}'}])
    assert result["content"] == "hi"


def test_run_sync_and_its_misuse(traced: Traced) -> None:
    executor = aa.ParallelExecutor(TOOLS)
    results = executor.run_sync(CALLS[2:])
    assert results[0]["content"] == '["z", "z"]'

    async def inside_a_loop() -> None:
        executor.run_sync(CALLS[2:])

    with pytest.raises(RuntimeError, match=r"use 'await executor\.run"):
        asyncio.run(inside_a_loop())


async def test_cancelling_run_cancels_the_tools_and_ends_their_spans(traced: Traced) -> None:
    async def slow() -> str:
        await asyncio.sleep(5)
        return "never"

    task = asyncio.create_task(aa.ParallelExecutor({"slow": slow}).run([{"id": "1", "name": "slow", "input": {}}]))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(s.end_time for s in traced.spans())
    assert traced.span("tool_batch").status.status_code is StatusCode.ERROR


def test_definitions_from_signatures_and_decorators() -> None:
    @aa.tool(input_schema={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
    def search(q: str) -> list[str]:
        """Search the docs."""
        return []

    def history(user_id: str, days: int = 30, tags: list[str] | None = None) -> list[str]:
        return []

    executor = aa.ParallelExecutor({"history": history, "search": search})
    assert executor.definitions() == [
        {
            "name": "history",
            "input_schema": {
                "type": "object",
                "properties": {
                    "user_id": {"type": "string"},
                    "days": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["user_id"],
            },
        },
        {
            "name": "search",
            "description": "Search the docs.",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "fast"}, "mode='fast' is not one of parallel, sequential"),
        ({"max_concurrency": 0}, "max_concurrency=0 must be at least 1"),
        ({"tool_timeout_s": -1}, "tool_timeout_s=-1 must be positive"),
    ],
)
def test_bad_configuration(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aa.ParallelExecutor(TOOLS, **kwargs)


def test_duplicate_names_and_non_callables() -> None:
    with pytest.raises(ValueError, match="two tools are named 'lookup_a'"):
        aa.ParallelExecutor([lookup_a, lookup_a])
    with pytest.raises(TypeError, match="is not callable"):
        aa.ParallelExecutor({"x": 42})  # type: ignore[dict-item]


def test_input_hash_is_equal_for_equal_inputs_and_none_for_no_canonical_form() -> None:
    assert input_hash({"a": 1, "b": [1, 2]}) == input_hash({"b": [1, 2], "a": 1})
    assert input_hash({"a": 1}) != input_hash({"a": 2})
    looped: dict[str, object] = {}
    looped["self"] = looped
    assert input_hash(looped) is None
