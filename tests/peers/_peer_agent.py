"""A two-round tool-using agent traced by one peer instrumentation, run in that peer's own virtualenv.

``python _peer_agent.py PEER OUT.jsonl`` starts the simulated API, instruments the anthropic SDK with PEER
(``openllmetry``, ``openinference``, ``otel-genai``: the OpenTelemetry project's own, or ``sdk-builtin``),
and runs the agent four times: bare and under an HTTP-server span, each with the SDK's own tracing off and
on (``sdk-builtin`` only on). Tool and agent spans are written in the peer's own style, as its decorators
would. Every span goes to OUT.jsonl in the OTLP JSON Lines shape; one JSON line on stdout lists the traces
made. Then, with the SDK's tracing off and on, a fan-out: three calls at once on a thread pool under one
agent span.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import anthropic
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from agent_anatomy.sim import Scenario, ScriptedCall, SimProfile, SimServer
from agent_anatomy.telemetry.jsonl import JsonlSpanExporter

MODEL = "claude-sonnet-4-6"
TOOLS = [
    {"name": name, "description": name, "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}}}
    for name in ("get_user_profile", "get_transaction_history", "get_product_catalog")
]
SCENARIO = Scenario(
    turns=[
        [ScriptedCall("get_user_profile", {"id": "u1"}), ScriptedCall("get_transaction_history", {"id": "u1"})],
        [ScriptedCall("get_product_catalog", {"id": "p"}), ScriptedCall("get_transaction_history", {"id": "u2"})],
    ]
)
TTFT_MS = (300, 400, 250)
"""Injected time to first token of the three calls; the first is not streamed."""
TOOL_MS = {"get_user_profile": 300, "get_transaction_history": 200, "get_product_catalog": 150}


def _style(peer: str, kind: str, name: str) -> dict[str, Any]:
    if peer == "openinference":
        return {"openinference.span.kind": kind.upper()} | ({"tool.name": name} if kind == "tool" else {})
    if peer == "openllmetry":
        return {"traceloop.span.kind": kind, "traceloop.entity.name": name}
    operation = "execute_tool" if kind == "tool" else "invoke_agent"
    return {"gen_ai.operation.name": operation} | ({"gen_ai.tool.name": name} if kind == "tool" else {})


def _headers(ttft_ms: int) -> dict[str, str]:
    return {"x-sim-ttft-ms": str(ttft_ms), "x-sim-tokens": "12", "x-sim-generation-ms": "120"}


def _run_tool(tracer: trace.Tracer, peer: str, block: Any) -> dict[str, Any]:
    with tracer.start_as_current_span(f"{block.name}.tool", attributes=_style(peer, "tool", block.name)):
        time.sleep(TOOL_MS[block.name] / 1000)
    return {"type": "tool_result", "tool_use_id": block.id, "content": "ok"}


def _agent(client: anthropic.Anthropic, tracer: trace.Tracer, peer: str) -> str:
    """Run the agent; its trace id."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Why was I charged twice?"}]
    common: dict[str, Any] = {"model": MODEL, "max_tokens": 256, "tools": TOOLS}
    with tracer.start_as_current_span("support.agent", attributes=_style(peer, "agent", "support")) as agent:
        reply = client.messages.create(messages=messages, extra_headers=_headers(TTFT_MS[0]), **common)
        uses = [b for b in reply.content if b.type == "tool_use"]
        results = [_run_tool(tracer, peer, b) for b in uses]  # one after another
        messages += [{"role": "assistant", "content": reply.content}, {"role": "user", "content": results}]
        with client.messages.stream(messages=messages, extra_headers=_headers(TTFT_MS[1]), **common) as stream:
            reply = stream.get_final_message()
        uses = [b for b in reply.content if b.type == "tool_use"]
        here = context.get_current()
        with ThreadPoolExecutor(len(uses)) as pool:  # together
            results = list(pool.map(lambda b: _in(here, tracer, peer, b), uses))
        messages += [{"role": "assistant", "content": reply.content}, {"role": "user", "content": results}]
        events = client.messages.create(messages=messages, extra_headers=_headers(TTFT_MS[2]), stream=True, **common)
        for _ in events:
            pass
    return f"{agent.get_span_context().trace_id:032x}"


FAN_OUT_TOKENS = (12, 12, 30)
"""Output tokens of the fan-out's three calls: two alike, as short answers often are."""


def _fan_out(client: anthropic.Anthropic, tracer: trace.Tracer, peer: str) -> str:
    """Three ``messages.create`` at once on a thread pool, each with its own question (the cookbook's
    parallelization workflow); its trace id."""
    with tracer.start_as_current_span("parallel.agent", attributes=_style(peer, "agent", "parallel")) as agent:
        here = context.get_current()

        def ask(n: int) -> None:
            token = context.attach(here)
            try:
                headers = {**_headers(200), "x-sim-tokens": str(FAN_OUT_TOKENS[n])}
                question = [{"role": "user", "content": f"Question {n}: " + "why " * (n + 1)}]
                client.messages.create(model=MODEL, max_tokens=64, messages=question, extra_headers=headers)
            finally:
                context.detach(token)

        with ThreadPoolExecutor(3) as pool:
            list(pool.map(ask, range(3)))
    return f"{agent.get_span_context().trace_id:032x}"


def _in(ctx: context.Context, tracer: trace.Tracer, peer: str, block: Any) -> dict[str, Any]:
    token = context.attach(ctx)
    try:
        return _run_tool(tracer, peer, block)
    finally:
        context.detach(token)


def main(peer: str, out: str) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(out)))
    trace.set_tracer_provider(provider)  # the SDK's own tracing uses the global provider
    if peer == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument(tracer_provider=provider)
    elif peer == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor as OpenInference

        OpenInference().instrument(tracer_provider=provider)
    elif peer == "otel-genai":
        from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor as OtelGenAI

        OtelGenAI().instrument(tracer_provider=provider)
    elif peer != "sdk-builtin":
        raise SystemExit(f"unknown peer {peer!r}")
    tracer = provider.get_tracer("peer-agent")
    made, fan_outs = [], []
    with SimServer(SimProfile(seed=3), scenario=SCENARIO) as sim:
        for sdk_tracing in (False, True) if peer != "sdk-builtin" else (True,):
            for wrapper in ("bare", "http"):
                options = None if sdk_tracing else {"traces": False}
                with ExitStack() as stack:
                    client = stack.enter_context(
                        anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0, open_telemetry=options)
                    )
                    if wrapper == "http":
                        stack.enter_context(tracer.start_as_current_span("POST /chat", kind=SpanKind.SERVER))
                        time.sleep(0.03)  # the handler's own work before and after the agent
                    trace_id = _agent(client, tracer, peer)
                    if wrapper == "http":
                        time.sleep(0.02)
                made.append({"trace_id": trace_id, "sdk_tracing": sdk_tracing, "wrapper": wrapper})
            with anthropic.Anthropic(
                base_url=sim.base_url,
                api_key="k",
                max_retries=0,
                open_telemetry=None if sdk_tracing else {"traces": False},
            ) as client:
                fan_outs.append({"trace_id": _fan_out(client, tracer, peer), "sdk_tracing": sdk_tracing})
    provider.shutdown()
    print(json.dumps({"peer": peer, "traces": made, "fan_outs": fan_outs}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
