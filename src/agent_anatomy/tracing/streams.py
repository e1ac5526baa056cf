"""Stream proxies that time the first token and always end their LLM span.

The proxies sit on the SDK's raw event stream (``Stream`` / ``AsyncStream`` of raw message events),
which ``create(stream=True)`` returns and which ``messages.stream()``'s ``MessageStream`` iterates for
``text_stream``, ``get_final_message()`` and ``until_done()`` alike; so those helpers run unchanged
and every event is stamped as it arrives. Anything not overridden here reaches the SDK object through
``wrapt.ObjectProxy``. A span ends on exhaustion, a read error, ``close()``, leaving a ``with`` block,
or garbage collection of an abandoned stream, and records which in ``anatomy.stream.end``.
"""

from __future__ import annotations

import timeit
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol

import wrapt

from .. import semconv
from ._llm_call import LLMInvocation, warn_once

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    ObjectProxy = wrapt.ObjectProxy[Any]
else:
    ObjectProxy = wrapt.ObjectProxy

__all__ = ["AsyncStreamManagerProxy", "AsyncStreamProxy", "StreamManagerProxy", "SyncStreamProxy", "complete"]

_timer = timeit.default_timer


class _HasRawStream(Protocol):
    _raw_stream: Any


class SyncStreamProxy(ObjectProxy):
    """A raw event stream whose events are reported to an LLMInvocation."""

    def __init__(self, stream: Any, call: LLMInvocation) -> None:
        super().__init__(stream)
        self._self_call = call
        self._self_events: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        # A generator of its own that holds the proxy: ``for e in proxy`` holds only the iterator, and a proxy
        # collected mid-loop would take the stream for abandoned. The proxy does not hold it back: no cycle.
        return _events(self.__wrapped__, self._self_call, self)

    def __next__(self) -> Any:
        events = self._self_events
        if events is None:
            events = self._self_events = _events(self.__wrapped__, self._self_call)
        return next(events)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_call.end(semconv.STREAM_END_CLOSED)

    def __enter__(self) -> SyncStreamProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if _interrupted(exc):
            self._self_call.fail(exc)  # type: ignore[arg-type]
        self.close()

    def __del__(self) -> None:
        self._self_call.abandon()


def _interrupted(exc: BaseException | None) -> bool:
    """Whether a ``with`` block over a stream was left by an interruption (Ctrl-C, ``SystemExit``, a task
    cancelled) that cut the call short: the call's failure. An ``Exception`` of the user's code is not the call's
    (the stream just closes)."""
    return exc is not None and not isinstance(exc, Exception)


class AsyncStreamProxy(ObjectProxy):
    """The async twin of SyncStreamProxy: the same calls, awaited."""

    def __init__(self, stream: Any, call: LLMInvocation) -> None:
        super().__init__(stream)
        self._self_call = call
        self._self_events: AsyncIterator[Any] | None = None

    def __aiter__(self) -> AsyncIterator[Any]:
        return _aevents(self.__wrapped__, self._self_call, self)

    def __anext__(self) -> Awaitable[Any]:
        events = self._self_events
        if events is None:
            events = self._self_events = _aevents(self.__wrapped__, self._self_call)
        return events.__anext__()

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_call.end(semconv.STREAM_END_CLOSED)

    async def __aenter__(self) -> AsyncStreamProxy:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if _interrupted(exc):
            self._self_call.fail(exc)  # type: ignore[arg-type]
        await self.close()

    def __del__(self) -> None:
        self._self_call.abandon()


# The events are read in a generator, not a ``__next__`` of the proxy: resuming a generator per event costs a
# third of a Python method called through the proxy (0.1 against 0.3 µs), on the commonest path of a stream.


def _events(stream: Any, call: LLMInvocation, proxy: object = None) -> Iterator[Any]:
    """The stream's events, reported to ``call`` as they arrive (text deltas only while it still wants them);
    the call ends with the stream. ``proxy`` is only held: alive while the events are read."""
    # ``for`` over the stream's own iterator: the read costs no Python call of ``__next__`` per event.
    events = iter(stream)
    try:
        for event in events:  # every event, until the call has what it needs from content deltas
            call.on_event(event, _timer())
            yield event
            if not call.wants_deltas:
                break
        for event in events:  # then the commonest event, a text delta, is passed straight on
            if event.type != "content_block_delta":
                call.on_event(event, _timer())
            yield event
    except GeneratorExit:  # the consumer let go of this generator; the stream's proxy ends the call
        raise
    except BaseException as exc:
        call.fail(exc)
        raise
    call.end(semconv.STREAM_END_COMPLETED)


async def _aevents(stream: Any, call: LLMInvocation, proxy: object = None) -> AsyncIterator[Any]:
    """The async twin of ``_events``: the same, awaited."""
    events = aiter(stream)
    try:
        async for event in events:
            call.on_event(event, _timer())
            yield event
            if not call.wants_deltas:
                break
        async for event in events:
            if event.type != "content_block_delta":
                call.on_event(event, _timer())
            yield event
    except GeneratorExit:
        raise
    except BaseException as exc:
        call.fail(exc)
        raise
    call.end(semconv.STREAM_END_COMPLETED)


def adopt_raw_stream(
    message_stream: _HasRawStream, call: LLMInvocation, proxy: Callable[[Any, LLMInvocation], ObjectProxy]
) -> None:
    """Put a proxy on the raw event stream a ``MessageStream`` iterates (its one private attribute we touch)."""
    try:
        message_stream._raw_stream = proxy(message_stream._raw_stream, call)
    except AttributeError:
        warn_once("find the raw event stream of a MessageStream (the SDK changed)")
        call.end(semconv.STREAM_END_UNOBSERVED)
        return
    call.on_headers()
    call.suspend()


class StreamManagerProxy(ObjectProxy):
    """``messages.stream(...)``'s manager: the span starts at ``__enter__``, as the request does."""

    def __init__(self, manager: Any, begin: Callable[[], LLMInvocation | None]) -> None:
        super().__init__(manager)
        self._self_begin = begin

    def __enter__(self) -> Any:
        call = self._self_begin()
        if call is None:
            return self.__wrapped__.__enter__()
        try:
            message_stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        adopt_raw_stream(message_stream, call, SyncStreamProxy)
        self._self_call = call
        return message_stream

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        call: LLMInvocation | None = getattr(self, "_self_call", None)
        if call is not None and _interrupted(exc):
            call.fail(exc)  # type: ignore[arg-type]
        return self.__wrapped__.__exit__(exc_type, exc, tb)


class AsyncStreamManagerProxy(ObjectProxy):
    """The async twin of StreamManagerProxy: ``async with client.messages.stream(...)``."""

    def __init__(self, manager: Any, begin: Callable[[], LLMInvocation | None]) -> None:
        super().__init__(manager)
        self._self_begin = begin

    async def __aenter__(self) -> Any:
        call = self._self_begin()
        if call is None:
            return await self.__wrapped__.__aenter__()
        try:
            message_stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        adopt_raw_stream(message_stream, call, AsyncStreamProxy)
        self._self_call = call
        return message_stream

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        call: LLMInvocation | None = getattr(self, "_self_call", None)
        if call is not None and _interrupted(exc):
            call.fail(exc)  # type: ignore[arg-type]
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)


def complete(call: LLMInvocation, result: Any) -> Any:
    """What a wrapped ``create`` returns: a proxied stream, or the result after its span ended."""
    kind = _result_kind(type(result))
    if kind in (_SYNC_STREAM, _ASYNC_STREAM):
        call.on_headers()
        call.suspend()
        return SyncStreamProxy(result, call) if kind == _SYNC_STREAM else AsyncStreamProxy(result, call)
    if kind == _RAW_RESPONSE:  # with_raw_response / with_streaming_response
        _complete_raw(call, result.http_response)
        return result
    call.on_response(result)
    call.end()
    return result


_SYNC_STREAM: Final = "sync stream"
_ASYNC_STREAM: Final = "async stream"
_RAW_RESPONSE: Final = "raw response"
_MESSAGE: Final = "message"
_result_kinds: dict[type, str] = {}
"""What each result class a ``create`` returned is, found once: asking a pydantic message's class for an
attribute it lacks costs microseconds, on every call."""
_RESULT_KINDS_MAX: Final = 64
"""Enough for every class the SDK returns; a program that makes result classes on the fly is asked each time."""


def _result_kind(cls: type) -> str:
    kind = _result_kinds.get(cls)
    if kind is None:
        if hasattr(cls, "__next__") and hasattr(cls, "close"):
            kind = _SYNC_STREAM
        elif hasattr(cls, "__anext__") and hasattr(cls, "close"):
            kind = _ASYNC_STREAM
        elif hasattr(cls, "parse") and hasattr(cls, "iter_bytes"):
            kind = _RAW_RESPONSE
        else:
            kind = _MESSAGE
        if len(_result_kinds) < _RESULT_KINDS_MAX:
            _result_kinds[cls] = kind
    return kind


def _complete_raw(call: LLMInvocation, http_response: Any) -> None:
    """A raw response: its body is decoded when already read, else the span ends at headers."""
    call.on_headers()
    if getattr(http_response, "is_closed", False) and "json" in http_response.headers.get("content-type", ""):
        try:
            call.on_response(http_response.json())
        except Exception:
            warn_once("decode a raw response for the LLM span")
        call.end()
    else:
        call.end(semconv.STREAM_END_UNOBSERVED)
