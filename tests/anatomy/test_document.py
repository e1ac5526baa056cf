"""The typed report is exactly the JSON document: it validates against the schema derived from it, goes to JSON
and back unchanged, and leaves out only what it marks absent."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.document import from_json, json_schema, to_json
from agent_anatomy.anatomy.report import ABSENT, SCHEMA, LLMStep, Report, TraceReport
from tests.anatomy._build import optimised_trace, seed_trace

FIXTURES = Path(__file__).with_name("fixtures")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _large_file(tmp_path: Path) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_anatomy import agent_traces, write_exporter_jsonl

    path = tmp_path / "traces.jsonl"
    write_exporter_jsonl(path, agent_traces(6, turns=3, seed=5))
    return path


def _documents(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Documents of every shape: one trace and several, with spans, read from files of each format, large."""
    both = Anatomy([seed_trace(), optimised_trace()])
    return {
        "one trace": Anatomy([seed_trace()]).to_dict(),
        "one trace with spans": Anatomy([optimised_trace()]).to_dict(spans=True),
        "two traces, a summary": both.to_dict(),
        "two traces with spans": both.to_dict(spans=True),
        "Jaeger file": Anatomy.from_file(FIXTURES / "jaeger_v1.json").to_dict(spans=True),
        "OTLP file, skewed and orphaned": Anatomy.from_file(FIXTURES / "otlp_skew_orphan.json").to_dict(spans=True),
        "a large file's": Anatomy.from_file(_large_file(tmp_path), large_after=1, workers=1).to_dict(),
    }


def test_every_document_validates_against_the_schema(validator: Draft202012Validator, tmp_path: Path) -> None:
    for name, document in _documents(tmp_path).items():
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, f"{name}: {[(list(e.path), e.message) for e in errors[:3]]}"
        assert document["schema"] == SCHEMA


def test_the_schema_refuses_a_key_the_report_does_not_have(validator: Draft202012Validator) -> None:
    document = Anatomy([seed_trace()]).to_dict()
    document["traces"][0]["speed"] = 1.0
    with pytest.raises(ValidationError, match="'speed' was unexpected"):
        validator.validate(document)
    del document["traces"][0]["speed"]
    document["traces"][0]["steps"][0]["speed"] = 1.0
    with pytest.raises(ValidationError, match="is not valid under any of the given schemas"):
        validator.validate(document)
    del document["traces"][0]["steps"][0]["speed"]
    validator.validate(document)
    del document["traces"][0]["wall_ms"]
    with pytest.raises(ValidationError, match="'wall_ms' is a required property"):
        validator.validate(document)


def test_documents_go_to_typed_reports_and_back_unchanged(tmp_path: Path) -> None:
    for name, document in _documents(tmp_path).items():
        report = from_json(Report, json.loads(json.dumps(document)))
        assert isinstance(report, Report) and all(isinstance(t, TraceReport) for t in report.traces), name
        assert to_json(report) == document, name


def test_absent_is_left_out_and_none_is_null() -> None:
    step = LLMStep("llm", "LLM call 1", "s1", "m", None, 10.0, None, None, False, 1)
    assert "route_reason" not in to_json(step) and step.route_reason is ABSENT
    routed = LLMStep("llm", "LLM call 1", "s1", "m", "plan", 10.0, None, None, False, 2, route_reason=None)
    assert to_json(routed)["route_reason"] is None
    assert from_json(LLMStep, to_json(step)) == step and from_json(LLMStep, to_json(routed)) == routed
