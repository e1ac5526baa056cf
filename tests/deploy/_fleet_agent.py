"""An agent process for the fleet test: TURNS agent turns against the simulator, the anatomy metrics
processor on, its metrics served for Prometheus to scrape on 127.0.0.1:PORT, its spans in a JSON Lines
file. It prints ``done`` when every turn's trace was analysed, then serves until its stdin closes.

    python tests/deploy/_fleet_agent.py SIM_BASE_URL METRICS_PORT SPANS.jsonl [TURNS]
"""

from __future__ import annotations

import asyncio
import sys

import anthropic
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import start_http_server

import agent_anatomy as aa

MODELS = ("claude-haiku-4-5", "claude-sonnet-4-6")
CONCURRENT = 20


async def turns(base_url: str, count: int) -> None:
    async with anthropic.AsyncAnthropic(base_url=base_url, api_key="sim", max_retries=0) as client:

        async def turn(n: int) -> None:
            question = [{"role": "user", "content": f"Question {n}: why was I charged twice?"}]
            await aa.run_agent(client, model=MODELS[n % 2], messages=question, name="support", max_tokens=64)

        for start in range(0, count, CONCURRENT):
            await asyncio.gather(*(turn(n) for n in range(start, min(start + CONCURRENT, count))))


def main() -> None:
    base_url, port, spans = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    meters = MeterProvider(metric_readers=[PrometheusMetricReader()])
    start_http_server(port, addr="127.0.0.1")
    telemetry = aa.configure(
        service_name="fleet-agent", exporter=f"jsonl:{spans}", meter_provider=meters, anatomy_metrics=True
    )
    asyncio.run(turns(base_url, count))
    telemetry.force_flush(30)  # the spans written, every trace analysed and recorded
    print("done", flush=True)
    sys.stdin.read()  # serve /metrics until the test is finished with it
    telemetry.shutdown(5)


if __name__ == "__main__":
    main()
