"""The docker compose stack, checked offline: compose schema, collector and Jaeger wiring, ports, names.

No Docker engine runs here, so these tests are what stands between a typo and a user's broken
``docker compose up``: every component a pipeline names is defined, every defined one is used, the
connector joins a traces pipeline to a metrics pipeline, the ports each service listens on are the
ones the others send to, and no component name deprecated in the pinned collector version is used.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from agent_anatomy import semconv

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COLLECTOR = ROOT / "collector-config.yaml"
JAEGER = ROOT / "deploy" / "jaeger.yaml"
PROMETHEUS = ROOT / "deploy" / "prometheus.yml"
GO = ROOT / "deploy" / "go"

# Component names the collector deprecated before the pinned 0.161.0 (each still loads, with a warning
# on every start, until removed), and what replaced them.
DEPRECATED = {
    ("exporters", "logging"): "debug",
    ("exporters", "otlp"): "otlp_grpc",
    ("exporters", "otlphttp"): "otlp_http",
    ("exporters", "prometheusremotewrite"): "prometheus_remote_write",
    ("connectors", "spanmetrics"): "span_metrics",
    ("processors", "spanmetrics"): "the span_metrics connector",
}


def load(path: Path) -> dict[str, Any]:
    """The file as compose runs it: each ``${env:NAME:-default}`` (an address the tests move) as its default."""
    text = re.sub(r"\$\{env:([A-Z_]+):-([^}]*)\}", lambda m: m.group(2), path.read_text())
    document = yaml.safe_load(text)
    assert isinstance(document, dict), f"{path.name} is not a YAML mapping"
    return document


def component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def port_of(endpoint: str) -> int:
    return int(urlsplit(endpoint if "//" in endpoint else f"//{endpoint}").port or 0)


def published(service: dict[str, Any]) -> set[int]:
    """Container ports a compose service publishes ("host:container" entries)."""
    return {int(str(entry).split(":")[-1].split("/")[0]) for entry in service.get("ports", [])}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE)


@pytest.fixture(scope="module")
def collector() -> dict[str, Any]:
    return load(COLLECTOR)


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_are_pinned_and_current_majors(compose: dict[str, Any]) -> None:
    images = {name: service.get("image") for name, service in compose["services"].items() if "image" in service}
    for name, image in images.items():
        assert re.search(r":v?\d+\.\d+\.\d+$", image), f"{name}: {image} is not pinned to a release"
    assert images["jaeger"].startswith("jaegertracing/jaeger:2."), "Jaeger v2 (v1 all-in-one is end-of-life)"


def test_compose_runs_the_versions_the_tests_build(compose: dict[str, Any]) -> None:
    """The images are the releases ``make jaeger`` and ``make collector`` build, which the tests run."""
    images = {name: service.get("image") for name, service in compose["services"].items() if "image" in service}
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"^JAEGER_VERSION \?= v(2\.(\d+)\.\d+)$", makefile, re.M)
    module = re.search(
        r"^\tgithub\.com/jaegertracing/jaeger v1\.(\d+)\.\d+\b", (GO / "jaeger" / "go.mod").read_text(), re.M
    )
    assert version and module
    assert int(module.group(1)) == int(version.group(2)) + 63, "Jaeger releases v1.N as v2.(N-63)"
    assert images["jaeger"] == f"jaegertracing/jaeger:{version.group(1)}"
    manifest = yaml.safe_load((GO / "collector" / "manifest.yaml").read_text())
    assert images["collector"] == f"otel/opentelemetry-collector-contrib:{manifest['dist']['version']}"
    modules = [
        entry["gomod"]
        for kind in ("extensions", "receivers", "processors", "connectors", "exporters")
        for entry in manifest[kind]
    ]
    assert {m.split()[1] for m in modules} == {f"v{manifest['dist']['version']}"}, "every component at one release"
    assert "demo" in compose["services"]["demo"]["profiles"]


def test_every_pipeline_component_is_defined_and_every_definition_used(collector: dict[str, Any]) -> None:
    pipelines = collector["service"]["pipelines"]
    connectors = set(collector.get("connectors", {}))
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set(), "connectors": set()}
    for pipeline_id, pipeline in pipelines.items():
        assert component_type(pipeline_id) in ("traces", "metrics", "logs"), pipeline_id
        assert pipeline.get("receivers") and pipeline.get("exporters"), f"{pipeline_id} needs receivers and exporters"
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                if component in connectors and section != "processors":
                    used["connectors"].add(component)
                    continue
                assert component in collector.get(section, {}), f"{pipeline_id}: {section} {component} is not defined"
                used[section].add(component)
    for section in ("receivers", "processors", "exporters", "connectors"):
        assert set(collector.get(section, {})) == used[section], f"defined but unused {section}"
    assert set(collector["service"]["extensions"]) == set(collector.get("extensions", {}))


def test_span_metrics_connector_joins_traces_to_metrics(collector: dict[str, Any]) -> None:
    pipelines = collector["service"]["pipelines"]
    for connector in collector["connectors"]:
        as_exporter = [p for p, spec in pipelines.items() if connector in spec.get("exporters", [])]
        as_receiver = [p for p, spec in pipelines.items() if connector in spec.get("receivers", [])]
        assert as_exporter and all(component_type(p) == "traces" for p in as_exporter), connector
        assert as_receiver and all(component_type(p) == "metrics" for p in as_receiver), connector
    spans = collector["connectors"]["span_metrics"]
    assert [d["name"] for d in spans["dimensions"]] == [
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_REQUEST_MODEL,
        semconv.GEN_AI_TOOL_NAME,
    ]
    buckets = spans["histogram"]["explicit"]["buckets"]
    seconds = [float(b[:-2]) / 1000 if b.endswith("ms") else float(b[:-1]) for b in buckets]
    assert seconds == sorted(seconds) and seconds[0] <= 0.01 and seconds[-1] >= 300, "LLM latencies, up to minutes"


def test_no_deprecated_component_names(collector: dict[str, Any]) -> None:
    for section in ("receivers", "processors", "exporters", "connectors", "extensions"):
        for component in collector.get(section, {}):
            replacement = DEPRECATED.get((section, component_type(component)))
            assert replacement is None, f"{section} {component} is deprecated: use {replacement}"


def test_memory_limiter_first_and_batching_and_a_switchable_debug_exporter(collector: dict[str, Any]) -> None:
    for pipeline_id, pipeline in collector["service"]["pipelines"].items():
        assert pipeline.get("processors", [])[:1] == ["memory_limiter"], pipeline_id
    assert "batch" in collector["exporters"]["otlp_grpc/jaeger"]["sending_queue"]
    assert load(COLLECTOR)["exporters"]["debug"]["verbosity"] == "basic"
    assert "${env:COLLECTOR_DEBUG_VERBOSITY:-basic}" in COLLECTOR.read_text(), "switchable"
    assert "debug" in collector["service"]["pipelines"]["traces"]["exporters"]


def test_ports_agree_across_the_stack(compose: dict[str, Any], collector: dict[str, Any]) -> None:
    services = compose["services"]
    protocols = collector["receivers"]["otlp"]["protocols"]
    assert port_of(protocols["grpc"]["endpoint"]) == 4317 and port_of(protocols["http"]["endpoint"]) == 4318
    health = port_of(collector["extensions"]["health_check"]["endpoint"])
    assert {4317, 4318, health} <= published(services["collector"])

    to_jaeger = urlsplit("//" + collector["exporters"]["otlp_grpc/jaeger"]["endpoint"])
    jaeger = load(JAEGER)
    assert to_jaeger.hostname in services
    assert to_jaeger.port == port_of(jaeger["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])
    assert 16686 in published(services["jaeger"]), "the Jaeger UI"

    scrape = load(PROMETHEUS)["scrape_configs"][0]["static_configs"][0]["targets"][0]
    host, _, port = scrape.partition(":")
    assert host == "collector" and int(port) == port_of(collector["exporters"]["prometheus"]["endpoint"])

    metrics_store = jaeger["extensions"]["jaeger_storage"]["metric_backends"]["prometheus_store"]["prometheus"]
    prometheus_url = urlsplit(metrics_store["endpoint"])
    assert prometheus_url.hostname in services and prometheus_url.port in published(services["prometheus"])

    demo_endpoint = urlsplit(services["demo"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert demo_endpoint.hostname == "collector" and demo_endpoint.port == 4317
    assert services["demo"]["environment"]["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"


def test_config_files_are_mounted_where_the_commands_read_them(compose: dict[str, Any]) -> None:
    for name, config in (("collector", COLLECTOR), ("jaeger", JAEGER), ("prometheus", PROMETHEUS)):
        service = compose["services"][name]
        mounts = {src: dst.removesuffix(":ro") for src, _, dst in (v.partition(":") for v in service["volumes"])}
        target = mounts[f"./{config.relative_to(ROOT)}"]
        assert target in " ".join(service["command"]).replace("=", " ").split(), f"{name} reads {target}"


def test_jaeger_storage_wiring() -> None:
    jaeger = load(JAEGER)
    storage = jaeger["extensions"]["jaeger_storage"]
    query = jaeger["extensions"]["jaeger_query"]["storage"]
    assert query["traces"] in storage["backends"]
    assert query["metrics"] in storage["metric_backends"]
    assert jaeger["exporters"]["jaeger_storage_exporter"]["trace_storage"] in storage["backends"]
    assert set(jaeger["service"]["extensions"]) == set(jaeger["extensions"])
