"""Arize Phoenix, from its own virtualenv, on 127.0.0.1 for the export round-trip tests."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._processes import running
from tests._receivers import free_port

ROOT = Path(__file__).resolve().parents[2]
PHOENIX_PYTHON = Path(os.environ.get("AGENT_ANATOMY_PHOENIX_PYTHON", ROOT / ".venv-phoenix" / "bin" / "python"))


@dataclass(frozen=True)
class Phoenix:
    url: str
    grpc_endpoint: str


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    if not PHOENIX_PYTHON.exists():
        message = f"Phoenix is not installed at {PHOENIX_PYTHON} (make phoenix-venv)"
        if os.environ.get("AGENT_ANATOMY_REQUIRE_PHOENIX"):
            pytest.fail(message)
        pytest.skip(message)
    http_port, grpc_port = free_port(), free_port()
    workdir = tmp_path_factory.mktemp("phoenix")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_SQL_DATABASE_URL": "sqlite:///:memory:",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    url = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 90
    with (
        (workdir / "phoenix.log").open("w") as log,
        running(
            [PHOENIX_PYTHON, Path(__file__).with_name("_phoenix_launch.py")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            grace_s=15,
        ) as process,
    ):
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"Phoenix did not start:\n{(workdir / 'phoenix.log').read_text()[-3000:]}")
                time.sleep(0.2)
        yield Phoenix(url=url, grpc_endpoint=f"http://127.0.0.1:{grpc_port}")
