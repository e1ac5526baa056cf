"""``ModelRouter``: the right model for each agent step, the fastest one lately, and a way around slow ones.

A table maps each step to one model or to several acceptable ones. With several, the router picks
the one with the fastest recently observed time to first token (a sliding window of its own calls),
and now and then another (``explore``) so stale estimates refresh. A call that fails before its first
token with a 429, a 5xx, a connection error or a timeout is retried on the step's next model. With
hedging on, a call whose first token has not arrived after the primary model's observed p95 (or a
fixed delay) is raised a second time on the next model; the first stream to produce a token wins, the
other is cancelled, and the caller sees one stream. On the steps named in ``fast_steps``, a model that has
fast mode is called with ``speed="fast"`` (and the beta header where it needs one); any other at its
standard speed.

Every routed call is a ``route {step}`` span; its attempts are the LLM spans under it, each saying
its role (``primary``, ``fallback``, ``hedge``) and, when hedged, whether it ``won`` or ``lost``.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Generator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from opentelemetry.util.types import AttributeValue

from .. import semconv
from ..tracing import Invocation, TelemetryHandler, default_handler
from ..tracing.llm_scope import LLMScope, llm_scope
from ._latency import LatencyWindow, ModelStats
from .fast_mode import fast_mode_available, with_fast_mode

__all__ = ["ModelRouter", "RouteDecision"]

_RETRYABLE_STATUS: Final = frozenset({408, 409, 429})


@functools.cache
def _transport_errors() -> tuple[type[BaseException], ...]:
    """The transport error of the HTTP library the anthropic SDK is built on (httpx; httpx2 in SDK 2.x), found
    through the SDK's own client class: that library is the SDK's dependency, not ours to import."""
    import anthropic

    library = sys.modules.get(anthropic.DefaultHttpxClient.__mro__[1].__module__.partition(".")[0])
    error = getattr(library, "TransportError", None)
    return (error,) if isinstance(error, type) and issubclass(error, BaseException) else ()


def can_fall_back(exc: BaseException) -> bool:
    """Errors another model may not have: rate limits, overload, 5xx, connection trouble, timeouts."""
    import anthropic

    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500
    return isinstance(exc, (anthropic.APIConnectionError, TimeoutError, *_transport_errors()))


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
class _RouteState:
    """How far the opening of a routed call got: what the route span says when it ends, however it ends."""

    model: str
    reason: str
    attempts: int = 0
    hedge_delay: float | None = None
    fast: bool = False
    """The step asks for fast mode (which the chosen model has or not)."""

    def summary(self) -> dict[str, AttributeValue]:
        """The route span's closing attributes."""
        summary: dict[str, AttributeValue] = {
            semconv.ANATOMY_ROUTE_MODEL: self.model,
            semconv.ANATOMY_ROUTE_REASON: self.reason,
            semconv.ANATOMY_ROUTE_ATTEMPTS: self.attempts,
        }
        if self.fast and fast_mode_available(self.model):
            summary[semconv.ANATOMY_ROUTE_SPEED] = semconv.SPEED_FAST
        if self.hedge_delay is not None:
            summary[semconv.ANATOMY_ROUTE_HEDGE_DELAY] = self.hedge_delay
        return summary


class _Attempts:
    """The attempts of one routed call, sync or async alike: which model to try next and in which role,
    when to hedge and to which model, when to stop, and the count the route span reports. I/O-free."""

    def __init__(self, decision: RouteDecision, state: _RouteState, fallback: bool) -> None:
        self.models = decision.models
        self.state = state
        self.fallback = fallback
        self.index = -1
        self.error: BaseException | None = None

    def next(self) -> tuple[str, str] | None:
        """(model, role) of the next attempt; None when the last failure ends the call."""
        if self.index >= 0 and not (self.fallback and self.error is not None and can_fall_back(self.error)):
            return None
        if self.index + 1 >= len(self.models):
            return None
        self.index += 1
        model = self.models[self.index]
        if self.index:
            self.state.reason = semconv.ROUTE_REASON_FALLBACK
        self.state.model = model
        self.state.attempts += 1
        return model, semconv.ROUTE_ROLE_PRIMARY if self.index == 0 else semconv.ROUTE_ROLE_FALLBACK

    def hedge(self, delay: float) -> str:
        """The model a hedge started after ``delay`` seconds races on: the next one, or the same."""
        self.state.hedge_delay = delay
        self.state.attempts += 1
        following = self.index + 1
        return self.models[following] if following < len(self.models) else self.models[self.index]

    def won(self, model: str, role: str, raced: bool) -> None:
        if raced:
            hedge_won = role == semconv.ROUTE_ROLE_HEDGE
            self.state.reason = semconv.ROUTE_REASON_HEDGE_WON if hedge_won else semconv.ROUTE_REASON_HEDGE_LOST
        self.state.model = model

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


_ATTEMPT: Final = "attempt"
"""An opening step: start an attempt on (model, role), and race a hedge after ``delay`` seconds if not None."""
_HEDGE: Final = "hedge"
"""An opening step: the attempt under way has not opened after its delay; race one on this model beside it."""


@dataclass(slots=True)
class _Reply:
    """What became of a step, sent back to the opening flow: the attempt opened (by the race's winner, in
    ``role``), failed (``error``; neither when every race was cancelled), or is waiting for a hedge."""

    opened: _Opened | None = None
    role: str = semconv.ROUTE_ROLE_PRIMARY
    raced: bool = False
    error: BaseException | None = None
    hedge: bool = False


_Opening = Generator[tuple[str, Any], _Reply | None, _Opened]


class ModelRouter:
    """Chooses a model per step and calls the Anthropic client with it.

    ``routes``: ``{"route_query": "claude-haiku-4-5", "final_synthesis": ["claude-opus-4-6",
    "claude-sonnet-4-6"]}``; steps not listed use ``default``. ``explore``: the share of decisions
    that try another acceptable model than the fastest. ``window``: observations kept per model.
    ``hedge_after_s``: seconds to wait for a first token before hedging, or ``"p95"`` for the
    primary model's observed p95 (``hedge_default_s`` until it has ``min_observations``); hedging is
    off when None and limited to ``hedge_steps`` when given (sync clients never hedge). ``fast_steps``: the steps
    whose calls ask for fast mode on each model that has it (``with_fast_mode``). ``fallback=False``
    raises on the first error instead of trying the next model. ``handler``: the telemetry handler the
    routed calls' spans start with (default: the process's, which follows ``configure()``).
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
        fast_steps: Collection[str] | None = None,
        min_observations: int = 5,
        fallback: bool = True,
        seed: int | None = None,
        handler: TelemetryHandler | None = None,
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
        if isinstance(fast_steps, str):
            raise ValueError(f"fast_steps={fast_steps!r} must be a collection of step names, not one string")
        self.fast_steps = frozenset(fast_steps or ())
        self.min_observations = min_observations
        self.fallback = fallback
        self._window = window
        self._windows: dict[str, LatencyWindow] = {}
        self._windows_lock = threading.Lock()
        self._random = random.Random(seed)
        self.handler = handler or default_handler()

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

    # --- opening a routed call: the decisions, I/O-free ------------------------------------------------

    @staticmethod
    def _scope_attributes(step: str, role: str) -> dict[str, AttributeValue]:
        return {semconv.ANATOMY_ROUTE_STEP: step, semconv.ANATOMY_ROUTE_ROLE: role}

    def _begin(self, step: str, request: dict[str, Any]) -> tuple[RouteDecision, Invocation, _RouteState]:
        """The decision for ``step`` and its route span; ``request`` loses the model and stream the router sets."""
        request.pop("model", None)
        request.pop("stream", None)
        decision = self.decide(step)
        route = self.handler.start_route(decision.step, decision.models[1:])
        return decision, route, _RouteState(decision.model, decision.reason, fast=step in self.fast_steps)

    def _request_for(self, step: str, request: dict[str, Any], model: str) -> dict[str, Any]:
        """One attempt's request: in fast mode on a fast step, when ``model`` has it."""
        return with_fast_mode(request, model) if step in self.fast_steps else request

    def _client(self, client: Any, decision: RouteDecision) -> Any:
        """With models to fall back to, the SDK's own retries are off: a failure moves to the next model."""
        return client.with_options(max_retries=0) if self.fallback and len(decision.models) > 1 else client

    def _opening(self, decision: RouteDecision, state: _RouteState) -> _Opening:
        """The opening of a routed call, as steps for a sync or async caller to carry out: each attempt in turn
        (racing a hedge beside it when hedging is on and the caller can race), until one opens its stream or a
        failure ends the call. Every error of an attempt comes back here, so the two callers fall back on the
        same errors."""
        attempts = _Attempts(decision, state, self.fallback)
        while (attempt := attempts.next()) is not None:
            model, role = attempt
            delay = self._hedge_delay(decision.step, model)
            reply = yield _ATTEMPT, (model, role, delay)
            while reply is not None and reply.hedge:
                reply = yield _HEDGE, attempts.hedge(delay or 0.0)
            assert reply is not None
            if reply.opened is not None:
                attempts.won(reply.opened.model, reply.role, reply.raced)
                return reply.opened
            if reply.error is not None:
                attempts.failed(reply.error)
        raise attempts.last_error()

    def _finish(
        self, route: Invocation, opened: _Opened, summary: dict[str, AttributeValue], error: BaseException | None
    ) -> None:
        if error is None:
            self.observe(opened.model, opened.first_token_at - opened.started, time.perf_counter() - opened.started)
            route.stop(summary)
        else:
            route.fail(error, summary)

    # --- async -----------------------------------------------------------------------------------------

    async def acreate(self, client: Any, *, step: str, **request: Any) -> Any:
        """The routed call's final message (streamed underneath, so first tokens are timed and hedged)."""
        async with self.astream(client, step=step, **request) as stream:
            return await stream.get_final_message()

    @asynccontextmanager
    async def astream(self, client: Any, *, step: str, **request: Any) -> AsyncIterator[Any]:
        """``async with router.astream(client, step=..., **kwargs) as stream:`` an ``AsyncMessageStream``."""
        from anthropic.lib.streaming import AsyncMessageStream

        decision, route, state = self._begin(step, request)
        try:
            opened = await self._aopen(self._client(client, decision), decision, request, state)
        except BaseException as exc:
            route.fail(exc, state.summary())
            raise
        summary = state.summary()
        raw = _AsyncRoutedStream(opened, lambda error: self._finish(route, opened, summary, error))
        route.suspend()
        # The SDK's helper takes any object that iterates raw events like its AsyncStream does.
        message_stream = AsyncMessageStream(cast(Any, raw), output_format=_not_given())
        try:
            yield message_stream
        finally:
            await raw.close()

    async def _aopen(
        self, client: Any, decision: RouteDecision, request: dict[str, Any], state: _RouteState
    ) -> _Opened:
        """Carry out the opening's steps, racing attempts as tasks."""
        opening = self._opening(decision, state)
        reply: _Reply | None = None
        races: list[_Race] = []
        while True:
            try:
                step, payload = opening.send(reply)
            except StopIteration as done:
                opened: _Opened = done.value
                return opened
            if step == _ATTEMPT:
                model, role, delay = payload
                races = [self._start_race(client, decision.step, request, model, role)]
                if delay is not None:
                    finished, _ = await asyncio.wait([races[0].task], timeout=delay)
                    if not finished:
                        reply = _Reply(hedge=True)
                        continue
            else:
                races.append(self._start_race(client, decision.step, request, payload, semconv.ROUTE_ROLE_HEDGE))
            try:
                winner, error = await _first_to_open(races)
            except BaseException:
                for race in races:
                    race.task.cancel()
                raise
            if winner is None:
                reply = _Reply(error=error)
                continue
            if len(races) > 1:
                winner.mark(semconv.ROUTE_OUTCOME_WON)
            reply = _Reply(opened=winner.task.result(), role=winner.role, raced=len(races) > 1)

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
            attempt = self._request_for(step, request, model)
            stream = await client.messages.create(**attempt, model=model, stream=True)
            buffered: list[Any] = []
            try:
                async for event in stream:
                    buffered.append(event)
                    if event.type == "content_block_delta":
                        break
            except BaseException:
                await asyncio.shield(stream.close())
                raise
            return _Opened(model, stream, buffered, started, time.perf_counter(), scope)

    # --- sync: routing and fallback, no hedging (the same opening, without the race) ------------------------

    def create(self, client: Any, *, step: str, **request: Any) -> Any:
        """The routed call's final message, for sync clients (streamed underneath, first token timed)."""
        with self.stream(client, step=step, **request) as stream:
            return stream.get_final_message()

    @contextmanager
    def stream(self, client: Any, *, step: str, **request: Any) -> Iterator[Any]:
        """``with router.stream(client, step=..., **kwargs) as stream:`` a ``MessageStream``."""
        from anthropic.lib.streaming import MessageStream

        decision, route, state = self._begin(step, request)
        try:
            opened = self._open(self._client(client, decision), decision, request, state)
        except BaseException as exc:
            route.fail(exc, state.summary())
            raise
        summary = state.summary()
        raw = _SyncRoutedStream(opened, lambda error: self._finish(route, opened, summary, error))
        route.suspend()
        message_stream = MessageStream(cast(Any, raw), output_format=_not_given())
        try:
            yield message_stream
        finally:
            raw.close()

    def _open(self, client: Any, decision: RouteDecision, request: dict[str, Any], state: _RouteState) -> _Opened:
        """Carry out the opening's steps one attempt at a time (a sync caller cannot race: no hedge is asked)."""
        opening = self._opening(decision, state)
        reply: _Reply | None = None
        while True:
            try:
                _, (model, role, _) = opening.send(reply)
            except StopIteration as done:
                opened: _Opened = done.value
                return opened
            try:
                reply = _Reply(opened=self._attempt(client, decision.step, request, model, role), role=role)
            except BaseException as exc:
                reply = _Reply(error=exc)

    def _attempt(self, client: Any, step: str, request: dict[str, Any], model: str, role: str) -> _Opened:
        with llm_scope(self._scope_attributes(step, role)) as scope:
            started = time.perf_counter()
            attempt = self._request_for(step, request, model)
            stream = client.messages.create(**attempt, model=model, stream=True)
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


class _RoutedStream:
    """The winning attempt's raw events: those read while opening it, then the rest; its end ends the route
    span, once. The sync and async twins differ only in how they read and close."""

    def __init__(self, opened: _Opened, finish: Callable[[BaseException | None], None]) -> None:
        self._stream = opened.stream
        self._buffered = list(opened.buffered)
        self._finish = finish
        self._done = False

    @property
    def response(self) -> Any:
        return self._stream.response

    def _end(self, error: BaseException | None) -> None:
        if not self._done:
            self._done = True
            self._finish(error)


class _AsyncRoutedStream(_RoutedStream):
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


class _SyncRoutedStream(_RoutedStream):
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
