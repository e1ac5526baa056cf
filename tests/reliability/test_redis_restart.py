"""Redis killed and restarted under a cached workload: no call fails, and the cache comes back."""

from __future__ import annotations

import asyncio
import time

from opentelemetry.trace import StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.levers.cache_backends import CacheBackendError, RedisBackend
from tests._redis import RedisProcess
from tests.conftest import Traced


async def test_workload_survives_redis_killed_and_restarted(traced: Traced, redis_server: RedisProcess) -> None:
    computed = 0
    backend = RedisBackend(redis_server.url, retry_after_s=0.3, socket_timeout_s=0.2)

    @aa.ResultCache(backend).cached(ttl_s=60)
    async def price(item: int) -> int:
        nonlocal computed
        computed += 1
        await asyncio.sleep(0.005)
        return item * 10

    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    stop = asyncio.Event()

    async def worker(offset: int) -> None:
        n = 0
        while not stop.is_set():
            item = (offset + n) % 8
            try:
                results.append((item, await price(item)))
            except BaseException as exc:  # pragma: no cover - the assertion below reports it
                errors.append(exc)
            n += 1
            await asyncio.sleep(0.002)

    workers = [asyncio.create_task(worker(i)) for i in range(8)]
    await asyncio.sleep(0.4)
    redis_server.stop()  # SIGKILL, mid-workload
    killed_at = time.time_ns()
    await asyncio.sleep(0.6)
    redis_server.start()
    restarted_at = time.time_ns()
    await asyncio.sleep(1.2)
    stop.set()
    await asyncio.gather(*workers)
    await backend.aclose()

    assert errors == [], f"calls failed while Redis was down: {errors[:3]}"
    assert results and all(value == item * 10 for item, value in results)
    assert computed < len(results) / 2, "most calls were served from the cache"
    lookups = [s for s in traced.spans() if s.name.startswith("cache_lookup")]
    assert all(s.status.status_code is not StatusCode.ERROR for s in lookups)
    down = [s for s in lookups if killed_at <= s.start_time <= restarted_at]
    assert any(semconv.ANATOMY_CACHE_ERROR in s.attributes for s in down), "the outage shows on the spans"
    late = [s for s in lookups if s.start_time > restarted_at + 500_000_000]
    assert late and sum(bool(s.attributes.get(semconv.ANATOMY_CACHE_HIT)) for s in late) / len(late) > 0.9, (
        "the cache resumes: lookups hit Redis again after the restart"
    )


async def test_at_most_one_failure_after_the_restart(redis_server: RedisProcess) -> None:
    """Connections that died with Redis are dropped together at the first failure, not met one per retry window.

    Before the fix, on Python 3.12 and 3.13 each dead pooled connection failed in turn after the restart,
    one every ``retry_after_s``, so the cache stayed away from a healthy Redis for seconds.
    """
    backend = RedisBackend(redis_server.url, retry_after_s=0.3, socket_timeout_s=0.2)
    failed_at: list[float] = []
    stop = asyncio.Event()

    async def worker(n: int) -> None:
        while not stop.is_set():
            try:
                await backend.aget(f"k{n}")
            except CacheBackendError as exc:
                if exc.__cause__ is not None:  # a real attempt at Redis, not a fail-fast in the retry window
                    failed_at.append(time.monotonic())
            await asyncio.sleep(0.002)

    workers = [asyncio.create_task(worker(n)) for n in range(8)]
    await asyncio.sleep(0.4)
    redis_server.stop()
    await asyncio.sleep(0.6)
    redis_server.start()
    restarted = time.monotonic()
    await asyncio.sleep(1.2)  # four retry windows
    stop.set()
    await asyncio.gather(*workers)
    await backend.aclose()
    after = [round(t - restarted, 3) for t in failed_at if t > restarted]
    assert len(after) <= 1, f"failures {after} s after the restart"
