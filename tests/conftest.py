"""Shared fixtures: a clean environment, a private TracerProvider per test, and OTel global resets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.util._once import Once

import agent_anatomy as aa
from agent_anatomy.sim import SimProfile, SimServer
from agent_anatomy.telemetry import _configure, _runtime
from tests._redis import RedisProcess, started_redis

pytest_plugins = ["tests._leak_guard"]  # fails the test that leaves a child process or a pipe behind


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* or ANTHROPIC_* variable from the developer's shell reaches a test."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "ANTHROPIC_")):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def reset_agent_anatomy() -> Iterator[None]:
    """Each test starts with no configure() in effect and leaves none behind."""
    yield
    handle = _configure._active
    if handle is not None:
        handle.shutdown(timeout_s=2.0)
    _configure._active = None
    _runtime.reset()
    aa.uninstrument_anthropic()
    aa.tracing.uninstrument_mcp()


def _reset_otel_globals() -> None:
    # Test-only: the OTel API lets a process set its global providers once; tests of configure()'s
    # global behaviour need a fresh start each time.
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics._internal._METER_PROVIDER_SET_ONCE = Once()
    metrics._internal._METER_PROVIDER = None
    # and a placeholder that forwards to no provider of an earlier test
    metrics._internal._PROXY_METER_PROVIDER = metrics._internal._ProxyMeterProvider()
    _configure._owned_tracer_provider = None


@pytest.fixture
def otel_globals() -> Iterator[None]:
    """Fresh OTel global providers for the test, restored to unset afterwards."""
    _reset_otel_globals()
    yield
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    _reset_otel_globals()


@dataclass
class Traced:
    """A configured agent-anatomy on a private provider, with what it recorded."""

    handle: aa.Telemetry
    provider: TracerProvider
    metric_reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.handle.finished_spans())  # type: ignore[arg-type]

    def span(self, name: str) -> ReadableSpan:
        matches = [s for s in self.spans() if s.name == name]
        assert len(matches) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return matches[0]


def make_traced(**configure_kwargs: object) -> Traced:
    provider = TracerProvider()
    reader = InMemoryMetricReader()
    handle = aa.configure(
        exporter="memory",
        tracer_provider=provider,
        meter_provider=MeterProvider(metric_readers=[reader]),
        **configure_kwargs,  # type: ignore[arg-type]
    )
    return Traced(handle, provider, reader)


@pytest.fixture(scope="session")
def sim() -> Iterator[SimServer]:
    """The simulated Anthropic API on 127.0.0.1, shared by the session (latency is injected per request)."""
    with SimServer(SimProfile(seed=7)) as server:
        yield server


@pytest.fixture
def traced() -> Traced:
    """agent-anatomy configured with the memory exporter on a TracerProvider of this test's own."""
    return make_traced()


@pytest.fixture
def traced_with_content() -> Traced:
    """As ``traced``, with content capture on."""
    return make_traced(capture_content=True)


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A fresh redis-server for the test, on 127.0.0.1 (skipped locally when not installed)."""
    with started_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


# --- the real backends a newcomer's machine may lack ---------------------------------------------------------

_BACKENDS = {
    "redis-server": "redis-server",
    "chromium": "chromium",
    "prometheus": "prometheus",
    "Phoenix": "Phoenix",
    "peer virtualenvs": "peer instrumentations",
    "make sdk-venvs": "older anthropic and mcp releases",
    "make jaeger": "Jaeger",
    "make collector": "the collector",
}
"""Words in a skip reason that name a real backend the suite uses when it is there."""


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: after pytest's own sections, before the counts
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """One line at the end of the run: which real-backend tests were skipped and the command that enables them."""
    yield
    missing: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        for word, backend in _BACKENDS.items():
            if word in reason:
                missing[backend] = missing.get(backend, 0) + 1
    if missing:
        listed = ", ".join(f"{backend} ({count} test{'s' if count > 1 else ''})" for backend, count in missing.items())
        terminalreporter.write_line(
            f"real backends missing, their tests skipped: {listed}; `make backends` installs them", yellow=True
        )
