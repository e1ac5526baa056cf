"""The compose stack's programs as real processes on loopback, each started on the very file compose mounts.

Jaeger v2 and the collector are built from their Go modules (``make jaeger collector``, into ``build/``);
Prometheus is Debian's. Every address in ``deploy/jaeger.yaml`` and ``collector-config.yaml`` has an
environment variable that moves it (the compose defaults stay as they are), so the tests run those files
unchanged on free ports. Prometheus cannot read the environment in its config, so its file is copied with
the collector's address, the rules' path and the intervals replaced, and nothing else.

Without a binary the tests skip (``make backends`` builds and installs them all), or fail when
``AGENT_ANATOMY_REQUIRE_JAEGER`` (or ``_PROMETHEUS``) is set, as CI does.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests._processes import running
from tests._receivers import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COLLECTOR_CONFIG = ROOT / "collector-config.yaml"
JAEGER_CONFIG = DEPLOY / "jaeger.yaml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus.yml"
PROMETHEUS_RULES = DEPLOY / "prometheus-rules.yml"
JAEGER_BINARY = Path(os.environ.get("AGENT_ANATOMY_JAEGER", ROOT / "build" / "bin" / "jaeger"))
COLLECTOR_BINARY = Path(
    os.environ.get("AGENT_ANATOMY_COLLECTOR", ROOT / "build" / "collector" / "otelcol-agent-anatomy")
)

T = TypeVar("T")


def missing(message: str, requirement: str) -> None:
    """Skip the test for want of a program, or fail it where ``requirement`` says the program must be there."""
    if os.environ.get(requirement):
        pytest.fail(message)
    pytest.skip(message)


def go_binary(path: Path, make_target: str) -> Path:
    if not path.exists():
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        missing(f"{shown} is not built (make {make_target})", "AGENT_ANATOMY_REQUIRE_JAEGER")
    return path


def system_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (Debian: apt-get install prometheus)", "AGENT_ANATOMY_REQUIRE_PROMETHEUS")
    assert path is not None
    return path


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, interval_s: float = 0.25) -> T:
    """``probe()``'s first answer that is not None (errors count as none yet), or an AssertionError after
    ``timeout_s`` naming ``what`` and the last error."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while True:
        try:
            answer = probe()
        except (OSError, ValueError, KeyError) as exc:  # not listening yet, or not the answer yet
            answer, last = None, exc
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout_s:g} s (last: {last!r})")
        time.sleep(interval_s)


def get_json(url: str, timeout_s: float = 10.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        exc.close()  # its body is the open connection
        raise


def get_text(url: str, timeout_s: float = 10.0) -> tuple[str, str]:
    """The body and the Content-Type of a GET."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return response.read().decode("utf-8"), response.headers.get("Content-Type", "")


@dataclass
class Program:
    """One of the stack's servers: its argv and environment, its log, and how to tell it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str
    log: Path
    _process: subprocess.Popen[Any] | None = field(default=None, repr=False)

    @contextlib.contextmanager
    def serving(self, timeout_s: float = 60.0) -> Iterator[Program]:
        with self.log.open("w") as log, running(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT) as proc:
            self._process = proc

            def ready() -> bool | None:
                if proc.poll() is not None:
                    log = self.log_text()
                    failure = PortTaken if "address already in use" in log else AssertionError
                    raise failure(f"{self.name} exited with {proc.returncode}:\n{log[-3000:]}")
                with urllib.request.urlopen(self.ready_url, timeout=2):
                    return True

            wait_for(f"{self.name} ready at {self.ready_url}", ready, timeout_s)
            yield self

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class PortTaken(AssertionError):
    """A program could not listen: between choosing a free port and binding it, something else took it."""


_HANDED_OUT: set[int] = set()


def loopback() -> str:
    """A free ``127.0.0.1:PORT`` to serve on, never one this process handed out before."""
    port = free_port()
    while port in _HANDED_OUT:
        port = free_port()
    _HANDED_OUT.add(port)
    return f"127.0.0.1:{port}"


@contextlib.contextmanager
def first_to_start(make: Callable[[], T], programs: Callable[[T], Sequence[Program]], attempts: int = 3) -> Iterator[T]:
    """What ``make()`` makes, its ``programs`` started in order; made again, on fresh ports, when one of them
    found its port taken (an outgoing connection may take a port between its choice and its bind)."""
    for attempt in range(attempts):
        made = make()
        with contextlib.ExitStack() as started:
            try:
                for program in programs(made):
                    started.enter_context(program.serving())
            except PortTaken:
                if attempt + 1 == attempts:
                    raise
                continue
            yield made
            return


@dataclass
class Jaeger:
    """Jaeger v2 on ``deploy/jaeger.yaml``: OTLP gRPC in, traces in memory, its query service's UI and APIs."""

    program: Program
    otlp: str
    url: str

    @classmethod
    def on(cls, directory: Path, prometheus_url: str, otlp: str) -> Jaeger:
        query = loopback()
        env = _base_env() | {
            "JAEGER_OTLP_GRPC_ENDPOINT": otlp,
            "JAEGER_QUERY_HTTP_ENDPOINT": query,
            "JAEGER_QUERY_GRPC_ENDPOINT": loopback(),
            "JAEGER_PROMETHEUS_URL": prometheus_url,
            "JAEGER_TELEMETRY_HOST": "127.0.0.1",
            "JAEGER_TELEMETRY_PORT": loopback().rsplit(":", 1)[1],
        }
        binary = go_binary(JAEGER_BINARY, "jaeger")
        argv = [str(binary), "--config", str(JAEGER_CONFIG)]
        url = f"http://{query}"
        return cls(Program("jaeger", argv, env, f"{url}/api/services", directory / "jaeger.log"), otlp, url)

    def trace_ids(self, service: str, limit: int = 2000) -> set[str]:
        """The ids of the traces Jaeger holds for ``service`` (its v1 search, the last hour)."""
        now_us = int(time.time() * 1e6)
        query = urllib.parse.urlencode(
            {"service": service, "start": now_us - 3_600_000_000, "end": now_us + 60_000_000, "limit": limit}
        )
        answer = get_json(f"{self.url}/api/traces?{query}")
        return {str(trace["traceID"]).rjust(32, "0") for trace in answer["data"] or []}


@dataclass
class Collector:
    """The collector built from ``deploy/go/collector/manifest.yaml`` on ``collector-config.yaml``."""

    program: Program
    grpc: str
    http: str
    metrics: str

    @classmethod
    def on(cls, directory: Path, jaeger_otlp: str, **settings: str) -> Collector:
        grpc, http, metrics, health = loopback(), loopback(), loopback(), loopback()
        env = (
            _base_env()
            | {
                "COLLECTOR_OTLP_GRPC_ENDPOINT": grpc,
                "COLLECTOR_OTLP_HTTP_ENDPOINT": http,
                "COLLECTOR_PROMETHEUS_ENDPOINT": metrics,
                "COLLECTOR_HEALTH_ENDPOINT": health,
                "COLLECTOR_TELEMETRY_HOST": "127.0.0.1",
                "COLLECTOR_TELEMETRY_PORT": loopback().rsplit(":", 1)[1],
                "JAEGER_OTLP_ENDPOINT": jaeger_otlp,
                # a test cannot wait out the compose defaults (10 s to decide, 15 s between flushes)
                "TRACE_DECISION_WAIT": "1s",
                "SPAN_METRICS_FLUSH_INTERVAL": "1s",
            }
            | settings
        )
        binary = go_binary(COLLECTOR_BINARY, "collector")
        argv = [str(binary), "--config", str(COLLECTOR_CONFIG)]
        name = f"collector {' '.join(f'{k}={v}' for k, v in settings.items())}".strip()
        log = directory / f"collector-{len(list(directory.glob('collector-*.log')))}.log"
        return cls(Program(name, argv, env, f"http://{health}/", log), grpc, http, metrics)


@dataclass
class Prometheus:
    """Debian's Prometheus on a copy of a config, with the recording rules of ``deploy/``."""

    program: Program
    url: str

    @classmethod
    def on(cls, directory: Path, config: str) -> Prometheus:
        address = loopback()
        path = directory / "prometheus.yml"
        path.write_text(config)
        argv = [
            system_binary("prometheus"),
            f"--config.file={path}",
            f"--storage.tsdb.path={directory / ('prometheus-data-' + address.rsplit(':', 1)[1])}",
            f"--web.listen-address={address}",
            "--log.level=warn",
        ]
        url = f"http://{address}"
        return cls(Program("prometheus", argv, _base_env(), f"{url}/-/ready", directory / "prometheus.log"), url)

    def query(self, expression: str) -> list[dict[str, Any]]:
        answer = get_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expression}))
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    def value(self, expression: str) -> float | None:
        result = self.query(expression)
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, expression: str, wanted: float, timeout_s: float) -> None:
        """Until ``expression``'s first value is ``wanted``."""
        wait_for(
            f"{expression} == {wanted:g}", lambda: True if self.value(expression) == wanted else None, timeout_s, 0.5
        )


DASHBOARD = DEPLOY / "grafana" / "dashboards" / "agent-anatomy.json"


def dashboard_queries() -> list[tuple[str, str]]:
    """Each panel's title and PromQL, for every query of the Grafana dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def deploy_prometheus_config(directory: Path, scrape: Mapping[str, str]) -> str:
    """``deploy/prometheus.yml`` with each compose address in ``scrape`` replaced by its loopback one, every
    interval 1 s, and the rules read from a copy of ``deploy/prometheus-rules.yml`` in ``directory`` that
    differs only in its interval; anything else in either file is left as it is."""
    rules = PROMETHEUS_RULES.read_text()
    assert rules.count("interval: 30s") == 1, "the recording rules' group interval moved"
    (directory / "rules.yml").write_text(rules.replace("interval: 30s", "interval: 1s"))
    text = PROMETHEUS_CONFIG.read_text()
    replacements = {
        **{f'"{compose}"': f'"{loopback}"' for compose, loopback in scrape.items()},
        "/etc/prometheus/rules.yml": str(directory / "rules.yml"),
        "scrape_interval: 15s": "scrape_interval: 1s\n  evaluation_interval: 1s",
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, f"deploy/prometheus.yml no longer holds {old!r} once"
        text = text.replace(old, new)
    return text


def _base_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
