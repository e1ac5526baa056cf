"""The seed article's customer-support agent, written with agent-anatomy, runnable with no API key.

Three tools with the article's latencies (a profile lookup of 800 ms, a transaction history of 600 ms,
or 700 ms for 90 days, a product catalog of 500 ms), the agent loop from ``run_agent``, and the model
played by the simulated Anthropic API with the article's first-token and generation times. Compare:

    python examples/support_agent.py --mode sequential --no-stream    # the naive agent
    python examples/support_agent.py --mode parallel                  # tools together, streamed

``--base-url URL`` talks to an ``agent-anatomy sim`` you started yourself; ``--real`` to the real API
(needs ANTHROPIC_API_KEY).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from contextlib import AbstractContextManager, nullcontext

import anthropic
import httpx2

import agent_anatomy as aa
from agent_anatomy import semconv
from agent_anatomy.sim import SimServer

# The article's model turns: (time to first token, generation) in ms.
TURNS = [(500, 1000), (400, 800), (300, 600)]


@aa.tool
async def get_user_profile(user_id: str) -> dict[str, str]:
    """Look up a customer's profile and plan."""
    await asyncio.sleep(0.8)
    return {"id": user_id, "name": "Ada", "plan": "pro"}


@aa.tool
async def get_transaction_history(user_id: str, days: int = 30) -> list[dict[str, object]]:
    """Fetch a customer's transactions over the last ``days`` days."""
    await asyncio.sleep(0.6 if days <= 30 else 0.7)
    return [{"amount": 42.0, "status": "charged twice", "refund": "processed"}]


@aa.tool
async def get_product_catalog(category: str = "plans") -> list[dict[str, object]]:
    """List the products in a category."""
    await asyncio.sleep(0.5)
    return [{"name": "pro", "price": 42.0}, {"name": "team", "price": 99.0}]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["parallel", "sequential"], default="parallel")
    parser.add_argument("--no-stream", action="store_true", help="wait for whole answers instead of streaming")
    parser.add_argument("--model", default="claude-sonnet-4-6")
    parser.add_argument("--base-url", help="an agent-anatomy sim (or other Messages API) to talk to")
    parser.add_argument("--real", action="store_true", help="use the real Anthropic API (ANTHROPIC_API_KEY)")
    parser.add_argument("--runs", type=int, default=1, help="answer the question this many times, a trace each")
    parser.add_argument("--export", help="where the spans go, e.g. jsonl:runs.jsonl (default: OTEL_TRACES_EXPORTER)")
    options = parser.parse_args()

    # --export, else OTEL_TRACES_EXPORTER, chooses the exporters (under opentelemetry-instrument the SDK's
    # own provider exports by it, and configure() then only adds its recorder); otherwise none.
    exporter = options.export or (None if "OTEL_TRACES_EXPORTER" in os.environ else "none")
    telemetry = aa.configure(service_name="support-agent", exporter=exporter)
    if options.real and not os.environ.get("ANTHROPIC_API_KEY"):
        sys.exit("--real needs ANTHROPIC_API_KEY in the environment")
    server: AbstractContextManager[object] = nullcontext() if (options.real or options.base_url) else SimServer()
    with server as sim:
        base_url = None if options.real else (options.base_url or sim.base_url)  # type: ignore[attr-defined]
        turn = 0

        async def latency_headers(request: object) -> None:
            nonlocal turn
            ttft, generation = TURNS[min(turn, len(TURNS) - 1)]
            request.headers["x-sim-ttft-ms"] = str(ttft)  # type: ignore[attr-defined]
            request.headers["x-sim-generation-ms"] = str(generation)  # type: ignore[attr-defined]
            turn += 1

        # each LLM call asks the simulator for its turn's latency (the simulator reads x-sim-* headers)
        http = httpx2.AsyncClient(event_hooks={"request": [latency_headers]})
        async with anthropic.AsyncAnthropic(
            base_url=base_url, api_key=None if options.real else "sim", http_client=http
        ) as client:
            executor = aa.ParallelExecutor(
                [get_user_profile, get_transaction_history, get_product_catalog], mode=options.mode
            )
            for run in range(options.runs):
                turn = 0
                started = time.perf_counter()
                result = await aa.run_agent(
                    client,
                    model=options.model,
                    tools=executor,
                    stream=not options.no_stream,
                    name="support",
                    system="You are a support agent. Use the tools to answer.",
                    messages=[{"role": "user", "content": "I was charged twice for my plan. What happened?"}],
                )
                elapsed = time.perf_counter() - started
                if options.runs > 1:
                    print(f"run {run + 1} of {options.runs}: {elapsed * 1000:,.0f} ms", flush=True)
    print(f"answer ({result.iterations} LLM calls, {elapsed * 1000:,.0f} ms): {result.text[:90]}")
    for span in sorted(aa.last_trace(), key=lambda s: s.start_time or 0):
        duration = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        ttft = (span.attributes or {}).get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        extra = f"  first token {float(ttft) * 1000:.0f} ms" if ttft is not None else ""
        print(f"  {span.name:<40} {duration:8,.0f} ms{extra}")
    telemetry.shutdown(5.0)  # every span written before the script ends (a jsonl file, a collector)


if __name__ == "__main__":
    asyncio.run(main())
