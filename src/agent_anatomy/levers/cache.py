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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, overload

from opentelemetry.util.types import AttributeValue

from .. import semconv
from ..tracing import get_handler
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
    caches of different applications apart in a shared backend.
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        default_ttl_s: float = 300.0,
        namespace: str = "agent-anatomy",
    ) -> None:
        if default_ttl_s <= 0:
            raise ValueError(f"default_ttl_s={default_ttl_s!r} must be positive")
        self.backend: CacheBackend = backend if backend is not None else MemoryBackend()
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


class _CachedFunction:
    """The machinery behind one ``@cached`` function; ``wrapper()`` gives the sync or async wrapper."""

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
        self.span_name = semconv.span_name(semconv.OPERATION_CACHE_LOOKUP, name or function.__name__)
        self.store_warned = False
        self.attributes: dict[str, AttributeValue] = {
            semconv.ANATOMY_CACHE_FUNCTION: identity,
            semconv.ANATOMY_CACHE_BACKEND: cache.backend.name,
            semconv.ANATOMY_CACHE_TTL: ttl_s,
        }

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

    # --- the lookup span (sync, I/O-free) --------------------------------------------------------------
    # A lookup has no children, so its span is made whole once the lookup is over, with an explicit start
    # time: one pass over the attributes instead of a start and a set.

    def _record(self, started_ns: int, key: str, text: str, extra: dict[str, AttributeValue]) -> None:
        handler = get_handler()
        attributes = {**self.attributes, semconv.ANATOMY_CACHE_KEY_HASH: key[key.rindex(":") + 1 :], **extra}
        if handler.capture_content:
            attributes[semconv.ANATOMY_CACHE_KEY] = text
        handler.start_span(self.span_name, start_time=started_ns, attributes=attributes).end()

    def _found(self, started_ns: int, key: str, text: str, entry: CacheEntry) -> None:
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

    def _missed(self, started_ns: int, key: str, text: str, error: CacheBackendError | None, waited: bool) -> None:
        extra: dict[str, AttributeValue] = {semconv.ANATOMY_CACHE_HIT: False}
        if waited:
            extra[semconv.ANATOMY_CACHE_SINGLE_FLIGHT_WAIT] = True
        if error is not None:
            extra[semconv.ANATOMY_CACHE_ERROR] = str(error)
        self._record(started_ns, key, text, extra)

    def _store_failed(self, error: CacheBackendError) -> None:
        """The value is returned all the same; the first failure per function is logged."""
        if not self.store_warned:
            self.store_warned = True
            _logger.warning("agent-anatomy: could not cache a result of %s: %s", self.span_name, error)

    def _entry(self, value: Any, started: float) -> CacheEntry:
        return CacheEntry(value, time.time(), time.perf_counter() - started, self.ttl_s)

    # --- sync ------------------------------------------------------------------------------------------

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        key, text = self.keyer(args, kwargs)
        started_ns = time.time_ns()
        backend = self.cache.backend
        error: CacheBackendError | None = None
        try:
            entry = backend.get(key)
        except CacheBackendError as exc:
            entry, error = None, exc
        if entry is not None:
            self._found(started_ns, key, text, entry)
            return entry.value
        flight, leader = self.cache._join(key, threading.get_ident())
        if not leader and flight is not None:
            flight.done.wait()
            self._missed(started_ns, key, text, error, waited=True)
            if flight.error is not None:
                raise flight.error
            return flight.value
        self._missed(started_ns, key, text, error, waited=False)
        started = time.perf_counter()
        try:
            value = self.function(*args, **kwargs)
        except BaseException as exc:
            self.cache._land(key, flight, error=exc)
            raise
        self.cache._land(key, flight, value=value)
        if error is None:
            try:
                backend.set(key, self._entry(value, started))
            except CacheBackendError as exc:
                self._store_failed(exc)
        return value

    # --- async: the same steps, awaited ----------------------------------------------------------------

    async def acall(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        key, text = self.keyer(args, kwargs)
        started_ns = time.time_ns()
        backend = self.cache.backend
        error: CacheBackendError | None = None
        try:
            entry = await backend.aget(key)
        except CacheBackendError as exc:
            entry, error = None, exc
        if entry is not None:
            self._found(started_ns, key, text, entry)
            return entry.value
        flight, leader = self.cache._join(key, asyncio.current_task())
        if not leader and flight is not None:
            try:
                return await _follow(flight)
            finally:
                self._missed(started_ns, key, text, error, waited=True)
        if flight is not None:
            flight.future = asyncio.get_running_loop().create_future()
        self._missed(started_ns, key, text, error, waited=False)
        started = time.perf_counter()
        try:
            value = await self.function(*args, **kwargs)
        except BaseException as exc:
            self.cache._land(key, flight, error=exc)
            raise
        self.cache._land(key, flight, value=value)
        if error is None:
            try:
                await backend.aset(key, self._entry(value, started))
            except CacheBackendError as exc:
                self._store_failed(exc)
        return value


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
