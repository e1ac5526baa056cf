"""``ParallelExecutor``: run a model turn's tool calls concurrently, safely, and on the record.

Reads run at the same time; a tool with side effects runs alone, in its call order, unless
``reads_overlap_writes=True`` lets reads run beside the (still one-at-a-time) writes. Nothing a tool
or the model does raises out of ``run()``: an unknown tool, input that does not fit, a tool that
raises or times out, a result that cannot be serialised: each becomes an error ``tool_result`` the
model can read, and the other tools still finish. The batch is a ``tool_batch`` span recording mode,
wall time, summed time and the time saved; each call is an ``execute_tool {name}`` span under it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Literal

from .. import semconv
from ..tracing import TelemetryHandler, default_handler, fq_exception_type, tool_spec
from ._canonical import NotCanonical, canonical_json, digest, json_encoder
from ._tools import ToolInputError, ToolSpec, ToolUse, parse_call, resolve_tools, result_text

__all__ = ["ParallelExecutor", "ToolResult"]

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
        """Run one model turn's tool calls; results in the calls' order. Never raises for a tool's sake."""
        calls = [parse_call(call, index) for index, call in enumerate(tool_calls)]
        if not calls:
            return []
        batch = self.handler.start_tool_batch()
        started = time.perf_counter()
        durations: list[float] = [0.0] * len(calls)
        results: list[ToolResult | None] = [None] * len(calls)
        limit = asyncio.Semaphore(self.max_concurrency) if self.max_concurrency else None
        try:
            work = self._schedule(calls, results, durations, limit)
            if self.batch_timeout_s is None:
                await work
            else:
                await self._within_batch_timeout(work, calls, results, self.batch_timeout_s)
        except BaseException as exc:
            batch.fail(exc)
            raise
        wall = time.perf_counter() - started
        final = [
            result if result is not None else _result(call, "tool did not run", True)
            for call, result in zip(calls, results, strict=True)
        ]
        summed = sum(durations)
        batch.stop(
            {
                semconv.ANATOMY_BATCH_MODE: self.mode,
                semconv.ANATOMY_BATCH_TOOL_COUNT: len(calls),
                semconv.ANATOMY_BATCH_WALL_TIME: wall,
                semconv.ANATOMY_BATCH_SUM_TIME: summed,
                semconv.ANATOMY_BATCH_SAVED_TIME: max(summed - wall, 0.0) if self.mode == "parallel" else 0.0,
                semconv.ANATOMY_BATCH_MAX_CONCURRENCY: self.max_concurrency or len(calls),
                semconv.ANATOMY_BATCH_ERROR_COUNT: sum(1 for result in final if result["is_error"]),
            }
        )
        return final

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
        results: list[ToolResult | None],
        durations: list[float],
        limit: asyncio.Semaphore | None,
    ) -> Awaitable[Any]:
        """The whole batch as one awaitable, in stages as ``_stages`` says (built here, so no coroutine of its
        own runs per batch)."""

        def one(index: int) -> Any:
            if limit is None:  # one coroutine less per call on the common path
                return self._execute(calls[index], index, results, durations)
            return self._run_one(calls[index], index, results, durations, limit)

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
        run_all: Awaitable[Any], calls: Sequence[ToolUse], results: list[ToolResult | None], timeout_s: float
    ) -> None:
        """Await the batch for ``timeout_s`` at most; the calls still running then are answered as timed out."""
        work = asyncio.ensure_future(run_all)
        try:
            await asyncio.wait_for(asyncio.shield(work), timeout_s)
        except TimeoutError:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            for index, call in enumerate(calls):
                if results[index] is None:
                    results[index] = _result(
                        call, f"Tool {call.name!r} did not finish: the batch timed out after {timeout_s:g} s", True
                    )
        except BaseException:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            raise

    # --- one call ---------------------------------------------------------------------------------------

    async def _run_one(
        self,
        call: ToolUse,
        index: int,
        results: list[ToolResult | None],
        durations: list[float],
        limit: asyncio.Semaphore,
    ) -> None:
        async with limit:
            await self._execute(call, index, results, durations)

    async def _execute(
        self,
        call: ToolUse,
        index: int,
        results: list[ToolResult | None],
        durations: list[float],
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
