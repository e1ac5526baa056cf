"""A small traced agent that prints its own trace: the first thing to run after installing.

No API key and no collector: the real anthropic SDK talks to the simulated Anthropic API on
127.0.0.1, tools sleep for the seed article's latencies, spans go to the in-process recorder, and the
script prints the trace as a tree with each span's duration and each LLM call's time to first token.

    python examples/quickstart.py
    python examples/quickstart.py --export jsonl:trace.jsonl   # also write the trace for `agent-anatomy report`
"""

from __future__ import annotations

import argparse
import asyncio

import anthropic
from opentelemetry.sdk.trace import ReadableSpan

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.sim import SimServer

MODEL = "claude-sonnet-4-6"
# The seed article's calls: TTFT 500 ms + 1,000 ms of generation, then 400 + 800.
LLM_CALL_1 = {"x-sim-ttft-ms": "500", "x-sim-generation-ms": "1000", "x-sim-tokens": "60"}
LLM_CALL_2 = {"x-sim-ttft-ms": "400", "x-sim-generation-ms": "800", "x-sim-tokens": "50"}


@aa.tool
async def get_user_profile(user_id: str) -> dict[str, str]:
    """Look up a customer's profile."""
    await asyncio.sleep(0.8)
    return {"id": user_id, "plan": "pro"}


@aa.tool
async def get_transaction_history(user_id: str) -> list[dict[str, object]]:
    """Fetch a customer's recent transactions."""
    await asyncio.sleep(0.6)
    return [{"amount": 42, "status": "refunded"}]


@aa.agent(name="support", description="Answers billing questions")
async def support_agent(client: anthropic.AsyncAnthropic, question: str) -> str:
    messages = [{"role": "user", "content": question}]
    async with client.messages.stream(
        model=MODEL, max_tokens=512, messages=messages, extra_headers=LLM_CALL_1
    ) as stream:
        await stream.until_done()
    await get_user_profile("u-123")  # one after the other: the anatomy report will call this out
    await get_transaction_history("u-123")
    async with client.messages.stream(
        model=MODEL, max_tokens=512, messages=messages, extra_headers=LLM_CALL_2
    ) as stream:
        return await stream.get_final_text()


def print_tree(spans: list[ReadableSpan]) -> None:
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    ids = {span.context.span_id for span in spans}
    for span in spans:
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        by_parent.setdefault(parent, []).append(span)
    origin = min(span.start_time or 0 for span in spans)

    def show(parent: int | None, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start_time or 0):
            start_ms = ((span.start_time or 0) - origin) / 1e6
            duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
            ttft = span.attributes.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) if span.attributes else None
            note = f"  (time to first token {float(ttft) * 1000:.0f} ms)" if ttft is not None else ""
            print(f"{start_ms:8.0f} ms  {'  ' * depth}{span.name:<40} {duration_ms:8.0f} ms{note}")
            show(span.context.span_id, depth + 1)

    print(f"{'start':>11}  {'span':<40} {'duration':>11}")
    show(None, 0)


async def main(export: str) -> None:
    telemetry = aa.configure(service_name="quickstart", exporter=export)  # also instruments anthropic
    with SimServer() as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="sim") as client:
            answer = await support_agent(client, "Where is my refund?")
    print(f"agent answered: {answer[:70]}...\n")
    print_tree(aa.last_trace())
    telemetry.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A small traced agent that prints its own trace.")
    parser.add_argument("--export", default="none", help="where else the spans go, e.g. jsonl:trace.jsonl")
    asyncio.run(main(parser.parse_args().export))
