"""``ResultCache`` and ``@cached``: TTL caching of deterministic or slowly changing results.

A key is the function's identity (module, qualified name, optional version) plus its arguments bound
to the signature and serialised canonically, so ``f(1, b=2)`` and ``f(b=2, a=1)`` share an entry in
every process. Concurrent misses on one key run the function once and share its result or its
exception (exceptions are never cached). Every lookup is a ``cache_lookup {name}`` span saying hit
or miss, the backend, a hash of the key, the entry's age and TTL, whether the caller waited for
another's computation, and on a hit the time saved. A failing backend never fails the call: the
function runs uncached and the span records why.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, overload

from opentelemetry.util.types import AttributeValue

from .. import semconv
from ..tracing import TelemetryHandler, cache_lookup_spec, default_handler
from ._canonical import NotCanonical, canonical_json, digest
from .cache_backends import CacheBackend, CacheBackendError, CacheEntry, MemoryBackend

__all__ = ["ResultCache", "cached", "default_cache"]

F = TypeVar("F", bound=Callable[..., Any])

_logger = logging.getLogger(__name__)

_SIMPLE: Final = (str, int, float, bool, type(None))
_MEMO_LIMIT: Final = 4096


@dataclass
class _Flight:
    """One in-progress computation that later callers of the same key wait for."""

    owner: object
    """The leader's thread id or task: a follower that is the leader itself computes instead of waiting."""
    done: threading.Event = field(default_factory=threading.Event)
    future: asyncio.Future[Any] | None = None
    value: Any = None
    error: BaseException | None = None


class _Keyer:
    """Builds keys for one function, remembering them for repeated simple arguments."""

    def __init__(self, function: Callable[..., Any], prefix: str, key: Callable[..., Any] | None) -> None:
        self.function_name = f"{function.__module__}.{function.__qualname__}"
        self.prefix = prefix
        self.custom = key
        self.signature = inspect.signature(function)
        self.memo: dict[tuple[Any, ...], tuple[str, str]] = {}

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
        """(full key, canonical text of the arguments)."""
        memo_key: tuple[Any, ...] | None = None
        if all(type(a) in _SIMPLE for a in args) and all(type(v) in _SIMPLE for v in kwargs.values()):
            # Types are part of the memo key: 1, 1.0 and True are equal to Python but not to us.
            memo_key = (*((type(a), a) for a in args), *((k, type(v), v) for k, v in sorted(kwargs.items())))
            found = self.memo.get(memo_key)
            if found is not None:
                return found
        text = self._canonical(args, kwargs)
        result = (f"{self.prefix}:{digest(text)}", text)
        if memo_key is not None:
            if len(self.memo) >= _MEMO_LIMIT:
                self.memo.clear()
            self.memo[memo_key] = result
        return result

    def _canonical(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        if self.custom is not None:
            value = self.custom(*args, **kwargs)
            try:
                return value if isinstance(value, str) else canonical_json(value)
            except NotCanonical as exc:
                raise TypeError(f"the key= function of @cached {self.function_name} returned {exc}") from None
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            raise  # the call itself is wrong: the same TypeError the function would raise
        bound.apply_defaults()
        parts = []
        for name, value in bound.arguments.items():
            try:
                parts.append(f"{name}={canonical_json(value, name)}")
            except NotCanonical as exc:
                raise TypeError(
                    f"@cached {self.function_name}: argument {name!r} cannot be part of a cache key "
                    f"({exc}); pass key=... to @cached to build the key from the arguments yourself"
                ) from None
        return "&".join(parts)


class ResultCache:
    """A cache of function results over one backend, shared by the functions it decorates.

    ``backend`` defaults to an in-process ``MemoryBackend``; ``RedisBackend`` shares entries across
    processes. ``default_ttl_s`` applies where ``cached(ttl_s=...)`` gives none; ``namespace`` keeps
    caches of different applications apart in a shared backend. ``handler``: the telemetry handler the
    lookups' spans start with (default: the process's, which follows ``configure()``).
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        default_ttl_s: float = 300.0,
        namespace: str = "agent-anatomy",
        handler: TelemetryHandler | None = None,
    ) -> None:
        if default_ttl_s <= 0:
            raise ValueError(f"default_ttl_s={default_ttl_s!r} must be positive")
        self.backend: CacheBackend = backend if backend is not None else MemoryBackend()
        self.handler = handler or default_handler()
        self.default_ttl_s = default_ttl_s
        self.namespace = namespace
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()

    @overload
    def cached(self, fn: F, /) -> F: ...
    @overload
    def cached(
        self,
        fn: None = None,
        /,
        *,
        ttl_s: float | None = None,
        key: Callable[..., Any] | None = None,
        version: str | int | None = None,
        name: str | None = None,
    ) -> Callable[[F], F]: ...
    def cached(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        ttl_s: float | None = None,
        key: Callable[..., Any] | None = None,
        version: str | int | None = None,
        name: str | None = None,
    ) -> Any:
        """Cache a sync or async function's results for ``ttl_s`` seconds.

        ``key`` builds the key from the call's arguments instead (for arguments with no canonical
        form); ``version`` starts a fresh set of entries when the function's meaning changes.
        """
        if ttl_s is not None and ttl_s <= 0:
            raise ValueError(f"ttl_s={ttl_s!r} must be positive")

        def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
            return _CachedFunction(self, function, ttl_s or self.default_ttl_s, key, version, name).wrapper()

        return decorate(fn) if fn is not None else decorate

    # --- single flight -------------------------------------------------------------------------------

    def _join(self, key: str, owner: object) -> tuple[_Flight | None, bool]:
        """The flight for ``key`` and whether this caller leads it (computes) or follows (waits).

        ``(None, True)``: the caller is already leading this key further up its own stack (a recursive
        call with the same arguments), so it computes without a flight rather than wait on itself.
        """
        with self._flights_lock:
            flight = self._flights.get(key)
            if flight is not None:
                return (None, True) if flight.owner == owner else (flight, False)
            flight = self._flights[key] = _Flight(owner)
            return flight, True

    def _land(self, key: str, flight: _Flight | None, value: Any = None, error: BaseException | None = None) -> None:
        if flight is None:
            return
        with self._flights_lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.value, flight.error = value, error
        flight.done.set()
        future = flight.future
        if future is not None and not future.done():
            loop = future.get_loop()
            if error is not None:
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, value, None)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
        future.exception()  # followers may all be gone: retrieving it keeps asyncio from logging it
    else:
        future.set_result(value)


_WAIT: Final = "wait"
"""A miss's step: wait for the leader of the flight (the step's value) and take its outcome."""
_LEAD: Final = "lead"
"""A miss's step: this caller leads the flight (the step's value; an async caller gives it a future)."""
_CALL: Final = "call"
"""A miss's step: call the function."""
_STORE: Final = "store"
"""A miss's step: store the entry (the step's value) in the backend."""


@dataclass(slots=True)
class _Outcome:
    """How a step went, sent back to the miss's flow (which never has an exception thrown into it)."""

    value: Any = None
    error: BaseException | None = None


_Miss = Generator[tuple[str, Any], _Outcome | None, _Outcome]


class _CachedFunction:
    """The machinery behind one ``@cached`` function; ``wrapper()`` gives the sync or async wrapper.

    Every decision is in synchronous, I/O-free code (the key, the span, the single flight, what to store);
    ``call`` and ``acall`` only do the I/O each step of a lookup asks for, the same steps in the same order.
    """

    def __init__(
        self,
        cache: ResultCache,
        function: Callable[..., Any],
        ttl_s: float,
        key: Callable[..., Any] | None,
        version: str | int | None,
        name: str | None,
    ) -> None:
        self.cache = cache
        self.function = function
        self.ttl_s = ttl_s
        identity = f"{function.__module__}.{function.__qualname__}" + (f"@{version}" if version is not None else "")
        self.keyer = _Keyer(function, f"{cache.namespace}:{identity}", key)
        self.spec = cache_lookup_spec(
            name or function.__name__, function=identity, backend=cache.backend.name, ttl_s=ttl_s
        )
        self.store_warned = False

    def wrapper(self) -> Callable[..., Any]:
        function = self.function
        wrapper: Any
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                return await self.acall(args, kwargs)

        else:

            @functools.wraps(function)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return self.call(args, kwargs)

        wrapper.cache_key = self.cache_key
        return wrapper  # type: ignore[no-any-return]

    def cache_key(self, *args: Any, **kwargs: Any) -> str:
        """The key a call with these arguments is stored under: the same in every process and on every run."""
        return self.keyer(args, kwargs)[0]

    # --- the lookup's span (sync, I/O-free) ------------------------------------------------------------

    def _record(self, started_ns: int, key: str, text: str, outcome: dict[str, AttributeValue]) -> None:
        self.cache.handler.record_cache_lookup(
            self.spec, outcome, key=text, key_hash=key[key.rindex(":") + 1 :], started_ns=started_ns
        )

    def _found(self, started_ns: int, key: str, text: str, entry: CacheEntry) -> Any:
        """A hit: its span, and the value to return."""
        self._record(
            started_ns,
            key,
            text,
            {
                semconv.ANATOMY_CACHE_HIT: True,
                semconv.ANATOMY_CACHE_AGE: max(time.time() - entry.stored_at, 0.0),
                semconv.ANATOMY_CACHE_SAVED_TIME: entry.compute_s,
            },
        )
        return entry.value

    def _missed(self, started_ns: int, key: str, text: str, error: CacheBackendError | None, waited: bool) -> None:
        extra: dict[str, AttributeValue] = {semconv.ANATOMY_CACHE_HIT: False}
        if waited:
            extra[semconv.ANATOMY_CACHE_SINGLE_FLIGHT_WAIT] = True
        if error is not None:
            extra[semconv.ANATOMY_CACHE_ERROR] = str(error)
        self._record(started_ns, key, text, extra)

    # --- a miss, step by step (sync, I/O-free) -----------------------------------------------------------

    def _miss(self, key: str, text: str, started_ns: int, error: CacheBackendError | None, owner: object) -> _Miss:
        """What a miss does, as steps for the sync or async caller to carry out: follow another caller's
        computation of the same key, or lead it (call the function, share its outcome, store its value).
        Its result is the call's outcome."""
        flight, leader = self.cache._join(key, owner)
        if not leader and flight is not None:
            followed = yield _WAIT, flight
            self._missed(started_ns, key, text, error, waited=True)
            return followed  # type: ignore[return-value]
        if flight is not None:
            yield _LEAD, flight
        self._missed(started_ns, key, text, error, waited=False)
        started = time.perf_counter()
        called = yield _CALL, None
        assert called is not None
        if called.error is not None:
            self.cache._land(key, flight, error=called.error)
            return called
        self.cache._land(key, flight, value=called.value)
        if error is None:
            stored = yield _STORE, CacheEntry(called.value, time.time(), time.perf_counter() - started, self.ttl_s)
            failure = stored.error if stored is not None else None
            if isinstance(failure, CacheBackendError):
                if not self.store_warned:  # the value is returned all the same; the first failure is logged
                    self.store_warned = True
                    _logger.warning("agent-anatomy: could not cache a result of %s: %s", self.spec.name, failure)
            elif failure is not None:
                return stored  # type: ignore[return-value]
        return called

    # --- sync ------------------------------------------------------------------------------------------

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        key, text = self.keyer(args, kwargs)
        started_ns = time.time_ns()
        error: CacheBackendError | None = None
        try:
            entry = self.cache.backend.get(key)
        except CacheBackendError as exc:
            entry, error = None, exc
        if entry is not None:
            return self._found(started_ns, key, text, entry)
        miss = self._miss(key, text, started_ns, error, threading.get_ident())
        outcome: _Outcome | None = None
        while True:
            try:
                step, value = miss.send(outcome)
            except StopIteration as done:
                outcome = done.value
                break
            try:
                if step == _WAIT:
                    value.done.wait()
                    outcome = _Outcome(value.value, value.error)
                elif step == _CALL:
                    outcome = _Outcome(self.function(*args, **kwargs))
                else:
                    if step == _STORE:
                        self.cache.backend.set(key, value)
                    outcome = _Outcome()
            except BaseException as exc:
                outcome = _Outcome(error=exc)
        assert outcome is not None
        if outcome.error is not None:
            raise outcome.error
        return outcome.value

    # --- async: the same steps, awaited ----------------------------------------------------------------

    async def acall(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        key, text = self.keyer(args, kwargs)
        started_ns = time.time_ns()
        error: CacheBackendError | None = None
        try:
            entry = await self.cache.backend.aget(key)
        except CacheBackendError as exc:
            entry, error = None, exc
        if entry is not None:
            return self._found(started_ns, key, text, entry)
        miss = self._miss(key, text, started_ns, error, asyncio.current_task())
        outcome: _Outcome | None = None
        while True:
            try:
                step, value = miss.send(outcome)
            except StopIteration as done:
                outcome = done.value
                break
            try:
                if step == _WAIT:
                    outcome = _Outcome(await _follow(value))
                elif step == _CALL:
                    outcome = _Outcome(await self.function(*args, **kwargs))
                else:
                    if step == _STORE:
                        await self.cache.backend.aset(key, value)
                    elif step == _LEAD:
                        value.future = asyncio.get_running_loop().create_future()
                    outcome = _Outcome()
            except BaseException as exc:
                outcome = _Outcome(error=exc)
        assert outcome is not None
        if outcome.error is not None:
            raise outcome.error
        return outcome.value


async def _follow(flight: _Flight) -> Any:
    """Wait for a leader: on its future when it runs in this loop, else on its event in a thread."""
    future = flight.future
    if future is not None and future.get_loop() is asyncio.get_running_loop():
        return await asyncio.shield(future)
    await asyncio.to_thread(flight.done.wait)
    if flight.error is not None:
        raise flight.error
    return flight.value


_default: ResultCache | None = None
_default_lock = threading.Lock()


def default_cache() -> ResultCache:
    """The in-memory ResultCache that the module-level ``@cached`` uses."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ResultCache()
        return _default


@overload
def cached(fn: F, /) -> F: ...
@overload
def cached(
    fn: None = None,
    /,
    *,
    ttl_s: float | None = None,
    key: Callable[..., Any] | None = None,
    version: str | int | None = None,
    name: str | None = None,
    cache: ResultCache | None = None,
) -> Callable[[F], F]: ...
def cached(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    ttl_s: float | None = None,
    key: Callable[..., Any] | None = None,
    version: str | int | None = None,
    name: str | None = None,
    cache: ResultCache | None = None,
) -> Any:
    """``@cached(ttl_s=60)``: cache results in ``cache`` (default: the process's in-memory cache)."""
    decorator = (cache or default_cache()).cached(ttl_s=ttl_s, key=key, version=version, name=name)
    return decorator(fn) if fn is not None else decorator
