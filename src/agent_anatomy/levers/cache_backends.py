"""Where ``ResultCache`` keeps its entries: in process memory, or in Redis.

A backend stores ``CacheEntry`` records under string keys with a TTL. The memory backend keeps the
values themselves (like ``functools.lru_cache``: a hit returns the very object that was stored);
the Redis backend serialises them as JSON (pickle only when asked for, and a pickled entry is never
read by a JSON backend). Backend failures raise ``CacheBackendError``, on which the cache fails open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import pickle
import sys
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from ..errors import AgentAnatomyError, MissingDependencyError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["CacheBackend", "CacheBackendError", "CacheEntry", "MemoryBackend", "RedisBackend"]

_logger = logging.getLogger(__name__)


class CacheBackendError(AgentAnatomyError):
    """The backend could not get or store an entry (unreachable, timed out, unreadable entry)."""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    value: Any
    stored_at: float
    """Wall-clock time (``time.time()``) the entry was stored: meaningful across processes."""
    compute_s: float
    """How long the computation that produced the value took: a hit saves this much."""
    ttl_s: float


class CacheBackend(Protocol):
    """Sync and async access to stored entries; ``name`` goes on spans (``memory``, ``redis``)."""

    name: str

    def get(self, key: str) -> CacheEntry | None: ...
    def set(self, key: str, entry: CacheEntry) -> None: ...
    def delete(self, key: str) -> None: ...
    async def aget(self, key: str) -> CacheEntry | None: ...
    async def aset(self, key: str, entry: CacheEntry) -> None: ...
    async def adelete(self, key: str) -> None: ...


class MemoryBackend:
    """An in-process LRU with TTLs, bounded by entries and, optionally, by approximate bytes."""

    name: str = "memory"

    def __init__(self, max_entries: int = 10_000, max_bytes: int | None = None) -> None:
        if max_entries < 1 or (max_bytes is not None and max_bytes < 1):
            raise ValueError(f"MemoryBackend bounds must be positive: max_entries={max_entries}, max_bytes={max_bytes}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, tuple[CacheEntry, float, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def size_bytes(self) -> int:
        """Approximate bytes held (counted only when ``max_bytes`` is set)."""
        return self._bytes

    def get(self, key: str) -> CacheEntry | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            entry, expires, size = item
            if expires <= time.monotonic():
                del self._data[key]
                self._bytes -= size
                return None
            self._data.move_to_end(key)
            return entry

    def set(self, key: str, entry: CacheEntry) -> None:
        size = _approximate_size(entry.value) if self.max_bytes is not None else 0
        if self.max_bytes is not None and size > self.max_bytes:
            return  # larger than the whole cache: not worth evicting everything for
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            self._data[key] = (entry, time.monotonic() + entry.ttl_s, size)
            self._bytes += size
            while len(self._data) > self.max_entries or (self.max_bytes is not None and self._bytes > self.max_bytes):
                _, (_, _, evicted) = self._data.popitem(last=False)
                self._bytes -= evicted

    def delete(self, key: str) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[2]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    async def aget(self, key: str) -> CacheEntry | None:
        return self.get(key)

    async def aset(self, key: str, entry: CacheEntry) -> None:
        self.set(key, entry)

    async def adelete(self, key: str) -> None:
        self.delete(key)


def _approximate_size(value: object) -> int:
    try:
        return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return sys.getsizeof(value)


_JSON: Final = b"J"
_PICKLE: Final = b"P"


class RedisBackend:
    """Entries in Redis, shared across processes and machines (extra ``redis``).

    Values are stored as JSON (so a hit returns JSON types: lists for tuples), or with
    ``serializer="pickle"`` as pickles, which only a pickle backend will read. Every operation is
    bounded by ``socket_timeout_s``; after a failure the backend stays away from Redis for
    ``retry_after_s`` (each call fails fast in between) and then tries again, so a dead Redis costs
    one timeout per interval, not one per call. Async calls use one ``redis.asyncio`` client per event
    loop: ``await backend.aclose()`` before a loop ends closes its connections.
    """

    name: str = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        serializer: Literal["json", "pickle"] = "json",
        socket_timeout_s: float = 0.25,
        retry_after_s: float = 5.0,
        client: redis.Redis | None = None,
    ) -> None:
        try:
            import redis as redis_module
        except ImportError as exc:
            raise MissingDependencyError("the Redis cache backend", extra="redis", module="redis") from exc
        if serializer not in ("json", "pickle"):
            raise ValueError(f"serializer={serializer!r} is not one of json, pickle")
        self.url = url
        self.serializer = serializer
        self.socket_timeout_s = socket_timeout_s
        self.retry_after_s = retry_after_s
        self._redis = redis_module
        self._client = client or redis_module.Redis.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s
        )
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._down_until = 0.0
        self._state_lock = threading.Lock()

    # --- encoding ----------------------------------------------------------------------------------------

    def _encode(self, entry: CacheEntry) -> bytes:
        record = {"v": entry.value, "t": entry.stored_at, "c": entry.compute_s, "ttl": entry.ttl_s}
        if self.serializer == "pickle":
            return _PICKLE + pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            return _JSON + json.dumps(record, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise CacheBackendError(f"value cannot be stored as JSON ({exc}); use serializer='pickle'") from exc

    def _decode(self, raw: bytes | str) -> CacheEntry:
        if isinstance(raw, str):
            raw = raw.encode()
        marker, payload = raw[:1], raw[1:]
        if marker == _PICKLE and self.serializer == "pickle":
            record = pickle.loads(payload)
        elif marker == _JSON:
            try:
                record = json.loads(payload)
            except ValueError as exc:
                raise CacheBackendError(f"stored entry is not valid JSON: {exc}") from exc
        elif marker == _PICKLE:
            raise CacheBackendError("stored entry is a pickle, which this JSON backend refuses to unpickle")
        else:
            raise CacheBackendError("stored entry was not written by agent-anatomy")
        return CacheEntry(record["v"], float(record["t"]), float(record["c"]), float(record["ttl"]))

    # --- failing fast while Redis is down ----------------------------------------------------------------

    def _check_up(self) -> None:
        remaining = self._down_until - time.monotonic()
        if remaining > 0:
            raise CacheBackendError(f"Redis at {self.url} is unavailable; retrying in {remaining:.1f} s")

    def _failed(self, exc: Exception) -> CacheBackendError:
        with self._state_lock:
            first = self._down_until <= time.monotonic()
            self._down_until = time.monotonic() + self.retry_after_s
        if first:
            _logger.warning(
                "agent-anatomy: Redis cache at %s failed (%s); calling functions uncached for %g s",
                self.url,
                exc,
                self.retry_after_s,
            )
        return CacheBackendError(f"Redis at {self.url} failed: {type(exc).__name__}: {exc}")

    def _sync_failed(self, exc: Exception) -> CacheBackendError:
        """As ``_failed``, and drop every pooled connection of the sync client (see ``_afailed``)."""
        with contextlib.suppress(Exception):
            self._client.connection_pool.disconnect()
        return self._failed(exc)

    async def _afailed(self, exc: Exception) -> CacheBackendError:
        """As ``_failed``, and drop every pooled connection of this loop's client.

        After Redis restarts, each connection opened before is dead, and redis-py may hand out such a
        connection without noticing (seen on Python 3.12 and 3.13): each would cost one more failure and
        one more ``retry_after_s`` away from Redis. Dropped at the first failure, the pool reconnects afresh.
        """
        client = self._async_clients.get(asyncio.get_running_loop())
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.connection_pool.disconnect(), self.socket_timeout_s)
        return self._failed(exc)

    # --- sync ------------------------------------------------------------------------------------------

    def get(self, key: str) -> CacheEntry | None:
        self._check_up()
        try:
            raw = self._client.get(key)
        except self._redis.RedisError as exc:
            raise self._sync_failed(exc) from exc
        return None if raw is None else self._decode(raw)

    def set(self, key: str, entry: CacheEntry) -> None:
        payload = self._encode(entry)
        self._check_up()
        try:
            self._client.set(key, payload, px=max(int(entry.ttl_s * 1000), 1))
        except self._redis.RedisError as exc:
            raise self._sync_failed(exc) from exc

    def delete(self, key: str) -> None:
        self._check_up()
        try:
            self._client.delete(key)
        except self._redis.RedisError as exc:
            raise self._sync_failed(exc) from exc

    # --- async -----------------------------------------------------------------------------------------

    def _async_client(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            import redis.asyncio as redis_asyncio

            client = redis_asyncio.Redis.from_url(
                self.url, socket_timeout=self.socket_timeout_s, socket_connect_timeout=self.socket_timeout_s
            )
            self._async_clients[loop] = client
        return client

    async def aget(self, key: str) -> CacheEntry | None:
        self._check_up()
        try:
            raw = await self._async_client().get(key)
        except (self._redis.RedisError, OSError) as exc:
            raise await self._afailed(exc) from exc
        return None if raw is None else self._decode(raw)

    async def aset(self, key: str, entry: CacheEntry) -> None:
        payload = self._encode(entry)
        self._check_up()
        try:
            await self._async_client().set(key, payload, px=max(int(entry.ttl_s * 1000), 1))
        except (self._redis.RedisError, OSError) as exc:
            raise await self._afailed(exc) from exc

    async def adelete(self, key: str) -> None:
        self._check_up()
        try:
            await self._async_client().delete(key)
        except (self._redis.RedisError, OSError) as exc:
            raise await self._afailed(exc) from exc

    def close(self) -> None:
        """Close the sync client's connections."""
        self._client.close()

    async def aclose(self) -> None:
        """Close this event loop's async client; call it before the loop ends, as with redis-py itself."""
        client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
