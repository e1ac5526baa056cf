"""Every bad input of the issue's table, run as a user runs it: exit status 2 and one line naming the problem.

``configure()`` is a library call, so its ``ConfigurationError`` ends a script with Python's status 1;
its message is still one line naming the problem, not a ``TypeError`` from deep inside.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._processes import running

FIXTURES = Path(__file__).parent / "anatomy" / "fixtures"
JAEGER = FIXTURES / "jaeger_v1.json"
TRACE = "5b8aa5a2d2c872e8321cf37308d69df2"


def _run(*argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_anatomy.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def _one_line_error(result: subprocess.CompletedProcess[str], status: int, *needles: str) -> str:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_binary_file(tmp_path: Path) -> None:
    _one_line_error(_run("report", "/bin/ls"), 2, "/bin/ls is not a text file", "not UTF-8")


def test_random_bytes(tmp_path: Path) -> None:
    noise = tmp_path / "noise.json"
    noise.write_bytes(bytes(random.Random(12).randrange(128, 256) for _ in range(4096)))
    _one_line_error(_run("report", str(noise)), 2, f"{noise} is not a text file")


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    with_bom = tmp_path / "bom.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + JAEGER.read_bytes())
    result = _run("report", str(with_bom), "--no-color")
    assert result.returncode == 0, result.stderr
    assert f"Latency anatomy · trace {TRACE}" in result.stdout


def test_output_into_a_missing_directory() -> None:
    _one_line_error(
        _run("report", str(JAEGER), "--output", "/nonexistent/dir/x"),
        2,
        "--output /nonexistent/dir/x",
        "No such file or directory",
    )


def test_trace_id_that_is_not_hex() -> None:
    _one_line_error(_run("report", str(JAEGER), "--trace-id", "nothex"), 2, "'nothex' is not a trace id")


def test_trace_id_prefix_is_accepted() -> None:
    result = _run("report", str(JAEGER), "--trace-id", TRACE[:8], "--no-color")
    assert result.returncode == 0, result.stderr
    assert f"trace {TRACE}" in result.stdout


def test_unknown_trace_id_lists_the_ids_there() -> None:
    _one_line_error(
        _run("report", str(JAEGER), "--trace-id", "8135a4a1"), 2, "trace 8135a4a1 is not among the 1 trace", TRACE
    )


def test_simulator_profile_that_is_binary() -> None:
    _one_line_error(_run("sim", "--profile", "/bin/ls"), 2, "profile /bin/ls is not a text file")


def test_simulator_refuses_a_port_another_process_serves() -> None:
    with running(
        [sys.executable, "-m", "agent_anatomy.cli", "sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as first:
        try:
            assert first.stdout is not None
            banner = first.stdout.readline()
            port = banner.split("127.0.0.1:")[1].split()[0].rstrip(";)")
            second = _run("sim", "--port", port, timeout=60)
            _one_line_error(second, 2, f"cannot listen on 127.0.0.1:{port}", "in use")
        finally:
            first.terminate()
            first.communicate(timeout=30)


@pytest.mark.parametrize(
    ("code", "env", "message"),
    [
        (
            "aa.configure(exporter='otlp', metrics=False)",
            {"OTEL_EXPORTER_OTLP_TIMEOUT": "abc"},
            "ConfigurationError: OTEL_EXPORTER_OTLP_TIMEOUT='abc' is not a timeout",
        ),
        ("aa.configure(exporter=42)", {}, "ConfigurationError: exporter=42 is not an exporter"),
    ],
    ids=["OTEL_EXPORTER_OTLP_TIMEOUT=abc", "exporter=42"],
)
def test_configure_errors_name_the_setting(code: str, env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import agent_anatomy as aa\n{code}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"agent_anatomy.errors.{message}"), result.stderr


def test_otlp_timeout_in_the_cli_is_one_line() -> None:
    _one_line_error(
        _run("demo", "--export", "otlp", env={"OTEL_EXPORTER_OTLP_TIMEOUT": "abc"}),
        2,
        "OTEL_EXPORTER_OTLP_TIMEOUT='abc' is not a timeout",
    )


def test_ctrl_c_during_the_demo_exits_130_quietly() -> None:
    with running(
        [sys.executable, "-m", "agent_anatomy.cli", "demo", "--no-color"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as demo:
        assert demo.stdout is not None
        first_line = demo.stdout.readline()
        assert "loading the anthropic SDK" in first_line, "the demo says what it does before heavy imports"
        assert "naive" in demo.stdout.readline().lower(), "the first agent is running"
        time.sleep(0.5)
        demo.send_signal(signal.SIGINT)
        _, stderr = demo.communicate(timeout=60)
    assert demo.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.strip() == "agent-anatomy: interrupted", stderr
