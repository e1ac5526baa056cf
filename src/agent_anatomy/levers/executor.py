"""``ParallelExecutor``: run a model turn's tool calls concurrently, safely, and on the record.

Reads run at the same time; a tool with side effects runs alone, in its call order, unless
``reads_overlap_writes=True`` lets reads run beside the (still one-at-a-time) writes. Nothing a tool
or the model does raises out of ``run()``: an unknown tool, input that does not fit, a tool that
raises or times out, a result that cannot be serialised: each becomes an error ``tool_result`` the
model can read, and the other tools still finish. The batch is a ``tool_batch`` span recording mode,
wall time, summed time and the time saved; each call is an ``execute_tool {name}`` span under it.

A turn's reads can also start while the model's answer still streams, each as its ``tool_use`` block
completes (``begin()``, then ``ToolBatch.offer`` and ``finish``): ``run_agent`` does so by default.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Literal

from opentelemetry.context import attach

from .. import semconv
from ..tracing import Invocation, TelemetryHandler, default_handler, fq_exception_type, tool_spec
from ._canonical import NotCanonical, canonical_json, digest, json_encoder
from ._tools import ToolInputError, ToolSpec, ToolUse, parse_call, resolve_tools, result_text

__all__ = ["ParallelExecutor", "ToolBatch", "ToolResult"]

ToolResult = dict[str, Any]
"""A ``tool_result`` content block: ``{"type": "tool_result", "tool_use_id", "content", "is_error"}``."""

Mode = Literal["parallel", "sequential"]
_MODES: Final = ("parallel", "sequential")


_hash_text: Final = json_encoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def input_hash(tool_input: object) -> str | None:
    """A short hash of a tool call's input, equal for equal inputs in any process; None if it has none."""
    try:
        text = _hash_text(tool_input)
    except (TypeError, ValueError):
        try:
            text = canonical_json(tool_input)
        except (NotCanonical, RecursionError):  # no canonical form, or one that holds itself
            return None
    return digest(text, 16)


def _is_tool_use(block: object) -> bool:
    """Whether a content block is a tool call: a message's text and thinking blocks are not (a mapping or
    object without a ``type`` is taken for one)."""
    kind = block.get("type") if isinstance(block, Mapping) else getattr(block, "type", None)
    return kind is None or kind == "tool_use"


def _result(call: ToolUse, content: str, is_error: bool) -> ToolResult:
    return {"type": "tool_result", "tool_use_id": call.id, "content": content, "is_error": is_error}


class _Failure(Exception):
    """A tool call that failed in a way the model is told about; ``kind`` goes to ``error.type``, ``cause``
    (the tool's own exception, if it raised one) to the span's exception event."""

    def __init__(self, message: str, kind: str, cause: Exception | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.cause = cause


class ParallelExecutor:
    """Runs tool calls: ``await executor.run(response.content_tool_uses)`` -> ``tool_result`` blocks.

    ``tools``: a mapping of name to callable (sync or async), or ``@tool`` functions (their names,
    descriptions and ``side_effects`` come from the decorator). ``mode="sequential"`` runs everything
    in order, for comparison. ``max_concurrency`` caps tools running at once; ``tool_timeout_s`` and
    ``batch_timeout_s`` bound one tool and the whole batch. Sync tools run in a thread pool with the
    trace context carried over (a thread cannot be stopped: a sync tool past its timeout keeps running
    in the background while its call is answered with a timeout error). ``handler``: the telemetry
    handler its spans start with (default: the process's, which follows ``configure()``).
    """

    def __init__(
        self,
        tools: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any] | ToolSpec],
        *,
        mode: Mode = "parallel",
        max_concurrency: int | None = None,
        tool_timeout_s: float | None = None,
        batch_timeout_s: float | None = None,
        reads_overlap_writes: bool = False,
        thread_pool: ThreadPoolExecutor | None = None,
        handler: TelemetryHandler | None = None,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode={mode!r} is not one of {', '.join(_MODES)}")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency={max_concurrency!r} must be at least 1")
        for name, timeout in (("tool_timeout_s", tool_timeout_s), ("batch_timeout_s", batch_timeout_s)):
            if timeout is not None and timeout <= 0:
                raise ValueError(f"{name}={timeout!r} must be positive")
        self.tools: dict[str, ToolSpec] = resolve_tools(tools)
        self.mode: Mode = mode
        self.max_concurrency = max_concurrency
        self.tool_timeout_s = tool_timeout_s
        self.batch_timeout_s = batch_timeout_s
        self.reads_overlap_writes = reads_overlap_writes
        self.handler = handler or default_handler()
        self._pool = thread_pool

    # --- what to tell the model ----------------------------------------------------------------------

    def definitions(self) -> list[dict[str, Any]]:
        """The tools as the Messages API's ``tools=`` parameter wants them."""
        return [spec.definition() for spec in self.tools.values()]

    # --- running ---------------------------------------------------------------------------------------

    async def run(self, tool_calls: Iterable[object]) -> list[ToolResult]:
        """Run one model turn's tool calls (a message's ``content``: its other blocks are left out); results in
        the calls' order. Never raises for a tool's sake."""
        return await ToolBatch(self).finish(tool_calls)

    def begin(self) -> ToolBatch:
        """A turn's batch whose reads may start while the model's answer streams: ``offer`` it each ``tool_use``
        block as the block completes, then ``await finish(...)`` with all the turn's calls."""
        return ToolBatch(self)

    def run_sync(self, tool_calls: Iterable[object]) -> list[ToolResult]:
        """``run()`` for code without an event loop (it starts one for the batch)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.run(tool_calls))
        raise RuntimeError("run_sync() was called inside a running event loop; use 'await executor.run(...)'")

    # --- scheduling ------------------------------------------------------------------------------------

    def _stages(self, calls: Sequence[ToolUse]) -> list[list[int]]:
        """Groups of call indexes that may run together, in order; writes alone (sequential: each alone)."""
        if self.mode == "sequential":
            return [[index] for index in range(len(calls))]
        stages: list[list[int]] = []
        reads: list[int] = []
        for index, call in enumerate(calls):
            spec = self.tools.get(call.name)
            if spec is not None and spec.side_effects:
                if reads:
                    stages.append(reads)
                    reads = []
                stages.append([index])
            else:
                reads.append(index)
        if reads:
            stages.append(reads)
        return stages

    def _schedule(
        self,
        calls: Sequence[ToolUse],
        results: dict[int, ToolResult],
        durations: dict[int, float],
        limit: asyncio.Semaphore | None,
        started: Mapping[int, Awaitable[None]],
    ) -> Awaitable[Any]:
        """The whole batch as one awaitable, in stages as ``_stages`` says (built here, so no coroutine of its
        own runs per batch); a call in ``started`` is already running, and its stage waits for it."""

        def one(index: int) -> Any:
            running = started.get(index)
            return running if running is not None else self._call(calls[index], index, results, durations, limit)

        run_all: Awaitable[Any]
        if self.mode == "parallel" and self.reads_overlap_writes:
            writes = [i for i, call in enumerate(calls) if (s := self.tools.get(call.name)) and s.side_effects]
            written = set(writes)
            reads = [i for i in range(len(calls)) if i not in written]

            async def write_chain() -> None:
                for index in writes:
                    await one(index)

            run_all = asyncio.gather(*(one(i) for i in reads), write_chain())
        else:
            stages = self._stages(calls)
            if len(stages) == 1:  # all reads, or one call: no coroutine over the gather
                run_all = asyncio.gather(*(one(index) for index in stages[0]))
            else:

                async def in_stages() -> None:
                    for stage in stages:
                        if len(stage) == 1:
                            await one(stage[0])
                        else:
                            await asyncio.gather(*(one(index) for index in stage))

                run_all = in_stages()
        return run_all

    @staticmethod
    async def _within_batch_timeout(
        run_all: Awaitable[Any], calls: Sequence[ToolUse], results: dict[int, ToolResult], timeout_s: float
    ) -> None:
        """Await the batch for ``timeout_s`` at most; the calls still running then are answered as timed out."""
        work = asyncio.ensure_future(run_all)
        try:
            await asyncio.wait_for(asyncio.shield(work), timeout_s)
        except TimeoutError:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            for index, call in enumerate(calls):
                if index not in results:
                    results[index] = _result(
                        call, f"Tool {call.name!r} did not finish: the batch timed out after {timeout_s:g} s", True
                    )
        except BaseException:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            raise

    # --- one call ---------------------------------------------------------------------------------------

    def _call(
        self,
        call: ToolUse,
        index: int,
        results: dict[int, ToolResult],
        durations: dict[int, float],
        limit: asyncio.Semaphore | None,
    ) -> Coroutine[Any, Any, None]:
        """One call's run, under the concurrency limit if there is one."""
        if limit is None:  # one coroutine less per call on the common path
            return self._execute(call, index, results, durations)
        return self._run_one(call, index, results, durations, limit)

    async def _run_one(
        self,
        call: ToolUse,
        index: int,
        results: dict[int, ToolResult],
        durations: dict[int, float],
        limit: asyncio.Semaphore,
    ) -> None:
        async with limit:
            await self._execute(call, index, results, durations)

    async def _execute(
        self,
        call: ToolUse,
        index: int,
        results: dict[int, ToolResult],
        durations: dict[int, float],
    ) -> None:
        spec = self.tools.get(call.name)
        span = spec.span if spec is not None else tool_spec(call.name)  # an unknown tool still gets its span
        invocation = self.handler.start_tool(
            span, raw_input=call.input, call_id=call.id, input_hash=input_hash(call.input)
        )
        started = time.perf_counter()
        try:
            # One coroutine per call, this one: the checks before and after the tool are synchronous.
            tool, arguments = self._prepare(spec, call)
            try:
                value = await self._start(tool, arguments)
            except Exception as exc:
                raise self._failure(call, exc) from None
            content = self._text(call, value)
        except _Failure as failure:
            durations[index] = time.perf_counter() - started
            results[index] = _result(call, str(failure), True)
            invocation.fail(failure.cause or failure, error_type=failure.kind)
            return
        except BaseException as exc:  # cancellation of the batch: record, then let it through
            durations[index] = time.perf_counter() - started
            invocation.fail(exc)
            raise
        durations[index] = time.perf_counter() - started
        results[index] = _result(call, content, False)
        invocation.returned(content)

    def _prepare(self, spec: ToolSpec | None, call: ToolUse) -> tuple[ToolSpec, dict[str, Any]]:
        """The tool and its keyword arguments; _Failure when the model named no tool or sent input that does
        not fit."""
        if spec is None:
            known = ", ".join(sorted(self.tools)) or "none"
            raise _Failure(f"Unknown tool {call.name!r}. Available tools: {known}.", "unknown_tool")
        try:
            return spec, spec.arguments(call.input)
        except ToolInputError as exc:
            raise _Failure(f"Invalid input for tool {call.name!r}: {exc}", "invalid_input") from None

    def _start(self, spec: ToolSpec, arguments: dict[str, Any]) -> Awaitable[Any]:
        """The tool's run: its own coroutine (under the timeout, if any), or a thread for a sync tool."""
        if spec.is_async:
            coroutine = spec.function(**arguments)
            return coroutine if self.tool_timeout_s is None else asyncio.wait_for(coroutine, self.tool_timeout_s)
        run = functools.partial(contextvars.copy_context().run, spec.function, **arguments)
        return asyncio.wait_for(asyncio.get_running_loop().run_in_executor(self._threads(), run), self.tool_timeout_s)

    def _failure(self, call: ToolUse, exc: Exception) -> _Failure:
        """What the model is told about a tool that raised or ran out of time."""
        if isinstance(exc, TimeoutError):
            if self.tool_timeout_s is None:  # the tool's own timeout, not ours
                return _Failure(f"Tool {call.name!r} failed: TimeoutError: {exc}", "TimeoutError", exc)
            return _Failure(f"Tool {call.name!r} timed out after {self.tool_timeout_s:g} s", "timeout")
        return _Failure(f"Tool {call.name!r} failed: {type(exc).__name__}: {exc}", fq_exception_type(exc), exc)

    @staticmethod
    def _text(call: ToolUse, value: object) -> str:
        """The result as ``tool_result`` content; _Failure when it cannot be serialised."""
        try:
            return result_text(value)
        except (TypeError, ValueError) as exc:
            raise _Failure(
                f"Tool {call.name!r} returned a value that cannot be serialised as JSON: {exc}",
                "result_not_serialisable",
            ) from None

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.max_concurrency or 32, thread_name_prefix="agent-anatomy-tool"
            )
        return self._pool

    def close(self) -> None:
        """Stop the thread pool this executor made for sync tools (one passed in is left alone)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class ToolBatch:
    """One model turn's tool calls, some started before the turn's answer ended (``ParallelExecutor.begin``).

    ``offer(block)`` as each ``tool_use`` block completes in the stream, in the answer's order: a read starts
    at once, in the batch's ``tool_batch`` span (opened then, under the span current when it is offered),
    unless a write came before it in the turn (its stage waits for that write) or the executor runs
    sequentially; a write, and an unknown tool, wait for the answer's end. ``finish(calls)`` with all the
    turn's calls runs the rest as ``run`` would and returns every result in the calls' order. ``cancel()``
    stops what started, for a turn whose tools will not run (its answer failed).
    """

    __slots__ = (
        "_batch",
        "_blocked",
        "_durations",
        "_early",
        "_early_count",
        "_executor",
        "_limit",
        "_offered",
        "_results",
        "_started",
    )

    def __init__(self, executor: ParallelExecutor) -> None:
        self._executor = executor
        self._batch: Invocation | None = None
        self._started = 0.0
        self._offered = 0
        self._early_count = 0
        self._blocked = executor.mode == "sequential"
        self._limit = asyncio.Semaphore(executor.max_concurrency) if executor.max_concurrency else None
        self._early: dict[str, tuple[int, asyncio.Task[None]]] = {}
        """The calls started early, by tool use id: the index they were offered at, and their run."""
        self._results: dict[int, ToolResult] = {}
        self._durations: dict[int, float] = {}
        """What the early calls gave and took, by the index they were offered at."""

    @property
    def early_count(self) -> int:
        """How many calls started before the answer ended (``offer`` started them)."""
        return self._early_count

    def offer(self, block: object) -> bool:
        """The turn's next ``tool_use`` block, just completed in the stream; whether its call started now."""
        if not _is_tool_use(block):
            return False
        index = self._offered
        self._offered += 1
        executor = self._executor
        call = parse_call(block, index)
        spec = executor.tools.get(call.name)
        if spec is not None and spec.side_effects and not executor.reads_overlap_writes:
            self._blocked = True  # the reads after a write run after it
        if spec is None or spec.side_effects or self._blocked or call.id in self._early:
            return False
        if self._batch is None:
            self._batch = executor.handler.start_tool_batch(attach_now=False)
            self._started = time.perf_counter()
        context = contextvars.copy_context()
        context.run(attach, self._batch.context)  # the call's span goes under the batch, not the streaming call
        run = executor._call(call, index, self._results, self._durations, self._limit)
        self._early[call.id] = (index, asyncio.get_running_loop().create_task(run, context=context))
        self._early_count += 1
        return True

    async def finish(self, tool_calls: Iterable[object]) -> list[ToolResult]:
        """Run the turn's calls not yet started, as ``run`` would, and wait for all; results in the calls'
        order. Never raises for a tool's sake."""
        answered = time.perf_counter()  # finish follows the answer's end
        executor = self._executor
        calls = [parse_call(call, index) for index, call in enumerate(c for c in tool_calls if _is_tool_use(c))]
        results: dict[int, ToolResult] = {}
        durations: dict[int, float] = {}
        started: dict[int, Awaitable[None]] = {}
        for index, call in enumerate(calls):
            early = self._early.pop(call.id, None)
            if early is not None:
                started[index] = self._adopt(early, index, results, durations)
        self._drop_unclaimed()  # offered, and not among the calls: nothing would read their results
        if not calls:
            self.cancel()
            return []
        batch = self._batch
        token = None
        if batch is None:
            batch = executor.handler.start_tool_batch()
            self._started = answered
        else:
            token = batch.enter()
        try:
            work = executor._schedule(calls, results, durations, self._limit, started)
            if executor.batch_timeout_s is None:
                await work
            else:
                await executor._within_batch_timeout(work, calls, results, executor.batch_timeout_s)
        except BaseException as exc:
            if token is not None:
                Invocation.leave(token)
            batch.fail(exc)
            raise
        wall = time.perf_counter() - self._started
        final = [results.get(index) or _result(call, "tool did not run", True) for index, call in enumerate(calls)]
        summed = sum(durations.values())
        if token is not None:
            Invocation.leave(token)
        batch.stop(
            {
                semconv.ANATOMY_BATCH_MODE: executor.mode,
                semconv.ANATOMY_BATCH_TOOL_COUNT: len(calls),
                semconv.ANATOMY_BATCH_WALL_TIME: wall,
                semconv.ANATOMY_BATCH_SUM_TIME: summed,
                semconv.ANATOMY_BATCH_SAVED_TIME: max(summed - wall, 0.0) if executor.mode == "parallel" else 0.0,
                semconv.ANATOMY_BATCH_MAX_CONCURRENCY: executor.max_concurrency or len(calls),
                semconv.ANATOMY_BATCH_ERROR_COUNT: sum(1 for result in final if result["is_error"]),
                semconv.ANATOMY_BATCH_EARLY_COUNT: len(started),
                semconv.ANATOMY_BATCH_STREAMED_TIME: max(answered - self._started, 0.0) if started else 0.0,
            }
        )
        return final

    async def _adopt(
        self,
        early: tuple[int, asyncio.Task[None]],
        index: int,
        results: dict[int, ToolResult],
        durations: dict[int, float],
    ) -> None:
        """An early call's run, awaited as the call at ``index`` of the turn: its result and time moved there."""
        offered, task = early
        await task
        if offered in self._results:
            results[index] = self._results.pop(offered)
        durations[index] = self._durations.pop(offered, 0.0)

    def _drop_unclaimed(self) -> None:
        for _, task in self._early.values():
            task.cancel()
        self._early.clear()

    def cancel(self) -> None:
        """Stop the calls started early, for a turn whose tools will not run, and end the batch's span."""
        count = len(self._early)
        self._drop_unclaimed()
        if self._batch is not None:
            batch, self._batch = self._batch, None
            batch.stop_failed("cancelled", {semconv.ANATOMY_BATCH_EARLY_COUNT: count})
