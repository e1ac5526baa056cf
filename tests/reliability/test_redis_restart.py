"""Redis killed and restarted under a cached workload: no call fails, and the cache comes back."""

from __future__ import annotations

import asyncio
import time

from opentelemetry.trace import StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.levers.cache_backends import RedisBackend
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
