"""A small traced agent that prints its own spans: the first thing to run after installing.

No API key and no collector needed: tools sleep for the seed article's latencies, the spans go to the
in-process recorder, and the script prints the trace as a tree with each span's duration.

    python examples/quickstart.py
"""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace import ReadableSpan

import agent_anatomy as aa


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


@aa.tool
async def get_product_catalog(category: str) -> list[str]:
    """List products in a category."""
    await asyncio.sleep(0.5)
    return ["pro", "team"]


@aa.step(step_type="lookup")
async def sequential_lookups(user_id: str) -> None:
    await get_user_profile(user_id)
    await get_transaction_history(user_id)


@aa.step(step_type="lookup")
async def parallel_lookups(user_id: str) -> None:
    await asyncio.gather(get_transaction_history(user_id), get_product_catalog("plans"))


@aa.agent(name="support", description="Answers billing questions")
async def support_agent(user_id: str) -> str:
    await sequential_lookups(user_id)
    await parallel_lookups(user_id)
    return "Your refund of $42 was processed."


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
            print(f"{start_ms:8.0f} ms  {'  ' * depth}{span.name:<40} {duration_ms:8.0f} ms")
            show(span.context.span_id, depth + 1)

    print(f"{'start':>11}  {'span':<40} {'duration':>11}")
    show(None, 0)


def main() -> None:
    telemetry = aa.configure(service_name="quickstart", exporter="none")
    answer = asyncio.run(support_agent("u-123"))
    print(f"agent answered: {answer}\n")
    print_tree(aa.last_trace())
    telemetry.shutdown()


if __name__ == "__main__":
    main()
