"""Run in a virtualenv of one anthropic release (``make sdk-venvs``): each kind of Messages call, traced,
against the simulator, which makes each first token wait TTFT_MS. Prints one JSON object: the SDK's
version, and for each call the spans it gave, the usage the SDK itself returned and, on a stream, when the
caller saw its first text (from just before the call: the interval the span's first-chunk time measures).

    .venv-sdk/anthropic-1.17.0/bin/python tests/tracing/_sdk_probe.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import anthropic
from opentelemetry.sdk.trace import ReadableSpan

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.sim import SimServer

TTFT_MS = 300
HEADERS = {"x-sim-ttft-ms": str(TTFT_MS), "x-sim-generation-ms": "40"}
MODEL = "claude-haiku-4-5"
QUESTION = [{"role": "user", "content": "Why was I charged twice?"}]
KEPT = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    semconv.GEN_AI_REQUEST_MODEL,
)


def _span(span: ReadableSpan) -> dict[str, Any]:
    attributes = span.attributes or {}
    return {"name": span.name, "kind": span.kind.name, **{key: attributes[key] for key in KEPT if key in attributes}}


def _usage(usage: Any) -> dict[str, int]:
    return {"input": int(usage.input_tokens), "output": int(usage.output_tokens)}


class _FirstText:
    """When the caller saw a stream's first text delta, in ms from the start of the call."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.ms: float | None = None

    def see(self, event: Any) -> None:
        if self.ms is None and event.type == "content_block_delta":
            self.ms = (time.perf_counter() - self.started) * 1000


Seen = tuple[dict[str, int], float | None]
"""A call's usage and, on a stream, when its first text was seen."""


def _created(client: anthropic.Anthropic) -> Seen:
    message = client.messages.create(model=MODEL, max_tokens=64, messages=QUESTION, extra_headers=HEADERS)
    return _usage(message.usage), None


def _streamed_create(client: anthropic.Anthropic) -> Seen:
    usage = {"input": 0, "output": 0}
    first = _FirstText()
    stream = client.messages.create(model=MODEL, max_tokens=64, messages=QUESTION, extra_headers=HEADERS, stream=True)
    for event in stream:
        first.see(event)
        if event.type == "message_start":
            usage["input"] = int(event.message.usage.input_tokens)
        elif event.type == "message_delta":
            usage["output"] = int(event.usage.output_tokens)
    return usage, first.ms


def _stream_helper(client: anthropic.Anthropic) -> Seen:
    first = _FirstText()
    with client.messages.stream(model=MODEL, max_tokens=64, messages=QUESTION, extra_headers=HEADERS) as stream:
        for event in stream:
            first.see(event)
        return _usage(stream.get_final_message().usage), first.ms


async def _async_created(base_url: str) -> Seen:
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key="k", max_retries=0)
    message = await client.messages.create(model=MODEL, max_tokens=64, messages=QUESTION, extra_headers=HEADERS)
    await client.close()
    return _usage(message.usage), None


def main() -> None:
    handle = aa.configure(exporter="memory", metrics=False)
    calls: dict[str, Any] = {}
    with SimServer() as sim:
        client = anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0)
        kinds: dict[str, Callable[[], Seen]] = {
            "create": lambda: _created(client),
            "create(stream=True)": lambda: _streamed_create(client),
            "messages.stream()": lambda: _stream_helper(client),
            "async create": lambda: asyncio.run(_async_created(sim.base_url)),
        }
        for kind, make in kinds.items():
            before = len(handle.finished_spans())
            usage, first_seen_ms = make()
            handle.force_flush(5.0)
            spans = list(handle.finished_spans())[before:]
            seen = [_span(s) for s in spans]  # type: ignore[arg-type]
            calls[kind] = {"usage": usage, "first_seen_ms": first_seen_ms, "spans": seen}
    json.dump({"version": anthropic.__version__, "ttft_ms": TTFT_MS, "calls": calls}, sys.stdout)
    handle.shutdown(5.0)


if __name__ == "__main__":
    main()
