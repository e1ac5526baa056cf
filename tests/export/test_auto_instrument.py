"""``opentelemetry-instrument`` traces a script with no tracing code, through our entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from agent_anatomy import semconv
from agent_anatomy.sim import SimServer

ROOT = Path(__file__).resolve().parents[2]
INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")


def _console_spans(output: str) -> list[dict[str, Any]]:
    """The JSON objects the SDK's ConsoleSpanExporter printed, one after another."""
    decoder, marker = json.JSONDecoder(), '{\n    "name"'
    spans, index = [], output.find(marker)
    while index != -1:
        span, end = decoder.raw_decode(output, index)
        spans.append(span)
        index = output.find(marker, end)
    return spans


def _run(script: Path, sim: SimServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "ANTHROPIC_"))}
    environment |= {
        "ANTHROPIC_BASE_URL": sim.base_url,
        "ANTHROPIC_API_KEY": "sim",
        "OTEL_SERVICE_NAME": "plain-script",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        **env,
    }
    return subprocess.run(
        [str(INSTRUMENT), sys.executable, str(script), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_opentelemetry_instrument_traces_a_script_with_no_tracing_code(sim: SimServer) -> None:
    result = _run(ROOT / "examples" / "plain_anthropic.py", sim)
    assert result.returncode == 0, result.stderr
    spans = _console_spans(result.stdout)
    by_model = {span["attributes"].get(semconv.GEN_AI_REQUEST_MODEL): span for span in spans}
    assert sorted(span["name"] for span in spans) == ["chat claude-haiku-4-5", "chat claude-sonnet-4-6"]
    streamed = by_model["claude-sonnet-4-6"]["attributes"]
    assert streamed[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert streamed[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert streamed[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert all(span["resource"]["attributes"]["service.name"] == "plain-script" for span in spans)


def test_disabled_instrumentations_are_honoured(sim: SimServer) -> None:
    result = _run(ROOT / "examples" / "plain_anthropic.py", sim, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="anthropic")
    assert result.returncode == 0, result.stderr
    names = [span["name"] for span in _console_spans(result.stdout)]
    assert not any(name.startswith("chat ") for name in names), "our instrumentor stayed out"
    assert names and all(name.startswith("anthropic.") for name in names), "only the SDK's own built-in spans"


def test_configure_inside_an_instrumented_program_exports_each_span_once(sim: SimServer) -> None:
    """The SDK exports by OTEL_TRACES_EXPORTER; agent-anatomy's configure() joins it and must not export again."""
    result = _run(ROOT / "examples" / "support_agent.py", sim, "--base-url", sim.base_url)
    assert result.returncode == 0, result.stderr
    spans = _console_spans(result.stdout)
    ids = [span["context"]["span_id"] for span in spans]
    assert len(ids) == len(set(ids)), "a span was exported twice"
    names = {span["name"] for span in spans}
    assert {"invoke_agent support", "execute_tool get_user_profile"} <= names
    assert any(name.startswith("chat ") for name in names)


def test_the_console_exporters_output_reads_as_a_report(sim: SimServer, tmp_path: Path) -> None:
    """``OTEL_TRACES_EXPORTER=console``, its output saved as it is (the program's own prints among the spans):
    ``report`` reads it."""
    from agent_anatomy.anatomy import Anatomy
    from agent_anatomy.cli import main

    result = _run(ROOT / "examples" / "plain_anthropic.py", sim)
    assert result.returncode == 0, result.stderr
    printed = tmp_path / "console.txt"
    printed.write_text("the program says hello\n" + result.stdout)
    anatomy = Anatomy.from_file(printed)
    calls = [c for t in anatomy.traces for c in t.llm_calls]
    assert sorted(c.model or "" for c in calls) == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    streamed = next(c for c in calls if c.model == "claude-sonnet-4-6")
    assert streamed.ttft_ns is not None and streamed.ttft_ns > 0
    assert {t.service for t in anatomy.traces} == {"plain-script"}
    assert main(["report", str(printed), "--no-color"]) == 0


def test_opentelemetry_instrument_writes_our_json_lines(sim: SimServer, tmp_path: Path) -> None:
    """``OTEL_TRACES_EXPORTER=agent_anatomy_jsonl``: the exporter entry point, its file from an env var."""
    from agent_anatomy.anatomy import Anatomy

    spans = tmp_path / "trace.jsonl"
    result = _run(
        ROOT / "examples" / "plain_anthropic.py",
        sim,
        OTEL_TRACES_EXPORTER="agent_anatomy_jsonl",
        AGENT_ANATOMY_JSONL_FILE=str(spans),
    )
    assert result.returncode == 0, result.stderr
    assert "not found" not in result.stderr
    calls = [c for t in Anatomy.from_file(spans).traces for c in t.llm_calls]
    assert sorted(c.model or "" for c in calls) == ["claude-haiku-4-5", "claude-sonnet-4-6"]
