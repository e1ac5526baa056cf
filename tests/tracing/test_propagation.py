"""Spans made in tasks, executors and threads are parented to the span current where work was submitted."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import agent_anatomy as aa
from tests.conftest import Traced


@aa.tool
def sync_lookup(key: str) -> str:
    return key


@aa.tool
async def async_lookup(key: str) -> str:
    await asyncio.sleep(0.01)
    return key


def _assert_children_of(traced: Traced, parent_name: str, child_name: str, count: int) -> None:
    parent = traced.span(parent_name)
    children = [s for s in traced.spans() if s.name == child_name]
    assert len(children) == count
    for child in children:
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
        assert child.context.trace_id == parent.context.trace_id


async def test_gather(traced: Traced) -> None:
    @aa.agent
    async def run() -> list[str]:
        return list(await asyncio.gather(*(async_lookup(k) for k in "abc")))

    assert await run() == ["a", "b", "c"]
    _assert_children_of(traced, "invoke_agent run", "execute_tool async_lookup", 3)


async def test_create_task(traced: Traced) -> None:
    @aa.agent
    async def run() -> list[str]:
        tasks = [asyncio.create_task(async_lookup(k)) for k in "ab"]
        return [await t for t in tasks]

    assert await run() == ["a", "b"]
    _assert_children_of(traced, "invoke_agent run", "execute_tool async_lookup", 2)


async def test_to_thread(traced: Traced) -> None:
    @aa.agent
    async def run() -> str:
        return await asyncio.to_thread(sync_lookup, "x")

    assert await run() == "x"
    _assert_children_of(traced, "invoke_agent run", "execute_tool sync_lookup", 1)


async def test_run_in_executor_with_bind_context(traced: Traced) -> None:
    @aa.agent
    async def run() -> list[str]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [loop.run_in_executor(pool, aa.bind_context(sync_lookup), k) for k in "ab"]
            return list(await asyncio.gather(*futures))

    assert await run() == ["a", "b"]
    _assert_children_of(traced, "invoke_agent run", "execute_tool sync_lookup", 2)


def test_context_thread_pool_executor_submit_and_map(traced: Traced) -> None:
    @aa.agent
    def run() -> list[str]:
        with aa.ContextThreadPoolExecutor(max_workers=2) as pool:
            submitted = pool.submit(sync_lookup, "a").result()
            mapped = list(pool.map(sync_lookup, "bc"))
        return [submitted, *mapped]

    assert run() == ["a", "b", "c"]
    _assert_children_of(traced, "invoke_agent run", "execute_tool sync_lookup", 3)


def test_a_plain_thread_pool_and_thread_carry_the_parent_once_configured(traced: Traced) -> None:
    """As the cookbook fans out: ``ThreadPoolExecutor`` (``submit`` and ``map``) and ``threading.Thread``, unchanged."""
    results: list[str] = []

    @aa.agent
    def run() -> list[str]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            submitted = pool.submit(sync_lookup, "a").result()
            mapped = list(pool.map(sync_lookup, "bc"))
        thread = threading.Thread(target=lambda: results.append(sync_lookup("t")))
        thread.start()
        thread.join()
        return [submitted, *mapped, *results]

    assert run() == ["a", "b", "c", "t"]
    _assert_children_of(traced, "invoke_agent run", "execute_tool sync_lookup", 4)


def test_only_the_trace_context_goes_into_threads(traced: Traced) -> None:
    """The program's own context variables are not carried: what its threads see of its state is unchanged."""
    import contextvars

    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")
    marker.set("main")
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(marker.get).result() == "unset"


def test_without_the_threading_instrumentation_a_plain_pool_loses_the_parent(traced: Traced) -> None:
    """The control case: what configure() turns on (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=threading`` keeps off)."""
    from agent_anatomy.tracing.threads import ThreadingInstrumentor

    instrumentor = ThreadingInstrumentor()
    assert instrumentor.is_instrumented_by_opentelemetry, "configure() turned it on"
    instrumentor.uninstrument()
    try:

        @aa.agent
        def run() -> str:
            with ThreadPoolExecutor(max_workers=1) as pool:
                return pool.submit(sync_lookup, "a").result()

        run()
        assert traced.span("execute_tool sync_lookup").parent is None
    finally:
        instrumentor.instrument()


def test_bind_context_with_a_plain_thread(traced: Traced) -> None:
    results: list[str] = []

    @aa.agent
    def run() -> None:
        thread = threading.Thread(target=aa.bind_context(lambda: results.append(sync_lookup("t"))))
        thread.start()
        thread.join()

    run()
    assert results == ["t"]
    _assert_children_of(traced, "invoke_agent run", "execute_tool sync_lookup", 1)


def test_bind_context_calls_do_not_leak_into_each_other(traced: Traced) -> None:
    """Each call of a bound function runs in its own copy of the captured context."""
    import contextvars

    marker: contextvars.ContextVar[int] = contextvars.ContextVar("marker", default=0)

    def bump() -> int:
        marker.set(marker.get() + 1)
        return marker.get()

    bound = aa.bind_context(bump)
    assert [bound(), bound()] == [1, 1]


@pytest.mark.parametrize("workers", [1, 4])
def test_executor_keeps_each_submitters_context(traced: Traced, workers: int) -> None:
    """Two agents submitting to one shared pool each get their own children."""
    pool = aa.ContextThreadPoolExecutor(max_workers=workers)

    @aa.agent(name="first")
    def first() -> str:
        return pool.submit(sync_lookup, "1").result()

    @aa.agent(name="second")
    def second() -> str:
        return pool.submit(sync_lookup, "2").result()

    first()
    second()
    pool.shutdown()
    lookups = sorted((s for s in traced.spans() if s.name == "execute_tool sync_lookup"), key=lambda s: s.start_time)
    assert [s.parent.span_id for s in lookups] == [
        traced.span("invoke_agent first").context.span_id,
        traced.span("invoke_agent second").context.span_id,
    ]
