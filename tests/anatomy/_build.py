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
    model: str, start: float, end: float, parent: SpanRecord, ttft: float | None, tokens: int = 100, **attributes: Any
) -> SpanRecord:
    extra: dict[str, Any] = {"gen_ai.usage.output_tokens": tokens, "gen_ai.request.stream": ttft is not None}
    if ttft is not None:
        extra["gen_ai.response.time_to_first_chunk"] = ttft / 1000
    extra.update(attributes)
    return span(f"chat {model}", start, end, parent, **{k.replace(".", "__"): v for k, v in extra.items()})


def seed_trace() -> TraceTree:
    """The seed article's anatomy: network 10 ms, LLM 1,500 (TTFT 500), tools 800 + 600 in sequence,
    LLM 1,200 (TTFT 400), tools max(500, 700) in parallel, LLM 900 (TTFT 300): 5,710 ms."""
    root = span("invoke_agent support", 0, 5710)
    spans = [root, llm("claude-sonnet-4-6", 10, 1510, root, ttft=500)]
    batch1 = span("tool_batch", 1510, 2910, root)
    spans += [
        batch1,
        span("execute_tool get_user_profile", 1510, 2310, batch1, anatomy__tool__input_hash="a1"),
        span("execute_tool get_transaction_history", 2310, 2910, batch1, anatomy__tool__input_hash="b1"),
    ]
    spans.append(llm("claude-sonnet-4-6", 2910, 4110, root, ttft=400))
    batch2 = span("tool_batch", 4110, 4810, root)
    spans += [
        batch2,
        span("execute_tool get_product_catalog", 4110, 4610, batch2, anatomy__tool__input_hash="c1"),
        span("execute_tool get_transaction_history", 4110, 4810, batch2, anatomy__tool__input_hash="b2"),
    ]
    spans.append(llm("claude-sonnet-4-6", 4810, 5710, root, ttft=300))
    return TraceTree(TRACE, spans)
