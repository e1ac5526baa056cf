"""MCP: the client's tool calls traced, and a real MCP server over stdio joining the agent's trace.

The server (``_mcp_server.py``) is a subprocess speaking MCP over its stdin/stdout, configured with
agent-anatomy and exporting to a JSONL file; the client is this test, under an ``@agent``.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.trace import StatusCode

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.tracing import continue_trace
from tests.conftest import Traced

SERVER = Path(__file__).with_name("_mcp_server.py")
MCP_MAJOR = int(importlib.metadata.version("mcp").split(".")[0])


def _server_spans(path: Path) -> list[dict[str, Any]]:
    spans = []
    for line in path.read_text().splitlines():
        for resource_spans in json.loads(line).get("resourceSpans", []):
            for scope in resource_spans["scopeSpans"]:
                spans.extend(scope["spans"])
    return spans


async def _call(spans_file: Path, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
    parameters = StdioServerParameters(
        command=sys.executable,
        args=[str(SERVER)],
        env={"AGENT_ANATOMY_TEST_SPANS": str(spans_file), "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
    )
    with (spans_file.parent / "server.log").open("w") as errlog:  # the server logs the failing tool's traceback
        return await _session(parameters, errlog, calls)


async def _session(parameters: StdioServerParameters, errlog: Any, calls: tuple[tuple[str, dict[str, Any]], ...]):
    results = []
    async with stdio_client(parameters, errlog) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        @aa.agent(name="support")
        async def agent() -> None:
            for name, arguments in calls:
                results.append(await session.call_tool(name, arguments))

        await agent()
    return results


@pytest.mark.slow
async def test_stdio_round_trip_is_one_trace(traced: Traced, tmp_path: Path) -> None:
    """agent → execute_tool (ours) → the MCP request → the server's tools/call → the server's own span."""
    spans_file = tmp_path / "server.jsonl"
    [ok, failed] = await _call(
        spans_file, ("refund_status", {"order_id": "o-1"}), ("refund_status", {"order_id": "missing"})
    )
    flagged = [getattr(r, "is_error", getattr(r, "isError", None)) for r in (ok, failed)]  # 2.x, 1.x
    assert flagged == [False, True]
    client_spans = traced.spans()
    tools = [s for s in client_spans if s.name == "execute_tool refund_status"]
    assert len(tools) == 2
    agent_span = traced.span("invoke_agent support")
    trace_id = f"{agent_span.context.trace_id:032x}"
    for tool in tools:
        assert tool.parent.span_id == agent_span.context.span_id
        assert tool.attributes[semconv.GEN_AI_TOOL_TYPE] == semconv.TOOL_TYPE_EXTENSION
        assert tool.attributes[semconv.MCP_METHOD_NAME] == semconv.MCP_METHOD_TOOLS_CALL
        assert tool.attributes[semconv.ANATOMY_MCP_SERVER_NAME] == "refunds"
        assert tool.attributes[semconv.GEN_AI_AGENT_NAME] == "support"
        assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in tool.attributes, "no content by default"
    assert tools[0].status.status_code is StatusCode.UNSET
    assert tools[1].status.status_code is StatusCode.ERROR
    assert tools[1].attributes[semconv.ERROR_TYPE] == semconv.TOOL_ERROR

    server = _server_spans(spans_file)
    ledger = [s for s in server if s["name"] == "look up the ledger"]
    assert len(ledger) == 2
    for_tools = [s for s in server if s["name"] in ("look up the ledger", "tools/call refund_status")]
    # mcp 2's server traces its own tools/call; under mcp 1 the tool's span joins the agent's trace directly
    assert len(for_tools) == (4 if MCP_MAJOR >= 2 else 2), [s["name"] for s in server]
    assert {s["traceId"] for s in for_tools} == {trace_id}, "the server's spans joined the agent's trace"
    ids = {format(s.context.span_id, "016x"): s for s in client_spans} | {s["spanId"]: s for s in server}

    def chain(span_id: str) -> list[str]:
        names = []
        while span_id in ids:
            span = ids[span_id]
            names.append(span["name"] if isinstance(span, dict) else span.name)
            parent = span.get("parentSpanId") if isinstance(span, dict) else span.parent
            span_id = parent if isinstance(parent, str) or parent is None else format(parent.span_id, "016x")
        return names

    path = chain(ledger[0]["spanId"])
    assert path[0] == "look up the ledger" and path[-2:] == ["execute_tool refund_status", "invoke_agent support"]


@pytest.mark.slow
async def test_a_tool_traced_by_the_user_and_by_mcp_is_one_tool_call(traced: Traced, tmp_path: Path) -> None:
    """A user's ``@aa.tool`` around a generic dispatcher, the MCP instrumentation tracing the call inside it too:
    the anatomy counts one tool call per call, not two side by side."""
    from agent_anatomy.anatomy import Anatomy
    from agent_anatomy.anatomy.sources import records_from_file

    spans_file = tmp_path / "server.jsonl"
    parameters = StdioServerParameters(
        command=sys.executable,
        args=[str(SERVER)],
        env={"AGENT_ANATOMY_TEST_SPANS": str(spans_file), "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
    )
    with (tmp_path / "server.log").open("w") as errlog:
        async with stdio_client(parameters, errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()

            @aa.tool(name="dispatch")
            async def dispatch(name: str, arguments: dict[str, Any]) -> Any:
                return await session.call_tool(name, arguments)

            @aa.agent(name="support")
            async def agent() -> None:
                await dispatch("refund_status", {"order_id": "o-1"})

            await agent()
    from agent_anatomy.anatomy.sources import records_from_readable

    records = records_from_readable(traced.spans()) + records_from_file(spans_file)
    trace_id = f"{traced.span('invoke_agent support').context.trace_id:032x}"
    anatomy = Anatomy.from_records(records, trace_id)
    [batch] = anatomy.trace.batches
    assert [t.name for t in batch.tools] == ["dispatch"], "the dispatcher's span stands for the one call"
    assert batch.mode == "single"
    assert "Tool call: dispatch" in anatomy.render(color=False, width=200)


@pytest.mark.slow
async def test_content_capture_records_arguments_and_result(tmp_path: Path) -> None:
    from tests.conftest import make_traced

    traced = make_traced(capture_content=True)
    await _call(tmp_path / "server.jsonl", ("refund_status", {"order_id": "o-9"}))
    [tool] = [s for s in traced.spans() if s.name == "execute_tool refund_status"]
    assert json.loads(tool.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"order_id": "o-9"}
    assert "refund for o-9" in tool.attributes[semconv.GEN_AI_TOOL_CALL_RESULT]


@pytest.mark.slow
async def test_instrumented_on_its_own_provider_its_spans_go_there(traced: Traced, tmp_path: Path) -> None:
    """``instrument(tracer_provider=...)`` builds the instrumentor's handler on that provider."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    aa.tracing.uninstrument_mcp()
    aa.tracing.McpInstrumentor().instrument(tracer_provider=provider)
    await _call(tmp_path / "server.jsonl", ("refund_status", {"order_id": "o-2"}))
    assert [s.name for s in exporter.get_finished_spans()] == ["execute_tool refund_status"]
    assert [s.name for s in traced.spans()] == ["invoke_agent support"], "the configured provider has the agent only"


def test_continue_trace_takes_a_meta_mapping_or_a_context_holding_it(traced: Traced) -> None:
    with aa.span("caller") as caller:
        meta: dict[str, str] = {}
        inject(meta)
    caller_id = trace.get_current_span().get_span_context()  # outside: the invalid span

    class RequestContext:
        def __init__(self, meta: dict[str, str]) -> None:
            self.meta = meta

    class ToolContext:
        request_context = RequestContext(meta)

    for request in (meta, RequestContext(meta), ToolContext()):
        with continue_trace(request), aa.span("server work"):
            pass
    with continue_trace({}), aa.span("no context"):
        pass
    with continue_trace(None), aa.span("nothing given"):
        pass
    parent_ids = [s.parent.span_id if s.parent else None for s in traced.spans() if s.name == "server work"]
    assert parent_ids == [caller.get_span_context().span_id] * 3
    assert traced.span("no context").parent is None and traced.span("nothing given").parent is None
    assert not caller_id.is_valid
