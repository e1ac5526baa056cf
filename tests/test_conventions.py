"""Conformance with the GenAI conventions: every ``gen_ai.*`` name the project writes is in the registry of
the installed ``opentelemetry-semantic-conventions`` or listed, with its source, as newer; and the metrics
follow ``OTEL_SEMCONV_STABILITY_OPT_IN``."""

from __future__ import annotations

import re
from pathlib import Path

import anthropic
import opentelemetry.semconv
import pytest

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.sim import SimServer
from tests.conftest import Traced, make_traced


def _registry() -> set[str]:
    """Every ``gen_ai.*`` attribute and metric name the installed conventions package defines (read as text)."""
    root = Path(next(iter(opentelemetry.semconv.__path__)))
    names: set[str] = set()
    for path in root.rglob("*.py"):
        names.update(re.findall(r'Final = "(gen_ai\.[a-z0-9_.]+)"', path.read_text()))
    return names


def _written() -> set[str]:
    names = {value for key, value in vars(semconv).items() if key.isupper() and isinstance(value, str)}
    return {name for name in names if name.startswith("gen_ai.")} - semconv.READ_ONLY


def test_every_name_written_is_in_the_registry_or_listed_as_newer() -> None:
    registry = _registry()
    assert len(registry) > 50, "the registry was found"
    unknown = sorted(_written() - registry - set(semconv.NEWER_THAN_REGISTRY))
    assert not unknown, f"gen_ai names neither in the registry nor listed as newer: {unknown}"


def test_names_listed_as_newer_are_really_missing_and_say_where_they_come_from() -> None:
    registry = _registry()
    stale = sorted(set(semconv.NEWER_THAN_REGISTRY) & registry)
    assert not stale, f"now in the registry, take them off the newer list: {stale}"
    assert all(source.startswith("semantic-conventions-genai") for source in semconv.NEWER_THAN_REGISTRY.values())


def _metric_points(traced: Traced) -> dict[str, list[tuple[dict[str, object], float]]]:
    data = traced.metric_reader.get_metrics_data()
    points: dict[str, list[tuple[dict[str, object], float]]] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    value = point.sum if value is None else value
                    points.setdefault(metric.name, []).append((dict(point.attributes), value))
    return points


def _run(sim: SimServer) -> None:
    @aa.tool
    def lookup(user_id: str) -> str:
        return user_id

    @aa.agent(name="support")
    def agent(client: anthropic.Anthropic) -> None:
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-ttft-ms": "0", "x-sim-generation-ms": "0", "x-sim-thinking-tokens": "7"},
        )
        lookup("u1")
        with pytest.raises(anthropic.InternalServerError):
            client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=16,
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-sim-status": "500"},
            )

    with anthropic.Anthropic(api_key="k", base_url=sim.base_url, max_retries=0) as client:
        agent(client)


def test_default_metrics_are_the_released_conventions(sim: SimServer) -> None:
    traced = make_traced()
    _run(sim)
    names = set(_metric_points(traced))
    assert names == {
        semconv.METRIC_CLIENT_OPERATION_DURATION,
        semconv.METRIC_CLIENT_TOKEN_USAGE,
    }


def test_latest_conventions_opt_in(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http, gen_ai_latest_experimental")
    traced = make_traced()
    _run(sim)
    points = _metric_points(traced)
    assert semconv.METRIC_CLIENT_TOKEN_USAGE not in points
    assert {
        semconv.METRIC_CLIENT_OPERATION_DURATION,
        semconv.METRIC_INFERENCE_USAGE_INPUT_TOKENS,
        semconv.METRIC_INFERENCE_USAGE_OUTPUT_TOKENS,
        semconv.METRIC_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS,
        semconv.METRIC_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS,
        semconv.METRIC_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS,
        semconv.METRIC_INFERENCE_OPERATION_INPUT_TOKENS,
        semconv.METRIC_INFERENCE_OPERATION_OUTPUT_TOKENS,
        semconv.METRIC_INVOKE_AGENT_DURATION,
        semconv.METRIC_EXECUTE_TOOL_DURATION,
    } <= set(points)
    reasoning = points[semconv.METRIC_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS]
    by_modality = {attributes[semconv.GEN_AI_TOKEN_MODALITY]: value for attributes, value in reasoning}
    assert by_modality == {semconv.TOKEN_MODALITY_TEXT: 7, semconv.TOKEN_MODALITY_UNKNOWN: 0}, "the failed call too"
    assert all(semconv.ERROR_TYPE not in attributes for attributes, _ in reasoning), "counters carry no error"
    [(tool_attributes, tool_seconds)] = points[semconv.METRIC_EXECUTE_TOOL_DURATION]
    tool_span = traced.span("execute_tool lookup")
    # the metric times the same interval as the span (two clocks: a small allowance, not a bound on the work)
    assert 0 <= tool_seconds <= (tool_span.end_time - tool_span.start_time) / 1e9 + 0.001
    assert tool_attributes[semconv.GEN_AI_TOOL_NAME] == "lookup"
    assert tool_attributes[semconv.GEN_AI_AGENT_NAME] == "support"
    [(agent_attributes, _)] = points[semconv.METRIC_INVOKE_AGENT_DURATION]
    assert agent_attributes[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_ANTHROPIC
    errors = [a for a, _ in points[semconv.METRIC_INFERENCE_OPERATION_INPUT_TOKENS] if semconv.ERROR_TYPE in a]
    assert [a[semconv.ERROR_TYPE] for a in errors] == ["api_error"]
