"""ResultCache and @cached: keys, TTL, LRU, single flight, spans, and Redis failing open."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections import Counter

import pytest
from opentelemetry.trace import StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.levers import CacheEntry, MemoryBackend, RedisBackend
from agent_anatomy.levers.cache_backends import CacheBackendError
from tests._redis import RedisProcess
from tests.conftest import Traced


def _lookups(traced: Traced) -> list:
    return [s for s in traced.spans() if s.name.startswith("cache_lookup")]


# --- hits, misses, spans ------------------------------------------------------------------------------


def test_hit_and_miss_spans(traced: Traced) -> None:
    cache = aa.ResultCache(default_ttl_s=60)
    calls = Counter()

    @cache.cached
    def price(sku: str, currency: str = "EUR") -> float:
        calls[sku] += 1
        time.sleep(0.05)
        return 9.5

    assert price("A") == 9.5
    assert price(sku="A", currency="EUR") == 9.5, "keyword and positional calls share the entry"
    assert calls == {"A": 1}
    miss, hit = _lookups(traced)
    assert miss.name == "cache_lookup price"
    assert miss.attributes[semconv.ANATOMY_CACHE_HIT] is False
    assert hit.attributes[semconv.ANATOMY_CACHE_HIT] is True
    assert hit.attributes[semconv.ANATOMY_CACHE_BACKEND] == "memory"
    assert hit.attributes[semconv.ANATOMY_CACHE_TTL] == 60
    assert hit.attributes[semconv.ANATOMY_CACHE_SAVED_TIME] >= 0.05
    assert 0 <= hit.attributes[semconv.ANATOMY_CACHE_AGE] < 5
    assert hit.attributes[semconv.ANATOMY_CACHE_KEY_HASH] == miss.attributes[semconv.ANATOMY_CACHE_KEY_HASH]
    assert semconv.ANATOMY_CACHE_KEY not in hit.attributes, "no raw key unless content capture is on"
    assert hit.attributes[semconv.ANATOMY_CACHE_FUNCTION].endswith("test_hit_and_miss_spans.<locals>.price")


def test_raw_key_only_with_content_capture(traced_with_content: Traced) -> None:
    @aa.ResultCache().cached
    def f(user: str) -> str:
        return user

    f("SECRET-USER")
    [lookup] = _lookups(traced_with_content)
    assert "SECRET-USER" in lookup.attributes[semconv.ANATOMY_CACHE_KEY]


async def test_async_functions_are_cached(traced: Traced) -> None:
    calls = 0

    @aa.cached(ttl_s=30, cache=aa.ResultCache())
    async def fetch(url: str) -> dict[str, str]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return {"url": url}

    assert await fetch("u") == {"url": "u"}
    assert await fetch("u") == {"url": "u"}
    assert calls == 1
    assert [s.attributes[semconv.ANATOMY_CACHE_HIT] for s in _lookups(traced)] == [False, True]


def test_module_level_cached_uses_the_default_cache() -> None:
    @aa.cached
    def square(x: int) -> int:
        return x * x

    assert square(3) == 9 and square(3) == 9
    assert len(aa.levers.default_cache().backend) >= 1  # type: ignore[arg-type]


def test_lookup_span_is_a_sibling_of_the_computation(traced: Traced) -> None:
    @aa.ResultCache().cached
    @aa.tool
    def lookup(q: str) -> str:
        return q

    @aa.agent
    def run() -> None:
        lookup("x")
        lookup("x")

    run()
    agent = traced.span("invoke_agent run")
    [tool_span] = [s for s in traced.spans() if s.name == "execute_tool lookup"]
    assert tool_span.parent.span_id == agent.context.span_id, "the lookup span has ended before the miss computes"
    assert all(s.parent.span_id == agent.context.span_id for s in _lookups(traced))


# --- keys -----------------------------------------------------------------------------------------------


def test_keys_are_canonical_and_typed() -> None:
    cache = aa.ResultCache()
    seen: list[object] = []

    @cache.cached
    def f(value: object, options: dict | None = None) -> int:
        seen.append(value)
        return len(seen)

    assert f({"b": 1, "a": [1, 2]}) == f({"a": [1, 2], "b": 1}), "mapping order does not matter"
    assert f((1, 2)) == f([1, 2]), "a tuple and a list of the same items are one key"
    distinct = [f(1), f(1.0), f(True), f("1")]
    assert len(set(distinct)) == 4, "1, 1.0, True and '1' are different keys"
    assert f({1, 2, 3}) == f({3, 2, 1})
    assert f(1, options=None) == f(1), "defaults are bound into the key"


def test_unkeyable_argument_names_the_parameter() -> None:
    @aa.ResultCache().cached
    def f(user: str, connection: object) -> str:
        return user

    with pytest.raises(TypeError, match=r"argument 'connection' cannot be part of a cache key .* pass key=\.\.\."):
        f("u", object())


def test_custom_key_and_version() -> None:
    cache = aa.ResultCache()
    calls = 0

    class Client:
        pass

    @cache.cached(key=lambda client, user: user)
    def profile(client: Client, user: str) -> str:
        nonlocal calls
        calls += 1
        return user

    assert profile(Client(), "u") == profile(Client(), "u")
    assert calls == 1

    @cache.cached(version=2)
    def v2(x: int) -> int:
        return x

    @cache.cached
    def v1(x: int) -> int:
        return x

    assert v2(1) == v1(1) == 1


# --- TTL and LRU -----------------------------------------------------------------------------------------


def test_ttl_expiry() -> None:
    calls = 0

    @aa.ResultCache().cached(ttl_s=0.2)
    def f() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert f() == 1 and f() == 1
    time.sleep(0.25)
    assert f() == 2


def test_lru_eviction_by_entries_and_bytes() -> None:
    backend = MemoryBackend(max_entries=2)
    cache = aa.ResultCache(backend)
    calls = Counter()

    @cache.cached
    def f(x: int) -> int:
        calls[x] += 1
        return x

    f(1)
    f(2)
    f(1)  # 1 becomes the most recently used
    f(3)  # evicts 2
    f(1)
    f(2)
    assert calls == {1: 1, 2: 2, 3: 1}
    assert len(backend) == 2

    by_bytes = MemoryBackend(max_entries=100, max_bytes=3000)
    for i in range(10):
        by_bytes.set(f"k{i}", CacheEntry("x" * 1000, time.time(), 0.0, 60))
    assert by_bytes.size_bytes <= 3000 and len(by_bytes) <= 3
    assert by_bytes.get("k9") is not None and by_bytes.get("k0") is None
    with pytest.raises(ValueError, match="must be positive"):
        MemoryBackend(max_entries=0)


# --- single flight ---------------------------------------------------------------------------------------


async def test_concurrent_misses_run_the_function_once(traced: Traced) -> None:
    calls = 0

    @aa.ResultCache().cached
    async def slow(key: str) -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        return key.upper()

    results = await asyncio.gather(*(slow("k") for _ in range(100)))
    assert results == ["K"] * 100
    assert calls == 1
    lookups = _lookups(traced)
    assert sum(1 for s in lookups if s.attributes.get(semconv.ANATOMY_CACHE_SINGLE_FLIGHT_WAIT)) == 99


async def test_a_failure_is_shared_and_not_cached() -> None:
    calls = 0

    @aa.ResultCache().cached
    async def flaky() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        raise ConnectionError("upstream down")

    outcomes = await asyncio.gather(*(flaky() for _ in range(10)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert calls == 1
    with pytest.raises(ConnectionError):
        await flaky()
    assert calls == 2, "the exception was not cached"


@pytest.mark.parametrize("error", [StopIteration("no more"), KeyboardInterrupt(), ValueError("bad")])
def test_the_functions_own_exception_comes_out_unchanged(traced: Traced, error: BaseException) -> None:
    """Whatever the function raises reaches the caller as it was raised (not a RuntimeError, no added context),
    and its lookup span is recorded all the same."""

    @aa.ResultCache().cached
    def failing() -> None:
        raise error

    with pytest.raises(type(error)) as raised:
        failing()
    assert raised.value is error and raised.value.__context__ is None
    assert [s.attributes[semconv.ANATOMY_CACHE_HIT] for s in _lookups(traced)] == [False]


def test_threads_share_one_computation() -> None:
    calls = 0
    barrier = threading.Barrier(8)

    @aa.ResultCache().cached
    def slow(x: int) -> int:
        nonlocal calls
        calls += 1
        time.sleep(0.2)
        return x

    def worker(results: list[int]) -> None:
        barrier.wait()
        results.append(slow(7))

    results: list[int] = []
    threads = [threading.Thread(target=worker, args=(results,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [7] * 8 and calls == 1


def test_a_call_that_needs_its_own_key_computes_instead_of_waiting_on_itself() -> None:
    cache = aa.ResultCache()

    @cache.cached(key=lambda n, depth=0: n)  # depth is not part of the key: the inner call has the same key
    def f(n: int, depth: int = 0) -> int:
        return n if depth == 2 else f(n, depth + 1)

    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(f(5)), daemon=True)
    worker.start()
    worker.join(2)
    assert results == [5], "a leader waiting for its own flight would never return"


# --- Redis -----------------------------------------------------------------------------------------------


def test_redis_round_trip_across_caches(traced: Traced, redis_server: RedisProcess) -> None:
    calls = 0

    def make() -> aa.ResultCache:
        return aa.ResultCache(RedisBackend(redis_server.url), namespace="test")

    first, second = make(), make()

    def compute(sku: str) -> dict[str, object]:
        nonlocal calls
        calls += 1
        return {"sku": sku, "prices": [1, 2]}

    a, b = first.cached(compute), second.cached(compute)
    assert a("A") == {"sku": "A", "prices": [1, 2]}
    assert b("A") == {"sku": "A", "prices": [1, 2]}, "a second cache (another process) sees the entry"
    assert calls == 1
    hit = _lookups(traced)[-1]
    assert hit.attributes[semconv.ANATOMY_CACHE_BACKEND] == "redis"
    assert hit.attributes[semconv.ANATOMY_CACHE_HIT] is True


async def test_redis_async_and_ttl(redis_server: RedisProcess) -> None:
    calls = 0
    backend = RedisBackend(redis_server.url)

    @aa.ResultCache(backend).cached(ttl_s=0.3)
    async def f(x: int) -> int:
        nonlocal calls
        calls += 1
        return x

    assert await f(1) == 1 and await f(1) == 1
    assert calls == 1
    await asyncio.sleep(0.4)
    await f(1)
    assert calls == 2
    await backend.aclose()
    backend.close()


def test_redis_stopped_mid_test_fails_open_then_resumes(traced: Traced, redis_server: RedisProcess) -> None:
    backend = RedisBackend(redis_server.url, retry_after_s=0.5, socket_timeout_s=0.2)
    calls = 0

    @aa.ResultCache(backend).cached
    def f(x: int) -> int:
        nonlocal calls
        calls += 1
        return x * 2

    assert f(1) == 2 and f(1) == 2 and calls == 1
    redis_server.stop()
    started = time.perf_counter()
    assert [f(2) for _ in range(20)] == [4] * 20, "every call succeeds with Redis down"
    elapsed = time.perf_counter() - started
    failed = [s for s in _lookups(traced) if semconv.ANATOMY_CACHE_ERROR in s.attributes]
    assert failed and "Redis at" in failed[0].attributes[semconv.ANATOMY_CACHE_ERROR]
    # A dead Redis does not stall each call: one real attempt per 0.5 s retry window, the rest fail fast.
    attempts = [s for s in failed if " failed: " in s.attributes[semconv.ANATOMY_CACHE_ERROR]]
    assert 1 <= len(attempts) <= 1 + int(elapsed / 0.5), f"{len(attempts)} attempts in {elapsed:.2f} s"
    assert all(s.status.status_code is not StatusCode.ERROR for s in _lookups(traced))
    redis_server.start()
    time.sleep(0.6)
    calls_before = calls
    f(3)
    f(3)
    assert calls == calls_before + 1, "the cache resumes once Redis is back"


def test_redis_refuses_pickles_unless_asked(redis_server: RedisProcess) -> None:
    pickler = RedisBackend(redis_server.url, serializer="pickle")
    entry = CacheEntry({"when": (1, 2)}, time.time(), 0.1, 60)
    pickler.set("k", entry)
    assert pickler.get("k") == entry
    with pytest.raises(CacheBackendError, match="refuses to unpickle"):
        RedisBackend(redis_server.url).get("k")


def test_redis_json_values_that_do_not_serialise_are_returned_not_cached(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    @dataclasses.dataclass
    class Point:
        x: int

    calls = 0

    @aa.ResultCache(RedisBackend(redis_server.url)).cached
    def f(x: int) -> Point:
        nonlocal calls
        calls += 1
        return Point(x)

    assert f(1) == Point(1) and f(1) == Point(1)
    assert calls == 2
    assert caplog.text.count("could not cache a result of cache_lookup f") == 1


def test_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_redis(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "redis" or name.startswith("redis."):
            raise ImportError("No module named 'redis'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_redis)
    with pytest.raises(aa.MissingDependencyError, match=r"pip install 'agent-anatomy\[redis\]'"):
        RedisBackend()
