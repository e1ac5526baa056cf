"""SpanRecorder: bounded by traces and spans, oldest evicted, last_trace picks the latest root."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider

import agent_anatomy as aa
from agent_anatomy.telemetry.recorder import SpanRecorder, format_trace_id, parse_trace_id


def _provider(recorder: SpanRecorder) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(recorder)
    return provider


def _trace(provider: TracerProvider, name: str, children: int = 0) -> int:
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(name) as root:
        for i in range(children):
            with tracer.start_as_current_span(f"{name}.{i}"):
                pass
    return root.get_span_context().trace_id


def test_keeps_spans_by_trace_in_end_order() -> None:
    recorder = SpanRecorder()
    provider = _provider(recorder)
    trace_id = _trace(provider, "root", children=2)
    assert [s.name for s in recorder.trace_spans(trace_id)] == ["root.0", "root.1", "root"]
    assert [s.name for s in recorder.trace_spans(format_trace_id(trace_id))] == ["root.0", "root.1", "root"]
    assert recorder.span_count == 3


def test_evicts_oldest_trace_beyond_max_traces() -> None:
    recorder = SpanRecorder(max_traces=2)
    provider = _provider(recorder)
    ids = [_trace(provider, f"t{i}") for i in range(3)]
    assert recorder.trace_ids() == [format_trace_id(i) for i in ids[1:]]
    with pytest.raises(aa.TraceNotFoundError, match="evicted") as raised:
        recorder.trace_spans(ids[0])
    assert raised.value.trace_id == format_trace_id(ids[0])
    assert recorder.span_count == 2


def test_span_bound_evicts_old_traces_then_drops() -> None:
    recorder = SpanRecorder(max_traces=10, max_spans=5)
    provider = _provider(recorder)
    first = _trace(provider, "a", children=2)  # 3 spans
    second = _trace(provider, "b", children=3)  # 4 spans: evicts trace a
    assert recorder.trace_ids() == [format_trace_id(second)]
    assert recorder.span_count == 4
    third = _trace(provider, "c", children=6)  # 7 spans alone: b evicted, c keeps its first 5
    assert recorder.trace_ids() == [format_trace_id(third)]
    assert recorder.span_count == 5
    assert recorder.dropped_spans == 2
    assert first != second


def test_last_trace_prefers_the_latest_finished_root() -> None:
    recorder = SpanRecorder()
    provider = _provider(recorder)
    tracer = provider.get_tracer("test")
    finished = _trace(provider, "finished")
    with tracer.start_as_current_span("still running"):
        with tracer.start_as_current_span("child"):
            pass
        assert [s.name for s in recorder.last_trace()] == ["finished"]
    assert [s.name for s in recorder.last_trace()] == ["child", "still running"]
    assert finished


def test_last_trace_when_empty_is_a_clear_error() -> None:
    with pytest.raises(aa.TraceNotFoundError, match="no trace has been recorded yet"):
        SpanRecorder().last_trace()


def test_clear() -> None:
    recorder = SpanRecorder()
    _trace(_provider(recorder), "x")
    recorder.clear()
    assert recorder.trace_ids() == [] and recorder.span_count == 0


@pytest.mark.parametrize("bad", ["", "xyz", "0" * 32, "1" * 33, -1, 0, 1 << 128, True, None])
def test_parse_trace_id_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="is not a trace id"):
        parse_trace_id(bad)  # type: ignore[arg-type]


def test_parse_trace_id_accepts_int_hex_and_0x() -> None:
    assert parse_trace_id(255) == parse_trace_id("ff") == parse_trace_id("0xFF") == 255


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        SpanRecorder(max_traces=0)


def test_module_level_functions_use_the_configured_recorder() -> None:
    from tests.conftest import make_traced

    with pytest.raises(aa.TraceNotFoundError, match="no span recorder is installed"):
        aa.last_trace()
    traced = make_traced()

    @aa.agent
    def run() -> None:
        return None

    run()
    [span] = aa.last_trace()
    assert span.name == "invoke_agent run"
    assert aa.trace_spans(span.context.trace_id) == [span]
    assert traced.handle.recorder is not None
