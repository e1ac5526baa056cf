"""``ModelRouter``: the right model for each agent step, the fastest one lately, and a way around slow ones.

A table maps each step to one model or to several acceptable ones. With several, the router picks
the one with the fastest recently observed time to first token (a sliding window of its own calls),
and now and then another (``explore``) so stale estimates refresh. A call that fails before its first
token with a 429, a 5xx, a connection error or a timeout is retried on the step's next model. With
hedging on, a call whose first token has not arrived after the primary model's observed p95 (or a
fixed delay) is raised a second time on the next model; the first stream to produce a token wins, the
other is cancelled, and the caller sees one stream.

Every routed call is a ``route {step}`` span; its attempts are the LLM spans under it, each saying
its role (``primary``, ``fallback``, ``hedge``) and, when hedged, whether it ``won`` or ``lost``.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

import httpx2
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ..tracing import Invocation, get_handler
from ..tracing.llm_scope import LLMScope, llm_scope
from ._latency import LatencyWindow, ModelStats

__all__ = ["ModelRouter", "RouteDecision"]

_RETRYABLE_STATUS: Final = frozenset({408, 409, 429})


def can_fall_back(exc: BaseException) -> bool:
    """Errors another model may not have: rate limits, overload, 5xx, connection trouble, timeouts."""
    import anthropic

    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500
    return isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError | TimeoutError)


@dataclass(frozen=True)
class RouteDecision:
    """The models to try for one call, the chosen one first, and why it was chosen."""

    step: str
    models: tuple[str, ...]
    reason: str

    @property
    def model(self) -> str:
        return self.models[0]


@dataclass
class _Progress:
    """How far the opening of a routed call got: what the route span says if every attempt fails."""

    model: str
    reason: str
    attempts: int = 0
    hedge_delay: float | None = None

    def summary(self) -> dict[str, AttributeValue]:
        """The route span's closing attributes."""
        summary: dict[str, AttributeValue] = {
            semconv.ANATOMY_ROUTE_MODEL: self.model,
            semconv.ANATOMY_ROUTE_REASON: self.reason,
            semconv.ANATOMY_ROUTE_ATTEMPTS: self.attempts,
        }
        if self.hedge_delay is not None:
            summary[semconv.ANATOMY_ROUTE_HEDGE_DELAY] = self.hedge_delay
        return summary


class _Attempts:
    """The attempts of one routed call, sync or async alike: which model to try next and in which role,
    when to hedge and to which model, when to stop, and the count the route span reports. I/O-free."""

    def __init__(self, decision: RouteDecision, progress: _Progress, fallback: bool) -> None:
        self.models = decision.models
        self.progress = progress
        self.fallback = fallback
        self.index = -1
        self.error: BaseException | None = None

    def client(self, client: Any) -> Any:
        """With models to fall back to, the SDK's own retries are off: a failure moves to the next model."""
        return client.with_options(max_retries=0) if self.fallback and len(self.models) > 1 else client

    def next(self) -> tuple[str, str] | None:
        """(model, role) of the next attempt; None when the last failure ends the call."""
        if self.index >= 0 and not (self.fallback and self.error is not None and can_fall_back(self.error)):
            return None
        if self.index + 1 >= len(self.models):
            return None
        self.index += 1
        model = self.models[self.index]
        if self.index:
            self.progress.reason = semconv.ROUTE_REASON_FALLBACK
        self.progress.model = model
        self.progress.attempts += 1
        return model, semconv.ROUTE_ROLE_PRIMARY if self.index == 0 else semconv.ROUTE_ROLE_FALLBACK

    def hedge(self, delay: float) -> str:
        """The model a hedge started after ``delay`` seconds races on: the next one, or the same."""
        self.progress.hedge_delay = delay
        self.progress.attempts += 1
        following = self.index + 1
        return self.models[following] if following < len(self.models) else self.models[self.index]

    def won(self, model: str, role: str, raced: bool) -> None:
        if raced:
            hedge_won = role == semconv.ROUTE_ROLE_HEDGE
            self.progress.reason = semconv.ROUTE_REASON_HEDGE_WON if hedge_won else semconv.ROUTE_REASON_HEDGE_LOST
        self.progress.model = model

    def failed(self, error: BaseException) -> None:
        self.error = error

    def last_error(self) -> BaseException:
        assert self.error is not None, "a routed call ended with no attempt and no error"
        return self.error


@dataclass
class _Opened:
    """An attempt that got its first token: the raw stream, the events read so far, its timing."""

    model: str
    stream: Any
    buffered: list[Any]
    started: float
    first_token_at: float
    scope: LLMScope


@dataclass
class _Race:
    """One attempt running as a task, with a handle on its LLM spans to mark the outcome on."""

    model: str
    role: str
    task: asyncio.Task[_Opened]
    scope_box: list[LLMScope] = field(default_factory=list)

    def mark(self, outcome: str) -> None:
        for scope in self.scope_box:
            for span in scope.spans:
                if span.is_recording():
                    span.set_attribute(semconv.ANATOMY_ROUTE_OUTCOME, outcome)


class ModelRouter:
    """Chooses a model per step and calls the Anthropic client with it.

    ``routes``: ``{"route_query": "claude-haiku-4-5", "final_synthesis": ["claude-opus-4-6",
    "claude-sonnet-4-6"]}``; steps not listed use ``default``. ``explore``: the share of decisions
    that try another acceptable model than the fastest. ``window``: observations kept per model.
    ``hedge_after_s``: seconds to wait for a first token before hedging, or ``"p95"`` for the
    primary model's observed p95 (``hedge_default_s`` until it has ``min_observations``); hedging is
    off when None and limited to ``hedge_steps`` when given. ``fallback=False`` raises on the first
    error instead of trying the next model.
    """

    def __init__(
        self,
        routes: Mapping[str, str | Sequence[str]] | None = None,
        *,
        default: str,
        explore: float = 0.1,
        window: int = 50,
        hedge_after_s: float | Literal["p95"] | None = None,
        hedge_default_s: float = 1.0,
        hedge_steps: Collection[str] | None = None,
        min_observations: int = 5,
        fallback: bool = True,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= explore <= 1.0:
            raise ValueError(f"explore={explore!r} must be between 0 and 1")
        if window < 1:
            raise ValueError(f"window={window!r} must be at least 1")
        if (
            hedge_after_s is not None
            and hedge_after_s != "p95"
            and (isinstance(hedge_after_s, str) or hedge_after_s < 0)
        ):
            raise ValueError(f"hedge_after_s={hedge_after_s!r} must be a number of seconds or 'p95'")
        self.routes: dict[str, tuple[str, ...]] = {}
        for step, models in (routes or {}).items():
            listed = (models,) if isinstance(models, str) else tuple(models)
            if not listed or not all(isinstance(m, str) and m for m in listed):
                raise ValueError(f"route {step!r} must name at least one model, got {models!r}")
            self.routes[step] = listed
        self.default = default
        self.explore = explore
        self.hedge_after_s = hedge_after_s
        self.hedge_default_s = hedge_default_s
        self.hedge_steps = frozenset(hedge_steps) if hedge_steps is not None else None
        self.min_observations = min_observations
        self.fallback = fallback
        self._window = window
        self._windows: dict[str, LatencyWindow] = {}
        self._windows_lock = threading.Lock()
        self._random = random.Random(seed)

    # --- decisions -----------------------------------------------------------------------------------

    def candidates(self, step: str) -> tuple[str, ...]:
        return self.routes.get(step) or (self.default,)

    def stats(self, model: str) -> ModelStats:
        return self._latency(model).stats()

    def observe(self, model: str, ttft_s: float | None, duration_s: float) -> None:
        """Record one call's latency (the router does this for its own calls)."""
        self._latency(model).observe(ttft_s, duration_s)

    def _latency(self, model: str) -> LatencyWindow:
        window = self._windows.get(model)
        if window is None:
            with self._windows_lock:
                window = self._windows.setdefault(model, LatencyWindow(self._window))
        return window

    def decide(self, step: str) -> RouteDecision:
        """The models to try for ``step``, in order, and why the first was chosen."""
        candidates = self.candidates(step)
        if len(candidates) == 1:
            return RouteDecision(step, candidates, semconv.ROUTE_REASON_STATIC)
        observed: dict[str, float] = {}
        unobserved: list[str] = []
        for model in candidates:
            speed = self.stats(model).speed_key
            if speed is None:
                unobserved.append(model)
            else:
                observed[model] = speed
        ranked = sorted(observed, key=observed.__getitem__)
        if unobserved:  # every acceptable model is tried once before speeds are compared
            chosen, reason = unobserved[0], semconv.ROUTE_REASON_EXPLORE
        elif self.explore and self._random.random() < self.explore:
            chosen, reason = self._random.choice(ranked[1:]), semconv.ROUTE_REASON_EXPLORE
        else:
            chosen, reason = ranked[0], semconv.ROUTE_REASON_FASTEST
        rest = [m for m in ranked if m != chosen] + [m for m in unobserved if m != chosen]
        return RouteDecision(step, (chosen, *rest), reason)

    def _hedge_delay(self, step: str, model: str) -> float | None:
        if self.hedge_after_s is None or (self.hedge_steps is not None and step not in self.hedge_steps):
            return None
        if self.hedge_after_s == "p95":
            stats = self.stats(model)
            if stats.count >= self.min_observations and stats.ttft_p95 is not None:
                return stats.ttft_p95
            return self.hedge_default_s
        return float(self.hedge_after_s)

    # --- spans ----------------------------------------------------------------------------------------

    def _route_span(self, decision: RouteDecision) -> Invocation:
        attributes: dict[str, AttributeValue] = {
            semconv.ANATOMY_ROUTE_STEP: decision.step,
            semconv.ANATOMY_ROUTE_ALTERNATIVES: list(decision.models[1:]),
        }
        return get_handler().start(semconv.span_name(semconv.OPERATION_ROUTE, decision.step), attributes=attributes)

    @staticmethod
    def _scope_attributes(step: str, role: str) -> dict[str, AttributeValue]:
        return {semconv.ANATOMY_ROUTE_STEP: step, semconv.ANATOMY_ROUTE_ROLE: role}

    # --- async -----------------------------------------------------------------------------------------

    async def acreate(self, client: Any, *, step: str, **request: Any) -> Any:
        """The routed call's final message (streamed underneath, so first tokens are timed and hedged)."""
        async with self.astream(client, step=step, **request) as stream:
            return await stream.get_final_message()

    @asynccontextmanager
    async def astream(self, client: Any, *, step: str, **request: Any) -> AsyncIterator[Any]:
        """``async with router.astream(client, step=..., **kwargs) as stream:`` an ``AsyncMessageStream``."""
        from anthropic.lib.streaming import AsyncMessageStream

        request.pop("model", None)
        request.pop("stream", None)
        decision = self.decide(step)
        route = self._route_span(decision)
        progress = _Progress(decision.model, decision.reason)
        try:
            opened = await self._aopen(client, decision, request, progress)
        except BaseException as exc:
            route.fail(exc, progress.summary())
            raise
        summary = progress.summary()
        raw = _AsyncRoutedStream(opened, lambda error: self._finish(route, opened, summary, error))
        route.suspend()
        # The SDK's helper takes any object that iterates raw events like its AsyncStream does.
        message_stream = AsyncMessageStream(cast(Any, raw), output_format=_not_given())
        try:
            yield message_stream
        finally:
            await raw.close()

    async def _aopen(
        self, client: Any, decision: RouteDecision, request: dict[str, Any], progress: _Progress
    ) -> _Opened:
        attempts = _Attempts(decision, progress, self.fallback)
        client = attempts.client(client)
        while (attempt := attempts.next()) is not None:
            model, role = attempt
            races = [self._start_race(client, decision.step, request, model, role)]
            delay = self._hedge_delay(decision.step, model)
            if delay is not None:
                done, _ = await asyncio.wait([races[0].task], timeout=delay)
                if not done:
                    backup = attempts.hedge(delay)
                    races.append(self._start_race(client, decision.step, request, backup, semconv.ROUTE_ROLE_HEDGE))
            try:
                winner, error = await _first_to_open(races)
            except BaseException:
                for race in races:
                    race.task.cancel()
                raise
            if winner is not None:
                if len(races) > 1:
                    winner.mark(semconv.ROUTE_OUTCOME_WON)
                opened: _Opened = winner.task.result()
                attempts.won(opened.model, winner.role, len(races) > 1)
                return opened
            if error is not None:
                attempts.failed(error)
        raise attempts.last_error()

    def _start_race(self, client: Any, step: str, request: dict[str, Any], model: str, role: str) -> _Race:
        scope_box: list[LLMScope] = []
        task = asyncio.ensure_future(self._aattempt(client, step, request, model, role, scope_box))
        return _Race(model, role, task, scope_box)

    async def _aattempt(
        self, client: Any, step: str, request: dict[str, Any], model: str, role: str, scope_box: list[LLMScope]
    ) -> _Opened:
        with llm_scope(self._scope_attributes(step, role)) as scope:
            scope_box.append(scope)
            started = time.perf_counter()
            stream = await client.messages.create(**request, model=model, stream=True)
            buffered: list[Any] = []
            try:
                async for event in stream:
                    buffered.append(event)
                    if event.type == "content_block_delta":
                        return _Opened(model, stream, buffered, started, time.perf_counter(), scope)
                return _Opened(model, stream, buffered, started, time.perf_counter(), scope)
            except BaseException:
                await asyncio.shield(stream.close())
                raise

    # --- sync: routing and fallback, no hedging (the same attempts, without the race) ----------------------

    def create(self, client: Any, *, step: str, **request: Any) -> Any:
        """The routed call's final message, for sync clients (streamed underneath, first token timed)."""
        with self.stream(client, step=step, **request) as stream:
            return stream.get_final_message()

    @contextmanager
    def stream(self, client: Any, *, step: str, **request: Any) -> Iterator[Any]:
        """``with router.stream(client, step=..., **kwargs) as stream:`` a ``MessageStream``."""
        from anthropic.lib.streaming import MessageStream

        request.pop("model", None)
        request.pop("stream", None)
        decision = self.decide(step)
        route = self._route_span(decision)
        progress = _Progress(decision.model, decision.reason)
        try:
            opened = self._open(client, decision, request, progress)
        except BaseException as exc:
            route.fail(exc, progress.summary())
            raise
        summary = progress.summary()
        raw = _SyncRoutedStream(opened, lambda error: self._finish(route, opened, summary, error))
        route.suspend()
        message_stream = MessageStream(cast(Any, raw), output_format=_not_given())
        try:
            yield message_stream
        finally:
            raw.close()

    def _open(self, client: Any, decision: RouteDecision, request: dict[str, Any], progress: _Progress) -> _Opened:
        attempts = _Attempts(decision, progress, self.fallback)
        client = attempts.client(client)
        while (attempt := attempts.next()) is not None:
            model, role = attempt
            try:
                opened = self._attempt(client, decision.step, request, model, role)
            except Exception as exc:
                attempts.failed(exc)
                continue
            attempts.won(opened.model, role, raced=False)
            return opened
        raise attempts.last_error()

    def _attempt(self, client: Any, step: str, request: dict[str, Any], model: str, role: str) -> _Opened:
        with llm_scope(self._scope_attributes(step, role)) as scope:
            started = time.perf_counter()
            stream = client.messages.create(**request, model=model, stream=True)
            buffered: list[Any] = []
            try:
                for event in stream:
                    buffered.append(event)
                    if event.type == "content_block_delta":
                        break
            except BaseException:
                stream.close()
                raise
            return _Opened(model, stream, buffered, started, time.perf_counter(), scope)

    # --- the end of a routed call ----------------------------------------------------------------------

    def _finish(
        self, route: Invocation, opened: _Opened, summary: dict[str, AttributeValue], error: BaseException | None
    ) -> None:
        if error is None:
            self.observe(opened.model, opened.first_token_at - opened.started, time.perf_counter() - opened.started)
            route.stop(summary)
        else:
            route.fail(error, summary)


async def _first_to_open(races: Sequence[_Race]) -> tuple[_Race | None, BaseException | None]:
    """The first race to open its stream (the others are cancelled), or None and the last error."""
    pending = {race.task: race for race in races}
    last_error: BaseException | None = None
    while pending:
        done, _ = await asyncio.wait(list(pending), return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            race = pending.pop(task)
            if task.cancelled():
                continue
            error = task.exception()
            if error is None:
                for loser in pending.values():
                    loser.mark(semconv.ROUTE_OUTCOME_LOST)
                    loser.task.cancel()
                await asyncio.gather(*(loser.task for loser in pending.values()), return_exceptions=True)
                return race, None
            last_error = error
    return None, last_error


def _not_given() -> Any:
    from anthropic import NOT_GIVEN

    return NOT_GIVEN


class _AsyncRoutedStream:
    """The winning attempt's raw events: those read while racing, then the rest; ends the route span."""

    def __init__(self, opened: _Opened, finish: Callable[[BaseException | None], None]) -> None:
        self._stream = opened.stream
        self._buffered = list(opened.buffered)
        self._finish = finish
        self._done = False

    @property
    def response(self) -> Any:
        return self._stream.response

    def __aiter__(self) -> _AsyncRoutedStream:
        return self

    async def __anext__(self) -> Any:
        if self._buffered:
            return self._buffered.pop(0)
        try:
            return await self._stream.__anext__()
        except StopAsyncIteration:
            self._end(None)
            raise
        except BaseException as exc:
            self._end(exc)
            raise

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._end(None)

    def _end(self, error: BaseException | None) -> None:
        if not self._done:
            self._done = True
            self._finish(error)


class _SyncRoutedStream:
    """The sync twin of _AsyncRoutedStream."""

    def __init__(self, opened: _Opened, finish: Callable[[BaseException | None], None]) -> None:
        self._stream = opened.stream
        self._buffered = list(opened.buffered)
        self._finish = finish
        self._done = False

    @property
    def response(self) -> Any:
        return self._stream.response

    def __iter__(self) -> _SyncRoutedStream:
        return self

    def __next__(self) -> Any:
        if self._buffered:
            return self._buffered.pop(0)
        try:
            return self._stream.__next__()
        except StopIteration:
            self._end(None)
            raise
        except BaseException as exc:
            self._end(exc)
            raise

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._end(None)

    def _end(self, error: BaseException | None) -> None:
        if not self._done:
            self._done = True
            self._finish(error)
