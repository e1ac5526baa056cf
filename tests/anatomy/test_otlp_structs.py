"""OTLP lines decoded into msgspec structs give the records the dict reader gives, or leave the line to it."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_anatomy.anatomy.sources import otlp_structs, records_from_document, records_from_file
from agent_anatomy.anatomy.sources._common import DOCUMENT_ERRORS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_anatomy import agent_traces, write_exporter_jsonl  # noqa: E402

pytestmark = pytest.mark.skipif(not otlp_structs.AVAILABLE, reason="msgspec is not installed (the fast extra)")

SPAN: dict[str, Any] = {
    "traceId": "5b8efff798038103d269b633813fc60c",
    "spanId": "eee19b7ec3c1b174",
    "parentSpanId": "eee19b7ec3c1b173",
    "name": "chat claude-sonnet-4-6",
    "kind": 3,
    "startTimeUnixNano": "1700000000000000000",
    "endTimeUnixNano": "1700000001000000000",
    "attributes": [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "120"}},
    ],
    "events": [{"name": "anatomy.first_token", "timeUnixNano": "1700000000500000000"}],
    "status": {"code": 1},
}
DOCUMENT: dict[str, Any] = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "support-bot"}}]},
            "scopeSpans": [{"scope": {"name": "agent_anatomy"}, "spans": [SPAN]}],
        }
    ]
}


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """The document with the value at ``path`` (keys and indexes) replaced; ``...`` as a value removes it."""
    document = copy.deepcopy(DOCUMENT)
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


_S = ("resourceSpans", 0, "scopeSpans", 0, "spans", 0)
_A = (*_S, "attributes", 0, "value")
VARIANTS = {
    "as written": DOCUMENT,
    "base64 ids": _with((*_S, "spanId"), "7uGbfsPBsXQ="),
    "upper-case ids": _with((*_S, "traceId"), "5B8EFFF798038103D269B633813FC60C"),
    "no parent": _with((*_S, "parentSpanId"), ...),
    "empty parent": _with((*_S, "parentSpanId"), ""),
    "int as a number": _with(_A, {"intValue": 7}),
    "int past 64 bits": _with(_A, {"intValue": 2**70}),
    "double as an int": _with(_A, {"doubleValue": 1}),
    "string as a number": _with(_A, {"stringValue": 5}),
    "bool": _with(_A, {"boolValue": False}),
    "array": _with(_A, {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}),
    "kvlist": _with(_A, {"kvlistValue": {"values": [{"key": "k", "value": {"doubleValue": 0.5}}]}}),
    "bytes": _with(_A, {"bytesValue": "AAE="}),
    "empty value": _with(_A, {}),
    "null value": _with(_A, None),
    "two keys": _with(_A, {"stringValue": "a", "intValue": "3"}),
    "null first key": _with(_A, {"stringValue": None, "intValue": "5"}),
    "unknown key": _with(_A, {"uintValue": 3}),
    "value not an object": _with(_A, "plain"),
    "bad int": _with(_A, {"intValue": "many"}),
    "no value": _with((*_S, "attributes", 0, "value"), ...),
    "no key": _with((*_S, "attributes", 0, "key"), ...),
    "null key": _with((*_S, "attributes", 0, "key"), None),
    "attribute not an object": _with((*_S, "attributes", 0), 3),
    "attributes empty object": _with((*_S, "attributes"), {}),
    "attributes null": _with((*_S, "attributes"), None),
    "attributes not a list": _with((*_S, "attributes"), "x"),
    "event without time": _with((*_S, "events", 0, "timeUnixNano"), ...),
    "event with attributes": _with((*_S, "events", 0, "attributes"), [{"key": "k", "value": {"stringValue": "v"}}]),
    "event named null": _with((*_S, "events", 0, "name"), None),
    "status empty": _with((*_S, "status"), {}),
    "status by name": _with((*_S, "status"), {"code": "STATUS_CODE_ERROR", "message": "boom"}),
    "status null": _with((*_S, "status"), None),
    "status a list": _with((*_S, "status"), {"code": [1]}),
    "kind by name": _with((*_S, "kind"), "SPAN_KIND_CLIENT"),
    "kind null": _with((*_S, "kind"), None),
    "kind missing": _with((*_S, "kind"), ...),
    "name a number": _with((*_S, "name"), 5),
    "name missing": _with((*_S, "name"), ...),
    "times as numbers": _with((*_S, "startTimeUnixNano"), 1700000000000000000),
    "time not a number": _with((*_S, "endTimeUnixNano"), "soon"),
    "no trace id": _with((*_S, "traceId"), ...),
    "short span id": _with((*_S, "spanId"), "abc"),
    "old spelling": {
        "resourceSpans": [
            {
                "instrumentationLibrarySpans": [{"instrumentationLibrary": {"name": "old"}, "spans": [SPAN]}],
            }
        ]
    },
    "scope and old library": _with(("resourceSpans", 0, "scopeSpans", 0, "instrumentationLibrary"), {"name": "x"}),
    "scope empty, old library named": {
        "resourceSpans": [{"scopeSpans": [{"scope": {}, "instrumentationLibrary": {"name": "old"}, "spans": [SPAN]}]}]
    },
    "no scope spans, old ones": {
        "resourceSpans": [{"scopeSpans": [], "instrumentationLibrarySpans": [{"spans": [SPAN]}]}]
    },
    "no resource": _with(("resourceSpans", 0, "resource"), None),
    "service twice": _with(
        ("resourceSpans", 0, "resource", "attributes"),
        [
            {"key": "service.name", "value": {"stringValue": "a"}},
            {"key": "service.name", "value": {"intValue": "2"}},
        ],
    ),
    "service empty": _with(("resourceSpans", 0, "resource", "attributes", 0, "value"), {"stringValue": ""}),
    "wrapped in result": {"result": DOCUMENT},
    "no resource spans": {"data": []},
    "resource spans not a list": {"resourceSpans": {"spans": []}},
    "a list of documents": [DOCUMENT],
}


def _dict_reading(document: Any) -> list[Any] | type[Exception]:
    try:
        return records_from_document(document)
    except DOCUMENT_ERRORS as exc:
        return type(exc)


@pytest.mark.parametrize("name", VARIANTS)
def test_a_line_gives_the_dict_readers_records_or_is_left_to_it(name: str) -> None:
    document = VARIANTS[name]
    line = json.dumps(document).encode()
    decoded = otlp_structs.records_of_line(line)
    expected = _dict_reading(json.loads(line))
    if decoded is not None:
        assert decoded == expected, "the structs read it otherwise than the dicts"
        assert [r.attributes for r in decoded] == [r.attributes for r in expected]  # (1 == 1.0: types too)
        assert [[type(v) for v in r.attributes.values()] for r in decoded] == [
            [type(v) for v in r.attributes.values()]
            for r in expected  # type: ignore[union-attr]
        ]
    else:
        assert name not in ("as written", "base64 ids", "int as a number", "old spelling", "status by name"), (
            "an ordinary line is left to the slower reader"
        )


def test_what_the_dict_reader_refuses_the_structs_never_read() -> None:
    refused = [name for name in VARIANTS if isinstance(_dict_reading(VARIANTS[name]), type)]
    assert refused, "some variants are malformed"
    for name in refused:
        assert otlp_structs.records_of_line(json.dumps(VARIANTS[name])) is None, name


def test_not_json_and_a_byte_order_mark_are_left_to_the_dict_reader() -> None:
    assert otlp_structs.records_of_line(b'{"resourceSpans": [}') is None
    assert otlp_structs.records_of_line('{"v": NaN}') is None
    assert otlp_structs.records_of_line(b"\xef\xbb\xbf" + json.dumps(DOCUMENT).encode()) is None
    assert otlp_structs.records_of_line(b"\xff\xfe") is None


def test_a_file_of_agent_traces_reads_the_same_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "traces.jsonl"
    write_exporter_jsonl(path, agent_traces(30, turns=3, seed=4))
    with_structs = records_from_file(path)
    monkeypatch.setattr(otlp_structs, "msgspec", None)
    assert otlp_structs.records_of_line(path.read_bytes().splitlines()[0]) is None
    assert with_structs == records_from_file(path) and len(with_structs) > 500
