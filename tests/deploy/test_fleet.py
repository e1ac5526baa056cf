"""The fleet view against a real Prometheus: recording rules under promtool, and an agent process scraped.

Debian's ``prometheus`` package gives both ``prometheus`` and ``promtool``; without it these tests are
skipped (``make backends`` installs it), or fail when ``AGENT_ANATOMY_REQUIRE_PROMETHEUS`` is set, as CI does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.metrics import BUCKETS_S, PER_TOKEN_BUCKETS_S
from agent_anatomy.anatomy.speeds import prometheus_speeds, speeds_from
from agent_anatomy.sim import SimServer
from agent_anatomy.sim.profiles import ModelProfile, SimProfile
from agent_anatomy.stats import percentile
from tests._processes import running
from tests._receivers import free_port
from tests.deploy._stack import DASHBOARD, Prometheus, dashboard_queries, system_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MODELS = ("claude-haiku-4-5", "claude-sonnet-4-6")
TURNS = 200


def _binary(name: str) -> str:
    return system_binary(name)


def _prometheus_of(target: str, directory: Path) -> Prometheus:
    """Debian's Prometheus scraping one target every second, with deploy's recording rules."""
    return Prometheus.on(
        directory,
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {DEPLOY / 'prometheus-rules.yml'}\n"
        f"scrape_configs:\n  - job_name: fleet-agent\n    static_configs:\n      - targets: ['{target}']\n",
    )


@pytest.fixture
def sim() -> Iterator[SimServer]:
    fast = {"tokens_per_s": (4000.0, 4000.0), "output_tokens": (8, 8)}
    profile = SimProfile(
        seed=7,
        models={
            MODELS[0]: ModelProfile(ttft_ms=(40, 240), **fast),  # type: ignore[arg-type]
            MODELS[1]: ModelProfile(ttft_ms=(150, 700), **fast),  # type: ignore[arg-type]
        },
    )
    with SimServer(profile) as server:
        yield server


def _bucket(value: float, bounds: tuple[float, ...] = BUCKETS_S) -> tuple[float, float]:
    """The histogram bucket (lower, upper] holding ``value``."""
    lower = 0.0
    for upper in (*bounds, float("inf")):
        if value <= upper:
            return lower, upper
        lower = upper
    raise AssertionError(value)


@pytest.mark.slow
def test_prometheus_aggregates_what_each_trace_showed(sim: SimServer, tmp_path: Path) -> None:
    """200 agent turns, scraped by a real Prometheus: its quantiles of time to first token per model fall in
    the bucket of the in-process anatomies' own, and its per-phase sums equal theirs."""
    metrics_port, spans = free_port(), tmp_path / "spans.jsonl"
    prometheus = _prometheus_of(f"127.0.0.1:{metrics_port}", tmp_path)
    agent_argv = [sys.executable, Path(__file__).parent / "_fleet_agent.py", sim.base_url, metrics_port, spans, TURNS]
    with (
        running(agent_argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as agent,
        prometheus.program.serving(),
    ):
        assert agent.stdout is not None and agent.stdout.readline().strip() == "done", agent.stderr.read()  # type: ignore[union-attr]
        prometheus.wait_for("sum(agent_anatomy_trace_duration_seconds_count)", TURNS, timeout_s=60)

        anatomy = Anatomy.from_file(spans, large_after=10**9)  # every trace analysed here, kept whole
        assert len(anatomy) == TURNS
        for model in MODELS:
            ttfts = sorted(
                c.ttft_ns / 1e9 for a in anatomy.traces for c in a.llm_calls if c.model == model and c.ttft_ns
            )
            assert len(ttfts) == TURNS // 2
            for quantile in (0.5, 0.95):
                wanted = percentile(ttfts, quantile)
                assert wanted is not None
                scraped = prometheus.value(
                    f"histogram_quantile({quantile}, sum by (le) "
                    f'(agent_anatomy_llm_time_to_first_token_seconds_bucket{{gen_ai_request_model="{model}"}}))'
                )
                lower, upper = _bucket(wanted)
                assert scraped is not None and lower <= scraped <= upper, (model, quantile, wanted, scraped)

        # the fleet view as a source of speeds for the what-ifs: each model's medians, in the in-process bucket
        known = speeds_from(f"prometheus+{prometheus.url}?window=all")
        for model in MODELS:
            calls = [c for a in anatomy.traces for c in a.llm_calls if c.model == model and c.tokens_per_second]
            ttft = percentile(sorted(c.ttft_ns / 1e9 for c in calls if c.ttft_ns), 0.5)
            per_token = percentile(sorted(1 / c.tokens_per_second for c in calls if c.tokens_per_second), 0.5)
            assert ttft is not None and per_token is not None
            speed = known[model]
            lower, upper = _bucket(ttft)
            assert lower <= speed.ttft_ns / 1e9 <= upper, (model, ttft, speed)
            lower, upper = _bucket(per_token, PER_TOKEN_BUCKETS_S)
            assert lower <= 1 / speed.tokens_per_second <= upper, (model, per_token, speed)
            assert speed.evidence == "measured" and speed.calls == TURNS // 2
            assert speed.basis == f"the fleet view's Prometheus at {prometheus.url}, all counted (100 calls)"
        recent = prometheus_speeds(prometheus.url, "1h")  # what the window saw of them
        # increase() counts from the first scrape, and extrapolates towards the window's edges: above none, and up
        # to about an interval's worth more than the calls made (so it counted more than were made, once, in CI)
        assert set(recent) == set(MODELS) and all(0 < s.calls <= 1.5 * (TURNS // 2) for s in recent.values())

        phases = {
            row["metric"]["anatomy_phase"]: float(row["value"][1])
            for row in prometheus.query("sum by (anatomy_phase) (agent_anatomy_phase_duration_seconds_sum)")
        }
        in_process: dict[str, float] = {}
        for analysis in anatomy.traces:
            for phase, ns in analysis.phases.items():
                if ns:
                    in_process[phase] = in_process.get(phase, 0.0) + ns / 1e9
        assert set(phases) == set(in_process)
        for phase, seconds in in_process.items():
            assert phases[phase] == pytest.approx(seconds, abs=1e-6), phase
        assert "llm_time_to_first_token" in phases and "llm_generation" in phases

        # cardinality stays bounded: per agent, 18 series a histogram label set (15 buckets, +Inf, sum, count)
        # for duration, 11 phases, 8 critical-path phases, 4 what-if kinds, 2 levers, and TTFT and first text
        # per model and step, time per output token per model (17 series); no trace ids in any label
        series = prometheus.value('count({__name__=~"agent_anatomy_.+", job="fleet-agent"})')
        assert series is not None and series <= 18 * (1 + 11 + 8 + 4 + 2 + 3 * len(MODELS)) + 4
        labels = {key for row in prometheus.query('{__name__=~"agent_anatomy_.+"}') for key in row["metric"]}
        assert not {key for key in labels if "trace" in key or "span" in key}, labels

        # the dashboard on this data: every panel's query answers once the rules have two samples to rate
        prometheus.wait_for("count(agent_anatomy:time_to_first_token_seconds:p95_5m)", len(MODELS), timeout_s=60)
        for title, expression in dashboard_queries():
            if any(word in expression for word in ("dropped", "lever", "whatif")):
                continue  # nothing was dropped, no lever ran, one streamed call leaves no what-if
            assert prometheus.query(expression), f"{title}: {expression} has no data"


def test_the_stack_loads_the_recording_rules() -> None:
    """The compose Prometheus mounts the rules file where its config names it, and it holds every rule."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    mounts = dict(
        volume.removesuffix(":ro").split(":", 1)[::-1] for volume in compose["services"]["prometheus"]["volumes"]
    )
    [rules] = config["rule_files"]
    assert mounts[rules] == "./deploy/prometheus-rules.yml"
    records = [
        rule["record"]
        for group in yaml.safe_load((DEPLOY / "prometheus-rules.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    assert len(records) == len(set(records)) == 9


PROVISIONING = DEPLOY / "grafana" / "provisioning"


def test_every_dashboard_query_parses_and_names_what_exists(tmp_path: Path) -> None:
    """Each panel's PromQL is checked by promtool (as a recording rule of its own); it reads a recording rule
    of deploy/prometheus-rules.yml or a series the processor writes."""
    import yaml

    from agent_anatomy import semconv

    queries = dashboard_queries()
    rules = tmp_path / "dashboard-rules.yml"
    rules.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboard",
                        "rules": [{"record": f"panel:q{i}", "expr": e} for i, (_, e) in enumerate(queries)],
                    }
                ]
            }
        )
    )
    checked = subprocess.run([_binary("promtool"), "check", "rules", str(rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    recorded = {
        rule["record"]
        for group in yaml.safe_load((DEPLOY / "prometheus-rules.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    written = {
        name.replace(".", "_") + suffix
        for name in (v for k, v in vars(semconv).items() if k.startswith("METRIC_ANATOMY_"))
        for suffix in ("_seconds_bucket", "_seconds_sum", "_seconds_count", "_total")
    }
    for title, expression in queries:
        for name in re.findall(r"\b(agent_anatomy[:_][a-z0-9_:]+)", expression):
            assert name in recorded or name in written, f"{title}: {name} is neither recorded nor written"


def test_grafana_is_provisioned_with_the_dashboard_and_its_data_sources() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"]), "pinned to a release"
    mounts = {container: host for host, container in (v.removesuffix(":ro").split(":", 1) for v in grafana["volumes"])}
    assert (ROOT / mounts["/etc/grafana/provisioning"]).resolve() == PROVISIONING.resolve()
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yml").read_text())["providers"]
    [path] = [p["options"]["path"] for p in providers]
    assert (ROOT / mounts[path] / DASHBOARD.name).resolve() == DASHBOARD.resolve()
    sources = {
        s["uid"]: s
        for s in yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())["datasources"]
    }
    assert (
        sources["prometheus"]["url"] == "http://prometheus:9090" and sources["jaeger"]["url"] == "http://jaeger:16686"
    )
    [link] = sources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert link["datasourceUid"] in sources, "exemplars lead to the Jaeger data source"
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "agent-anatomy" and dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in sources and panel["targets"], panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
    assert any(t.get("exemplar") for p in dashboard["panels"] for t in p["targets"]), "a panel shows exemplars"


def test_tail_sampling_keeps_failed_and_slow_traces_for_jaeger_and_every_span_for_metrics() -> None:
    import yaml

    collector = yaml.safe_load((ROOT / "collector-config.yaml").read_text())
    pipelines = collector["service"]["pipelines"]
    sampled = [p for p, spec in pipelines.items() if "tail_sampling" in spec.get("processors", [])]
    assert sampled == ["traces/sampled"]
    assert pipelines["traces/sampled"]["exporters"] == ["otlp_grpc/jaeger"], "Jaeger gets the sampled traces"
    feeding_jaeger = [p for p, spec in pipelines.items() if "otlp_grpc/jaeger" in spec["exporters"]]
    assert feeding_jaeger == ["traces/sampled"]
    assert (
        "span_metrics" in pipelines["traces"]["exporters"] and "tail_sampling" not in pipelines["traces"]["processors"]
    )
    policies = {p["type"]: p for p in collector["processors"]["tail_sampling"]["policies"]}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["latency"]["latency"]["threshold_ms"] == 5000
    assert "probabilistic" in policies
