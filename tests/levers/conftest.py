from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._redis import RedisProcess, start_redis


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A fresh redis-server for the test, on 127.0.0.1 (skipped locally when not installed)."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
