"""Sources: the recorder, OTLP JSON, our JSON Lines, Jaeger JSON, a live Jaeger, Phoenix span JSON; malformed input."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

import agent_anatomy as aa
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.sources import records_from_file
from agent_anatomy.errors import SourceError, TraceNotFoundError

FIXTURES = Path(__file__).parent / "fixtures"
MS = 1_000_000


def test_otlp_json_with_skew_orphans_duplicates_and_two_services() -> None:
    anatomy = Anatomy.from_file(FIXTURES / "otlp_skew_orphan.json")
    trace = anatomy.trace
    assert trace.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert len(trace.tree) == 4, "the duplicated tool span is merged"
    assert trace.tree.services == ["agent", "tools"]
    assert sorted(r.name for r in trace.tree.roots) == ["invoke_agent support", "orphan work"]
    tool = next(r for r in trace.tree.spans.values() if r.name == "execute_tool lookup")
    assert tool.status == "ERROR"
    assert tool.clipped_end == trace.tree.spans["b7ad6b7169203331"].end_ns, "clipped to its parent"
    assert sum(trace.phases.values()) == trace.wall_ns == 3400 * MS
    assert trace.phases["gap"] == 200 * MS
    [call] = trace.llm_calls
    assert call.ttft_ns == 300 * MS and call.model == "claude-haiku-4-5"


def test_jaeger_v1_json() -> None:
    anatomy = Anatomy.from_file(FIXTURES / "jaeger_v1.json")
    trace = anatomy.trace
    assert trace.trace_id == "5b8aa5a2d2c872e8321cf37308d69df2"
    assert trace.tree.services == ["support-agent", "tool-server"]
    [call] = trace.llm_calls
    assert call.ttft_ns == 450 * MS
    [batch] = trace.batches
    assert batch.mode == "sequential" and batch.parallel_saving_ns == 700 * MS
    assert any(s.kind == "parallelise" for s in anatomy.what_if())
    assert any(e.name == "anatomy.first_token" for r in trace.tree.spans.values() for e in r.events)


@pytest.mark.parametrize("shape", ["bare trace", "list of traces", "64-bit id, no leading zeros"])
def test_jaeger_traces_as_the_ui_downloads_them(shape: str, tmp_path: Path) -> None:
    """The Jaeger UI's download is the trace object itself (or a list of them), not ``{"data": [...]}``; old
    and zero-led ids come short."""
    [trace] = json.loads((FIXTURES / "jaeger_v1.json").read_text())["data"]
    if shape == "64-bit id, no leading zeros":
        for span in trace["spans"]:
            span["traceID"] = "0d2c872e8321cf37"[1:]
        document: object = trace
    else:
        document = trace if shape == "bare trace" else [trace, {**trace, "spans": trace["spans"][:1]}]
    path = tmp_path / "download.json"
    path.write_text(json.dumps(document))
    anatomy = Anatomy.from_file(path)
    expected = "d2c872e8321cf37".rjust(32, "0") if shape.startswith("64") else "5b8aa5a2d2c872e8321cf37308d69df2"
    assert anatomy.trace.trace_id == expected
    assert [c.ttft_ns for c in anatomy.trace.llm_calls] == [450 * MS]


def test_a_jaeger_id_that_is_not_hex_is_named(tmp_path: Path) -> None:
    [trace] = json.loads((FIXTURES / "jaeger_v1.json").read_text())["data"]
    trace["spans"][0]["spanID"] = "not-an-id"
    path = tmp_path / "download.json"
    path.write_text(json.dumps(trace))
    with pytest.raises(SourceError, match="spanID of 16 hex digits, got 'not-an-id'"):
        Anatomy.from_file(path)


def test_jsonl_exporter_output_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    handle = aa.configure(exporter=f"jsonl:{path}", tracer_provider=TracerProvider(), metrics=False)

    @aa.tool
    def lookup() -> int:
        return 1

    @aa.agent
    def run() -> None:
        lookup()
        lookup()

    run()
    handle.force_flush()
    from_file = Anatomy.from_file(path)
    live = aa.last_anatomy()
    assert from_file.trace_id == live.trace_id
    assert from_file.trace.phases == live.trace.phases
    assert [s.name for s in from_file.critical_path] == [s.name for s in live.critical_path]
    assert aa.anatomy_for(live.trace_id).trace.wall_ns == live.trace.wall_ns


def test_many_traces_in_a_file_and_trace_id_selection(tmp_path: Path) -> None:
    doc_a = json.loads((FIXTURES / "otlp_skew_orphan.json").read_text())
    doc_b = json.loads((FIXTURES / "jaeger_v1.json").read_text())
    path = tmp_path / "both.json"
    path.write_text(json.dumps([doc_a, doc_b]))
    both = Anatomy.from_file(path)
    assert len(both) == 2
    summary = both.to_dict()["summary"]
    assert summary["trace_count"] == 2
    assert set(summary["phases_ms"]) >= {"total", "tool", "llm_time_to_first_token"}
    assert "Latency anatomy of 2 traces" in both.render(color=False)
    one = Anatomy.from_file(path, trace_id="5b8aa5a2d2c872e8321cf37308d69df2")
    assert len(one) == 1
    with pytest.raises(TraceNotFoundError, match=r"trace abcd is not among the 2 traces given \(0af76519\w+, 5b8aa5a2"):
        Anatomy.from_file(path, trace_id="abcd")
    assert Anatomy.from_file(path, trace_id="5B8AA5").trace_id == "5b8aa5a2d2c872e8321cf37308d69df2", "a prefix"


def test_trace_id_prefix_that_fits_several_traces_is_refused() -> None:
    from agent_anatomy.anatomy._anatomy import pick_trace

    ids = [f"ab{n:030x}" for n in range(12)] + ["cd" + "0" * 30]
    with pytest.raises(TraceNotFoundError, match=r"trace id ab is ambiguous: 12 traces begin with it .*, and 2 more\)"):
        pick_trace(ids, "ab")
    assert pick_trace(ids, "cd") == "cd" + "0" * 30
    assert pick_trace(["0" * 16 + "1" * 16], "1" * 16) == "0" * 16 + "1" * 16, "a 64-bit id, padded as Jaeger does"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty: expected OTLP JSON"),
        ('{"resourceSpans": ', "not valid JSON at line 1, column 19"),
        (
            '{"spans": []}',
            'expected an object with "resourceSpans" \\(OTLP JSON\\), "data" \\(Jaeger or Phoenix JSON\\) or '
            '"traceID" and "spans" \\(one Jaeger trace\\)',
        ),
        ('{"resourceSpans": {}}', 'expected "resourceSpans" as a list'),
        (
            '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz", "spanId": "1"}]}]}]}',
            "expected traceId of 32 hex digits",
        ),
        ('{"resourceSpans": []}\n{"resourceSpans": [\n', "line 2 is not valid JSON"),
        ('{"resourceSpans": []}\n{"oops": 1}\n', 'line 2: expected an object with "resourceSpans"'),
        ('{"data": [{"spans": [{"traceID": "abc", "spanID": "0000000000000001", "startTime": "soon"}]}]}', "expected"),
    ],
)
def test_malformed_files_name_the_file_the_position_and_the_expectation(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SourceError, match=message) as raised:
        Anatomy.from_file(path)
    assert str(path) in str(raised.value)
    assert raised.value.source == str(path)


def test_missing_file() -> None:
    with pytest.raises(SourceError, match=r"cannot read /no/such/file\.json"):
        Anatomy.from_file("/no/such/file.json")


def test_no_spans(tmp_path: Path) -> None:
    with pytest.raises(TraceNotFoundError, match="there are no spans to analyse"):
        Anatomy.from_records([])
    path = tmp_path / "empty.json"
    path.write_text('{"resourceSpans": []}')
    with pytest.raises(TraceNotFoundError, match=f"{path} holds no spans"):
        Anatomy.from_file(path)


# --- a Jaeger the real one cannot be made to be -------------------------------------------------------------
# tests/deploy/test_jaeger.py reads a real Jaeger v2 (API v3 and v1, search, its downloads, an absent trace).
# What it cannot be made to send is served here: an older Jaeger with API v1 only, API v3's results streamed
# as several chunks (as its grpc-gateway streams them, and Jaeger means to over HTTP), errors with a message
# of their own, and a proxy's page that is not JSON.

TRACE_ID = "5b8aa5a2d2c872e8321cf37308d69df2"
Route = tuple[int, str, bytes]
"""An answer: HTTP status, Content-Type, body."""


class FakeJaeger:
    """A query API on 127.0.0.1 answering each path of ``routes`` (the query string included, or the path
    alone) with its answer, and anything else 404 with no body; it keeps the paths it was asked."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                status, content_type, body = (
                    routes.get(self.path) or routes.get(self.path.split("?")[0]) or (404, "", b"")
                )
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def fake_jaeger(routes: dict[str, Route]) -> Iterator[FakeJaeger]:
    fake = FakeJaeger(routes)
    try:
        yield fake
    finally:
        fake.close()


def _v1_only() -> dict[str, Route]:
    document = (FIXTURES / "jaeger_v1.json").read_bytes()
    return {
        f"/api/traces/{TRACE_ID}": (200, "application/json", document),
        "/api/traces": (200, "application/json", document),
    }


def test_an_older_jaeger_without_api_v3_is_read_through_v1() -> None:
    with fake_jaeger(_v1_only()) as jaeger:
        assert Anatomy.from_jaeger(jaeger.url, TRACE_ID).trace_id == TRACE_ID
        assert jaeger.requests == [f"/api/v3/traces/{TRACE_ID}", f"/api/traces/{TRACE_ID}"]
        assert len(Anatomy.from_jaeger(jaeger.url, service="support-agent", since_s=600)) == 1
        assert "service=support-agent" in jaeger.requests[-1]
        # compare's sides: a Jaeger UI address with jaeger+ before it, a trace or a search
        assert Anatomy.from_source(f"jaeger+{jaeger.url}/trace/{TRACE_ID}").trace_id == TRACE_ID
        assert len(Anatomy.from_source(f"jaeger+{jaeger.url}/search?service=support-agent&lookback=10m&limit=5")) == 1
        assert "service=support-agent" in jaeger.requests[-1] and "limit=5" in jaeger.requests[-1]
        with pytest.raises(TraceNotFoundError, match="has no trace 0000000000000000000000000000beef"):
            Anatomy.from_jaeger(jaeger.url, "beef")


def _otlp_chunk(trace_id: str, span_id: str, name: str, parent: str | None = None) -> dict[str, object]:
    span = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": 1}
    span |= {"startTimeUnixNano": "1000000", "endTimeUnixNano": "9000000"} | (
        {"parentSpanId": parent} if parent else {}
    )
    return {"result": {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}}


def test_an_api_v3_answer_streamed_in_chunks_is_read_whole() -> None:
    """Several ``{"result": ...}`` objects one after another (newline-separated or not) are one answer."""
    root = _otlp_chunk(TRACE_ID, "00000000000000a1", "invoke_agent support")
    child = _otlp_chunk(TRACE_ID, "00000000000000b2", "execute_tool lookup", parent="00000000000000a1")
    for separator in ("\n", ""):
        body = (json.dumps(root) + separator + json.dumps(child) + "\n").encode()
        with fake_jaeger({f"/api/v3/traces/{TRACE_ID}": (200, "text/plain; charset=utf-8", body)}) as jaeger:
            anatomy = Anatomy.from_jaeger(jaeger.url, TRACE_ID)
            assert anatomy.wall_ms == 8.0 and len(jaeger.requests) == 1
            assert sorted(s.name for s in anatomy.trace.tree.spans.values()) == [
                "execute_tool lookup",
                "invoke_agent support",
            ]


def test_what_a_refusing_or_unreachable_jaeger_said_is_in_the_error() -> None:
    refused = json.dumps({"data": None, "errors": [{"code": 500, "msg": "storage is unavailable"}]}).encode()
    v3 = json.dumps({"error": {"httpCode": 500, "message": "search depth must be greater than 0"}}).encode()
    routes = {
        f"/api/v3/traces/{TRACE_ID}": (500, "application/json", v3),
        "/api/traces": (500, "application/json", refused),
    }
    with fake_jaeger(routes) as jaeger:
        with pytest.raises(TraceNotFoundError, match=r"HTTP 500 \(search depth must be greater than 0\)"):
            Anatomy.from_jaeger(jaeger.url, TRACE_ID)
        with pytest.raises(SourceError, match=r"failed: HTTP 500 \(storage is unavailable\)"):
            Anatomy.from_jaeger(jaeger.url, service="support-agent")
    page = b"<html><body>502 Bad Gateway</body></html>"
    with (
        fake_jaeger({"/api/traces": (200, "text/html", page)}) as proxy,
        pytest.raises(SourceError, match=r"Jaeger search at http://127\.0\.0\.1:\d+/api/traces\?.*unexpected answer"),
    ):
        Anatomy.from_jaeger(proxy.url, service="support-agent")
    with pytest.raises(SourceError, match=r"cannot reach Jaeger at http://127\.0\.0\.1:9/api/v3/traces"):
        Anatomy.from_jaeger("http://127.0.0.1:9", "beef")
    with pytest.raises(ValueError, match="needs a trace_id, or a service"):
        Anatomy.from_jaeger("http://127.0.0.1:9")


def test_a_source_named_in_one_string_is_a_file_or_a_file_and_trace(tmp_path: Path) -> None:
    """``compare``'s sides that are files: a file, a file with ``#trace``, a file whose name holds a ``#``."""
    assert Anatomy.from_source(str(FIXTURES / "jaeger_v1.json")).trace_id == TRACE_ID
    assert Anatomy.from_source(f"{FIXTURES / 'jaeger_v1.json'}#5b8aa5a2").trace_id == TRACE_ID
    with pytest.raises(TraceNotFoundError, match="trace beef is not among the 1 trace given"):
        Anatomy.from_source(f"{FIXTURES / 'jaeger_v1.json'}#beef")
    odd = tmp_path / "a#b.json"  # read as the file
    odd.write_bytes((FIXTURES / "jaeger_v1.json").read_bytes())
    assert Anatomy.from_source(str(odd)).trace_id == TRACE_ID


def test_phoenix_span_json(tmp_path: Path) -> None:
    """Phoenix's ``/v1/projects/{project}/spans`` answer: ISO times, nested or dotted attributes."""
    document = {
        "data": [
            {
                "name": "invoke_agent support",
                "context": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"},
                "parent_id": None,
                "start_time": "2026-11-24T12:00:00.000000+00:00",
                "end_time": "2026-11-24T12:00:01.500250+00:00",
                "status_code": "OK",
                "attributes": {"gen_ai": {"operation": {"name": "invoke_agent"}}},
                "events": [],
            },
            {
                "name": "execute_tool lookup",
                "context": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b8"},
                "parent_id": "00f067aa0ba902b7",
                "start_time": "2026-11-24T12:00:00.250000+00:00",
                "end_time": "2026-11-24T12:00:01.250000+00:00",
                "status_code": "ERROR",
                "attributes": {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"},
                "events": [{"name": "exception", "timestamp": "2026-11-24T12:00:01.2+00:00", "attributes": {}}],
            },
        ],
        "next_cursor": None,
    }
    path = tmp_path / "phoenix.json"
    path.write_text(json.dumps(document))
    root, tool = records_from_file(path)
    assert root.attributes == {"gen_ai.operation.name": "invoke_agent"}, "nested attributes are flattened"
    assert root.end_ns - root.start_ns == 1_500_250_000
    assert tool.parent_id == root.span_id and tool.status == "ERROR" and tool.is_tool
    assert tool.events[0].name == "exception"
    anatomy = Anatomy.from_file(path)
    assert anatomy.phases_ms["tool"] == 1000.0
    document["data"][0]["start_time"] = 17  # type: ignore[index]
    path.write_text(json.dumps(document))
    with pytest.raises(SourceError, match="expected start_time as an ISO 8601 time"):
        records_from_file(path)


def test_reading_a_large_json_lines_file_reports_progress(tmp_path: Path) -> None:
    line = json.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "ab" * 16,
                                    "spanId": "cd" * 8,
                                    "name": "s",
                                    "startTimeUnixNano": "1",
                                    "endTimeUnixNano": "2",
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    )
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join([line] * 45_000) + "\n")
    seen: list[tuple[int, int]] = []
    records = records_from_file(path, progress=lambda what, done, total: seen.append((done, total)))
    assert len(records) == 45_000
    total = path.stat().st_size
    assert len(seen) == 3 and all(t == total for _, t in seen), seen
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (total, total)


def test_a_resource_whose_attributes_are_not_a_list_is_named(tmp_path: Path) -> None:
    """Only the resource's service name is read from it, and a malformed list still says what is wrong."""
    span = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "work"}
    document = {
        "resourceSpans": [{"resource": {"attributes": {"service.name": "x"}}, "scopeSpans": [{"spans": [span]}]}]
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SourceError, match="attributes as a list of"):
        records_from_file(path)
    document["resourceSpans"][0]["resource"]["attributes"] = [
        {"key": "service.name", "value": {"stringValue": "first"}},
        {"key": "service.name", "value": {"stringValue": "billing"}},
        {"value": {"stringValue": "no key"}},
    ]
    path.write_text(json.dumps(document))
    [record] = records_from_file(path)
    assert record.service == "billing", "the last of two, as an attributes mapping keeps it"
