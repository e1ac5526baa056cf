"""A real redis-server on 127.0.0.1 for tests: started, stopped and restarted on the same port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests._processes import reap
from tests._receivers import free_port

REQUIRE_ENV = "AGENT_ANATOMY_REQUIRE_REDIS"


class RedisProcess:
    """One redis-server on a fixed port; ``stop()`` kills it as a crash would, ``start()`` brings it back."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            reap(self.process, stop=signal.SIGKILL)
            self.process = None


@contextmanager
def started_redis(directory: Path) -> Iterator[RedisProcess]:
    """A running redis-server for the block, stopped however it ends (skipped, or failed in CI, if not installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(message)
        pytest.skip(message)
    redis = RedisProcess(binary, directory)
    try:
        redis.start()
        yield redis
    finally:
        redis.stop()
