"""Hand-built traces for anatomy tests: spans by name, in milliseconds from the trace's start."""

from __future__ import annotations

import itertools
from typing import Any

from agent_anatomy import semconv
from agent_anatomy.anatomy import SpanRecord, TraceTree

T0 = 1_700_000_000_000_000_000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
_ids = itertools.count(1)


def ms(value: float) -> int:
    return T0 + int(value * 1_000_000)


def span(
    name: str, start: float, end: float, parent: SpanRecord | None = None, trace: str = TRACE, **attributes: Any
) -> SpanRecord:
    operation = name.split(" ", 1)[0]
    attrs: dict[str, Any] = {}
    if operation in ("chat", "execute_tool", "invoke_agent", "tool_batch", "cache_lookup", "route"):
        attrs[semconv.GEN_AI_OPERATION_NAME] = operation
    if operation == "execute_tool":
        attrs[semconv.GEN_AI_TOOL_NAME] = name.split(" ", 1)[1]
    if operation == "chat":
        attrs[semconv.GEN_AI_REQUEST_MODEL] = name.split(" ", 1)[1]
    attrs.update({key.replace("__", "."): value for key, value in attributes.items()})
    return SpanRecord(
        trace_id=trace,
        span_id=f"{next(_ids):016x}",
        parent_id=parent.span_id if parent else None,
        name=name,
        start_ns=ms(start),
        end_ns=ms(end),
        attributes=attrs,
        service="seed",
    )


def llm(
    model: str,
    start: float,
    end: float,
    parent: SpanRecord,
    ttft: float | None,
    tokens: int = 100,
    trace: str = TRACE,
    **attributes: Any,
) -> SpanRecord:
    extra: dict[str, Any] = {"gen_ai.usage.output_tokens": tokens, "gen_ai.request.stream": ttft is not None}
    if ttft is not None:
        extra["gen_ai.response.time_to_first_chunk"] = ttft / 1000
    extra.update(attributes)
    return span(f"chat {model}", start, end, parent, trace, **{k.replace(".", "__"): v for k, v in extra.items()})


Tools = list[tuple[str, float, float]]
"""A batch's tools: (name, start, end) in ms."""


def _agent_trace(
    trace: str, wall: float, calls: list[tuple[str, float, float, float]], batches: list[Tools]
) -> TraceTree:
    """An agent span over ``wall`` ms holding LLM ``calls`` (model, start, end, TTFT) and tool ``batches``, each
    tool with an input hash per name and batch (the same lookup twice hashes the same)."""
    root = span("invoke_agent support", 0, wall, trace=trace)
    spans = [root] + [llm(model, start, end, root, ttft=ttft, trace=trace) for model, start, end, ttft in calls]
    for number, tools in enumerate(batches, start=1):
        batch = span("tool_batch", min(t[1] for t in tools), max(t[2] for t in tools), root, trace)
        spans.append(batch)
        for name, start, end in tools:
            digest = f"{name[:1]}{number}"
            spans.append(span(f"execute_tool {name}", start, end, batch, trace, anatomy__tool__input_hash=digest))
    return TraceTree(trace, spans)


def seed_trace(trace: str = TRACE, stretch: float = 1.0) -> TraceTree:
    """The seed article's anatomy: network 10 ms, LLM 1,500 (TTFT 500), tools 800 + 600 in sequence,
    LLM 1,200 (TTFT 400), tools max(500, 700) in parallel, LLM 900 (TTFT 300): 5,710 ms (times ``stretch``)."""
    s = stretch
    calls = [("claude-sonnet-4-6", 10 * s, 1510 * s, 500 * s), ("claude-sonnet-4-6", 2910 * s, 4110 * s, 400 * s)]
    calls.append(("claude-sonnet-4-6", 4810 * s, 5710 * s, 300 * s))
    first = [("get_user_profile", 1510 * s, 2310 * s), ("get_transaction_history", 2310 * s, 2910 * s)]
    second = [("get_product_catalog", 4110 * s, 4610 * s), ("get_transaction_history", 4110 * s, 4810 * s)]
    return _agent_trace(trace, 5710 * s, calls, [first, second])


OPTIMISED_TRACE = "5cf92f3577b34da6a3ce929d0e0e4737"


def optimised_trace(trace: str = OPTIMISED_TRACE) -> TraceTree:
    """The seed's agent made faster: the tool-deciding calls on claude-haiku-4-5 (300 ms, TTFT 250), both
    batches in parallel (max(800, 600), max(500, 700)), the answer still on claude-sonnet-4-6: 3,010 ms."""
    calls = [
        ("claude-haiku-4-5", 10, 310, 250),
        ("claude-haiku-4-5", 1110, 1410, 250),
        ("claude-sonnet-4-6", 2110, 3010, 300),
    ]
    first = [("get_user_profile", 310, 1110), ("get_transaction_history", 310, 910)]
    second = [("get_product_catalog", 1410, 1910), ("get_transaction_history", 1410, 2110)]
    return _agent_trace(trace, 3010, calls, [first, second])


def _tag(key: str, value: Any) -> dict[str, Any]:
    kind = "bool" if isinstance(value, bool) else "int64" if isinstance(value, int) else "float64"
    return {"key": key, "type": "string" if isinstance(value, str) else kind, "value": value}


def jaeger_document(*trees: TraceTree) -> dict[str, Any]:
    """The traces as a Jaeger JSON download (``{"data": [...]}``), as a user would hand to the command."""
    data = []
    for tree in trees:
        spans = [
            {
                "traceID": tree.trace_id,
                "spanID": s.span_id,
                "operationName": s.name,
                "references": [{"refType": "CHILD_OF", "traceID": tree.trace_id, "spanID": s.parent_id}]
                if s.parent_id
                else [],
                "startTime": s.start_ns // 1000,
                "duration": (s.end_ns - s.start_ns) // 1000,
                "processID": "p1",
                "tags": [_tag(k, v) for k, v in s.attributes.items()],
                "logs": [],
            }
            for s in tree.spans.values()
        ]
        data.append({"traceID": tree.trace_id, "spans": spans, "processes": {"p1": {"serviceName": "seed"}}})
    return {"data": data}
