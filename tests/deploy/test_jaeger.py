"""The compose stack for real: Jaeger v2 and the OpenTelemetry Collector built from their Go modules, and
Debian's Prometheus, each on the file compose mounts (``tests/deploy/_stack.py``), on loopback.

What only the real programs can tell: that the collector starts on ``collector-config.yaml`` and Jaeger on
``deploy/jaeger.yaml`` without a warning; that an agent's spans, exported over gRPC and over HTTP, come back
from Jaeger's API v3 and v1 (and from every file its API and UI let a user download) as the same anatomy as
the agent's own JSON Lines copy; that tail sampling keeps what it claims to keep; and that span metrics and
the fleet view reach Prometheus under the names the recording rules, the dashboard and Jaeger's Monitor tab
read.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import agent_anatomy as aa
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.sources import records_from_file
from agent_anatomy.cli import main
from agent_anatomy.errors import TraceNotFoundError
from agent_anatomy.sim import SimServer
from tests._support_tools import QUESTION, TOOLS
from tests.deploy._stack import (
    Collector,
    Jaeger,
    Prometheus,
    dashboard_queries,
    deploy_prometheus_config,
    first_to_start,
    get_json,
    get_text,
    loopback,
    wait_for,
)

pytestmark = pytest.mark.slow

FAST = {"x-sim-ttft-ms": "120", "x-sim-generation-ms": "60"}
MODEL = "claude-sonnet-4-6"


@dataclass
class Stack:
    prometheus: Prometheus
    jaeger: Jaeger
    collector: Collector
    directory: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Prometheus, Jaeger and the collector, started in compose's order (each waits for the one it sends to)."""
    directory = tmp_path_factory.mktemp("stack")

    def make() -> Stack:
        jaeger_otlp = loopback()
        collector = Collector.on(directory, jaeger_otlp)
        config = deploy_prometheus_config(directory, {"collector:8889": collector.metrics})
        prometheus = Prometheus.on(directory, config)
        return Stack(prometheus, Jaeger.on(directory, prometheus.url, jaeger_otlp), collector, directory)

    with first_to_start(make, lambda s: (s.prometheus.program, s.jaeger.program, s.collector.program)) as stack:
        yield stack


def _configure(collector: Collector, service: str, protocol: str, **options: Any) -> aa.Telemetry:
    """configure() as an application does, exporting to ``collector`` as ``service``."""
    endpoint = f"http://{collector.grpc if protocol == 'grpc' else collector.http}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    return aa.configure(protocol=protocol, endpoint=endpoint, tracer_provider=provider, **options)


async def _agent_turns(base_url: str, turns: int) -> None:
    """The support agent: parallel tool batches through the executor, a cached catalogue lookup."""
    executor = aa.ParallelExecutor(TOOLS)
    async with anthropic.AsyncAnthropic(base_url=base_url, api_key="k", max_retries=0) as client:
        for _ in range(turns):
            await aa.run_agent(
                client, model=MODEL, tools=executor, name="support", messages=QUESTION, extra_headers=FAST
            )


def _wait_for_traces(jaeger: Jaeger, spans: Counter[str]) -> None:
    """Until Jaeger holds each trace with all its ``spans[trace_id]`` (the collector batches, then waits to
    decide whether to keep it)."""
    for trace_id, wanted in spans.items():

        def complete(trace_id: str = trace_id, wanted: int = wanted) -> bool | None:
            [held] = get_json(f"{jaeger.url}/api/traces/{trace_id}")["data"]
            return True if len(held["spans"]) == wanted else None

        wait_for(f"trace {trace_id} whole in Jaeger", complete, timeout_s=30)


def _same(here: Any, there: Any, *, spans: int, where: str = "") -> list[str]:
    """Where two anatomy documents differ. Jaeger's API v1 keeps microseconds: a time may be 1 µs short at each
    end of each span, so a time in ms may differ by 2 µs for each span it sums, one in ns by 1,000 ns a span."""
    if isinstance(here, dict) and isinstance(there, dict):
        if set(here) != set(there):
            return [f"{where}: keys {sorted(set(here) ^ set(there))} differ"]
        return [d for key in here for d in _same(here[key], there[key], spans=spans, where=f"{where}.{key}")]
    if isinstance(here, list) and isinstance(there, list):
        if len(here) != len(there):
            return [f"{where}: {len(here)} items, not {len(there)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(here, there, strict=True))
            for d in _same(a, b, spans=spans, where=f"{where}[{i}]")
        ]
    numbers = (int, float)
    if isinstance(here, numbers) and isinstance(there, numbers) and not isinstance(here, bool):
        tolerance = 1000 * spans if where.endswith("_ns") else 0.002 * spans
        if math.isclose(here, there, rel_tol=1e-4, abs_tol=tolerance):
            return []
    elif here == there:
        return []
    return [f"{where}: {here!r} here, {there!r} from Jaeger"]


def _report_json(source: list[str], output: Path) -> dict[str, Any]:
    assert main(["report", *source, "--format", "json", "--output", str(output)]) == 0
    document: dict[str, Any] = json.loads(output.read_text())
    return document


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_agent_reads_back_from_jaeger_as_from_its_own_jsonl_copy(
    stack: Stack, sim: SimServer, protocol: str, tmp_path: Path
) -> None:
    """Exported through the collector over ``protocol``: Jaeger's API v3 gives the JSONL copy's anatomy to the
    nanosecond; its v1 search and every file a user can download from Jaeger give it to the microsecond."""
    service = f"e2e-{protocol.replace('/', '-')}"
    copy = tmp_path / "copy.jsonl"
    handle = _configure(stack.collector, service, protocol, exporter=["otlp", f"jsonl:{copy}"], metrics=False)
    asyncio.run(_agent_turns(sim.base_url, 2))
    assert handle.force_flush(10.0)
    local = Anatomy.from_file(copy)
    per_trace = Counter(record.trace_id for record in records_from_file(copy))
    assert len(local) == len(per_trace) == 2
    _wait_for_traces(stack.jaeger, per_trace)
    spans = max(per_trace.values())
    url = stack.jaeger.url

    for analysis in local.traces:
        here = Anatomy.from_file(copy, trace_id=analysis.trace_id).to_dict()
        # API v3, live: OTLP JSON with nanoseconds, so exactly the same document
        assert Anatomy.from_jaeger(url, analysis.trace_id).to_dict() == here
        assert _report_json(["--jaeger", url, "--trace-id", analysis.trace_id], tmp_path / "live.json") == here
        assert Anatomy.from_source(f"jaeger+{url}/trace/{analysis.trace_id}").to_dict() == here  # compare's side
        # what a user saves from Jaeger: the v3 answer, the trace page's "Trace JSON" and "Trace JSON
        # (unadjusted)" (API v1, pretty-printed or raw)
        downloads = {
            "v3.json": f"/api/v3/traces/{analysis.trace_id}",
            "trace.json": f"/api/traces/{analysis.trace_id}?prettyPrint=true",
            "unadjusted.json": f"/api/traces/{analysis.trace_id}?raw=true",
        }
        for name, path in downloads.items():
            body, content_type = get_text(url + path)
            if name == "v3.json":  # what the fake never sent: a chunked text/plain answer, OTLP JSON inside
                assert content_type.startswith("text/plain") and body.startswith('{"result":{"resourceSpans"')
            (tmp_path / name).write_text(body)
            there = _report_json([str(tmp_path / name)], tmp_path / f"{name}.report")
            assert not _same(here, there, spans=spans), (name, _same(here, there, spans=spans))

    # API v1's search, live, and as the Jaeger UI's "Download Results" saves it ({"data": [...traces]})
    whole = local.to_dict()
    searched = Anatomy.from_jaeger(url, service=service, since_s=600)
    assert sorted(a.trace_id for a in searched.traces) == sorted(a.trace_id for a in local.traces)
    found = get_json(f"{url}/api/traces?" + urllib.parse.urlencode({"service": service, "limit": 20}))["data"]
    (tmp_path / "results.json").write_text('{"data":' + json.dumps(found, separators=(",", ":")) + "}")
    for there in (searched.to_dict(), _report_json([str(tmp_path / "results.json")], tmp_path / "results.report")):
        there["traces"].sort(key=lambda t: t["start_unix_ns"])
        assert not _same(whole, there, spans=spans), _same(whole, there, spans=spans)


def test_a_trace_jaeger_does_not_hold_is_named_in_one_line(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    absent = "4bf92f3577b34da6a3ce929d0e0e4736"
    with pytest.raises(TraceNotFoundError, match=f"no trace {absent}.*HTTP 404"):
        Anatomy.from_jaeger(stack.jaeger.url, absent)
    assert main(["report", "--jaeger", stack.jaeger.url, "--trace-id", absent]) == 2
    error = capsys.readouterr().err.strip()
    assert absent in error and "\n" not in error and "Traceback" not in error


FAILED, SLOW, ORDINARY, SHARE = 30, 30, 240, 25


def test_tail_sampling_keeps_every_failed_and_slow_trace_and_its_share_of_the_rest(
    stack: Stack, tmp_path: Path
) -> None:
    """300 traces through a collector of its own with TRACE_SAMPLING_PERCENTAGE=25: Jaeger gets all 30 failed
    ones, all 30 over 5 s, and about a quarter of the 240 others (half of them 4.5 s long, under the
    threshold); span metrics count all 300."""
    service = "tail-sampling"
    with first_to_start(
        lambda: Collector.on(stack.directory, stack.jaeger.otlp, TRACE_SAMPLING_PERCENTAGE=str(SHARE)),
        lambda made: (made.program,),
    ) as collector:
        handle = _configure(collector, service, "grpc", exporter="otlp", metrics=False)
        tracer = trace.get_tracer("tail-sampling-test", tracer_provider=handle.tracer_provider)
        kinds: dict[str, str] = {}
        now = time.time_ns()
        for n in range(FAILED + SLOW + ORDINARY):
            kind = "failed" if n < FAILED else "slow" if n < FAILED + SLOW else "ordinary"
            seconds = 6.0 if kind == "slow" else 4.5 if kind == "ordinary" and n % 2 else 0.05
            start = now - int(seconds * 1e9)
            root = tracer.start_span("invoke_agent sampled", start_time=start)
            with trace.use_span(root, end_on_exit=False):
                child = tracer.start_span("execute_tool lookup", start_time=start + 1_000_000)
                if kind == "failed":
                    child.set_status(trace.Status(trace.StatusCode.ERROR, "lookup failed"))
                child.end(end_time=start + 2_000_000)
            root.end(end_time=now)
            kinds[format(root.get_span_context().trace_id, "032x")] = kind
        assert handle.force_flush(10.0)

        wanted = {t for t, k in kinds.items() if k != "ordinary"}
        wait_for(
            "every failed and slow trace in Jaeger",
            lambda: held if wanted <= (held := stack.jaeger.trace_ids(service)) else None,
            timeout_s=30,
        )
        time.sleep(2.0)  # decisions are made a second after a trace's last span: let every one land
        kept = stack.jaeger.trace_ids(service)
        assert kept <= set(kinds)
        ordinary = sum(1 for t in kept if kinds[t] == "ordinary")
        # binomial(240, 0.25): 60 expected, sd 6.7; 30..90 is ±4.5 sd
        assert 30 <= ordinary <= 90, ordinary
        assert wanted <= kept, "every failed and every slow trace is still there"

        metrics = urllib.request.urlopen(f"http://{collector.metrics}/metrics", timeout=10).read().decode()
        counted = sum(
            float(value)
            for labels, value in re.findall(r"^traces_span_metrics_calls_total\{([^}]*)\} (\S+)$", metrics, re.M)
            if f'service_name="{service}"' in labels and 'span_name="invoke_agent sampled"' in labels
        )
        assert counted == FAILED + SLOW + ORDINARY, "span metrics see every trace, sampled or not"


def test_span_metrics_and_the_fleet_view_reach_prometheus_under_the_names_their_readers_read(
    stack: Stack, sim: SimServer, otel_globals: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent exporting traces and metrics over OTLP: Prometheus, scraping the collector, has the span
    metrics Jaeger's Monitor tab reads and the GenAI and fleet-view series the recording rules and the
    dashboard read, each counting what the agent did."""
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "500")
    service, turns = "e2e-metrics", 4
    handle = _configure(
        stack.collector, service, "grpc", exporter=["otlp", "memory"], metrics=True, anatomy_metrics=True
    )
    asyncio.run(_agent_turns(sim.base_url, turns))
    assert handle.force_flush(10.0)
    spans = list(handle.finished_spans())
    chats = sum(1 for s in spans if s.name == f"chat {MODEL}")
    tools = sum(1 for s in spans if s.name.startswith("execute_tool "))
    assert chats >= 2 * turns and tools >= turns
    prometheus = stack.prometheus

    # the collector's span metrics, under the names Jaeger reads with normalize_calls / normalize_duration
    prometheus.wait_for(
        f'sum(traces_span_metrics_calls_total{{service_name="{service}", span_name="chat {MODEL}"}})', chats, 60
    )
    prometheus.wait_for(
        f'sum(traces_span_metrics_calls_total{{service_name="{service}", gen_ai_operation_name="execute_tool"}})',
        tools,
        30,
    )
    buckets = prometheus.query(
        f'traces_span_metrics_duration_milliseconds_bucket{{service_name="{service}", span_name="chat {MODEL}"}}'
    )
    assert buckets and all(row["metric"]["span_kind"] == "SPAN_KIND_CLIENT" for row in buckets)
    assert {row["metric"]["gen_ai_request_model"] for row in buckets} == {MODEL}
    # Jaeger's Monitor tab: an agent has no server spans, so its default span kind shows nothing; the LLM
    # calls are under "Client", the tools and agents under "Internal"
    monitor = f"{stack.jaeger.url}/api/metrics/calls?" + urllib.parse.urlencode(
        {"service": service, "groupByOperation": "true", "lookback": 600_000, "step": 5_000, "ratePer": 60_000}
    )

    def operations(kind: str | None) -> set[str]:
        answer = get_json(monitor + (f"&spanKind={kind}" if kind else ""))
        return {label["value"] for m in answer["metrics"] for label in m["labels"] if label["name"] == "operation"}

    assert operations(None) == set()
    assert f"chat {MODEL}" in wait_for("chat calls in the Monitor tab", lambda: operations("client") or None, 30)
    assert "invoke_agent support" in operations("internal")

    # the application's own metrics, through the collector's metrics pipeline
    prometheus.wait_for(f'sum(gen_ai_client_operation_duration_seconds_count{{exported_job="{service}"}})', chats, 30)
    prometheus.wait_for(f'sum(agent_anatomy_trace_duration_seconds_count{{exported_job="{service}"}})', turns, 30)
    # the recording rules over them, and every dashboard panel that has data to show
    wait_for(
        "the recording rules' first evaluation",
        lambda: (
            prometheus.query(f'agent_anatomy:time_to_first_token_seconds:p95_5m{{gen_ai_request_model="{MODEL}"}}')
            or None
        ),
        60,
    )
    for title, expression in dashboard_queries():
        if any(word in expression for word in ("dropped", "lever", "whatif")):
            continue  # nothing was dropped, and what the levers saved is not this test's
        assert prometheus.query(expression), f"{title}: {expression} has no data"


def test_the_programs_ran_on_their_files_without_a_warning(stack: Stack) -> None:
    """Last, once every test has sent its spans: the collector's log and Jaeger's hold no warning or error
    (a deprecated component name, a refused connection, a dropped batch), but the UI this build lacks."""
    for program in (stack.collector.program, stack.jaeger.program):
        noisy = [
            line
            for line in program.log_text().splitlines()
            if re.search(r"\t(warn|error)\t", line) and "ui assets not embedded" not in line
        ]
        assert not noisy, f"{program.name}:\n" + "\n".join(noisy[:5])
    assert '"service.version": "0.161.0"' in stack.collector.program.log_text()
