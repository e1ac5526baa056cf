"""A newcomer's run says which real-backend tests it skipped, and the one command that enables them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_a_run_without_redis_ends_naming_it_and_make_backends() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_ANATOMY_REQUIRE_")}
    env["PATH"] = str(Path(sys.executable).parent)  # no redis-server on it
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability/test_redis_restart.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-2] == (
        "real backends missing, their tests skipped: redis-server (2 tests); `make backends` installs them"
    ), lines[-4:]
    assert lines[-1].startswith("2 skipped")
