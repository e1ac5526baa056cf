"""``agent-anatomy demo``: the seed article's support agent, naive and then optimised, with both anatomies.

Runs on the embedded simulator by default (the article's latencies, no API key). The naive agent is
the article's: one model for every step, no streaming, no cache, its first two lookups one after the
other (its second batch already runs together). The optimised one uses every lever that applies: it routes
each step to the model the naive anatomy suggests (Haiku), streams, starts each lookup as soon as its tool call
is complete, runs every batch in parallel, caches the product catalog (looked up earlier, so a hit), marks its
prompt for the prompt cache, and asks the model for a sentence to the user before its first lookups. Fast mode
is left out: neither demo model has it. Both traces are read back from the in-process recorder, as any trace
would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TextIO

import anthropic

from . import configure
from .anatomy import Anatomy, anatomy_for, compared
from .anatomy.render_text import finish
from .errors import ConfigurationError
from .levers import ModelRouter, ParallelExecutor, ResultCache, run_agent
from .tracing import tool

NAIVE_MODEL: Final = "claude-sonnet-4-6"
ROUTES: Final = {"tool_decision": "claude-haiku-4-5", "final_synthesis": "claude-haiku-4-5"}
"""Each step on the model the naive run's anatomy suggests for it."""
STEPS: Final = ["tool_decision", "tool_decision", "final_synthesis"]
ARTICLE_TURNS: Final = [(500, 1000), (400, 800), (300, 600)]
"""The article's model calls: (time to first token, generation) in ms; 1,500, 1,200 and 900 ms."""
ARTICLE_PARALLEL_CLAIM_MS: Final = 4310
QUESTION: Final = "I was charged twice for my plan this month. What happened, and what can you do?"
SYSTEM: Final = "You are a support agent. Look things up with the tools, then answer briefly."


# --- the article's tools ---------------------------------------------------------------------------------


async def _user_profile(user_id: str) -> dict[str, str]:
    """Look up a customer's profile and plan."""
    await asyncio.sleep(0.8)
    return {"id": user_id, "name": "Ada", "plan": "pro"}


async def _transaction_history(user_id: str, days: int = 30) -> list[dict[str, object]]:
    """Fetch a customer's transactions over the last ``days`` days."""
    await asyncio.sleep(0.6 if days <= 30 else 0.7)
    return [{"amount": 42.0, "status": "charged twice", "refund": "processed"}]


async def _product_catalog(category: str = "plans") -> list[dict[str, object]]:
    """List the products in a category."""
    await asyncio.sleep(0.5)
    return [{"name": "pro", "price": 42.0}, {"name": "team", "price": 99.0}]


get_user_profile = tool(name="get_user_profile")(_user_profile)
get_transaction_history = tool(name="get_transaction_history")(_transaction_history)
get_product_catalog = tool(name="get_product_catalog")(_product_catalog)


# --- progress ------------------------------------------------------------------------------------------


class _StatusLine:
    """One status line, redrawn on a terminal, printed once when piped."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.live = out.isatty()

    @contextlib.asynccontextmanager
    async def running(self, label: str) -> AsyncIterator[None]:
        started = time.perf_counter()
        stop = asyncio.Event()

        async def tick() -> None:
            frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
            index = 0
            while not stop.is_set():
                elapsed = time.perf_counter() - started
                self.out.write(f"\r{frames[index % len(frames)]} {label} … {elapsed:4.1f} s")
                self.out.flush()
                index += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.1)

        ticker = asyncio.create_task(tick()) if self.live else None
        if not self.live:
            self.out.write(f"{label} …\n")
        try:
            yield
        finally:
            stop.set()
            if ticker is not None:
                await ticker
            elapsed = time.perf_counter() - started
            erase = " " * 20 if self.live else ""  # the ticker's longer line, overwritten
            self.out.write(f"{chr(13) if self.live else ''}✓ {label}: {elapsed:.1f} s{erase}\n")
            self.out.flush()


# --- running the two agents ------------------------------------------------------------------------------


class _ArticleLatency:
    """A request hook of the SDK's HTTP client asking the simulator for the article's latency, call by call."""

    def __init__(self) -> None:
        self.turn = 0

    async def __call__(self, request: Any) -> None:
        if "x-sim-ttft-ms" in request.headers:  # a call that set its own latency (the warm-up)
            return
        ttft, generation = ARTICLE_TURNS[min(self.turn, len(ARTICLE_TURNS) - 1)]
        request.headers["x-sim-ttft-ms"] = str(ttft)
        request.headers["x-sim-generation-ms"] = str(generation)
        self.turn += 1


class _ArticleExecutor(ParallelExecutor):
    """The article's agent: it awaits its first two lookups one by one; its second batch runs together."""

    def __init__(self) -> None:
        super().__init__([get_user_profile, get_transaction_history, get_product_catalog])
        self._batches = 0

    async def run(self, tool_calls: Any) -> list[dict[str, Any]]:
        self._batches += 1
        self.mode = "sequential" if self._batches == 1 else "parallel"
        return await super().run(tool_calls)


@dataclass
class DemoResult:
    naive: Anatomy
    optimised: Anatomy


async def _run(base_url: str | None, api_key: str | None, progress: _StatusLine) -> DemoResult:
    messages: Any = [{"role": "user", "content": QUESTION}]
    simulated = api_key is None
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [_ArticleLatency()]}
    naive_http = anthropic.DefaultAsyncHttpxClient(event_hooks=hooks) if simulated else None
    async with anthropic.AsyncAnthropic(
        base_url=base_url, api_key=api_key or "sim", max_retries=2, http_client=naive_http
    ) as client:
        if simulated:  # open the connection first: the article's anatomy has no TCP handshake in it
            await client.messages.create(
                model=NAIVE_MODEL,
                max_tokens=8,
                messages=messages,
                extra_headers={"x-sim-ttft-ms": "0", "x-sim-generation-ms": "0"},
            )
        async with progress.running("naive agent: one model, no streaming, first lookups one by one"):
            naive = await run_agent(
                client,
                model=NAIVE_MODEL,
                messages=messages,
                tools=_ArticleExecutor(),
                system=SYSTEM,
                stream=False,
                prompt_cache=False,  # the naive agent resends its prompt uncached
                name="support (naive)",
            )
    cache = ResultCache(default_ttl_s=3600, namespace="demo")
    cached_catalog = cache.cached(_product_catalog)
    await cached_catalog()  # an earlier request looked the catalog up: it is in the cache now
    catalog = tool(name="get_product_catalog")(cached_catalog)  # the tool's span holds the cache lookup
    async with anthropic.AsyncAnthropic(base_url=base_url, api_key=api_key or "sim", max_retries=2) as client:
        executor = ParallelExecutor([get_user_profile, get_transaction_history, catalog])
        router = ModelRouter(ROUTES, default=NAIVE_MODEL)
        async with progress.running("optimised agent: routed, streamed, tools early and parallel, caches, preamble"):
            optimised = await run_agent(
                client,
                router=router,
                steps=STEPS,
                messages=messages,
                tools=executor,
                system=SYSTEM,
                preamble=True,  # start_tools_early, prompt_cache and stream are on by default
                name="support (optimised)",
            )
    assert naive.trace_id and optimised.trace_id
    optimised_anatomy = anatomy_for(optimised.trace_id)
    naive_anatomy = anatomy_for(naive.trace_id).with_reference(optimised_anatomy)
    return DemoResult(naive_anatomy, optimised_anatomy)


@contextlib.contextmanager
def _simulator() -> Iterator[str]:
    from .sim import ModelProfile, SimProfile, SimServer

    profile = SimProfile(
        seed=1,
        models={
            "claude-haiku-4-5": ModelProfile(ttft_ms=(250, 250), tokens_per_s=(200, 200), output_tokens=(40, 40)),
            "claude-sonnet-4-6": ModelProfile(ttft_ms=(400, 400), tokens_per_s=(70, 70), output_tokens=(40, 40)),
        },
    )
    with SimServer(profile) as server:
        yield server.base_url


def _article_claim(result: DemoResult) -> list[str]:
    """What the article claims for parallel tools, against what the naive trace proves."""
    naive = result.naive.trace
    parallel = next((s for s in naive.suggestions if s.kind == "parallelise" and "batch 1" in s.title), None)
    if parallel is None:
        return []
    after = (naive.wall_ns - parallel.saving_ns) / 1e6
    return [
        "",
        f"The article puts the agent at {ARTICLE_PARALLEL_CLAIM_MS:,} ms with parallel tool calls. "
        f"Parallelising the first batch removes {parallel.saving_ns / 1e6:,.0f} ms, not more: a batch "
        f"can only shrink to its slowest tool. The true figure is {after:,.0f} ms.",
    ]


def run_demo(
    *,
    real: bool = False,
    export: str | None = None,
    html_path: str | None = None,
    color: bool | None = None,
    out: TextIO = sys.stdout,
) -> DemoResult:
    """Run both agents and print their anatomies; the two ``Anatomy`` objects are returned."""
    api_key = os.environ.get("ANTHROPIC_API_KEY") if real else None
    if real and not api_key:
        raise ConfigurationError(
            "--real needs ANTHROPIC_API_KEY in the environment (the real API is used)",
            setting="ANTHROPIC_API_KEY",
            value=None,
        )
    exporters = "none" if export is None else export
    telemetry = configure(service_name="agent-anatomy-demo", exporter=exporters, metrics=export is not None)
    progress = _StatusLine(out)
    try:
        if real:
            result = asyncio.run(_run(None, api_key, progress))
        else:
            with _simulator() as base_url:
                result = asyncio.run(_run(base_url, None, progress))
    finally:
        telemetry.force_flush(5.0)
    out.write("\n" + result.naive.render(color=color) + "\n")
    out.write(result.optimised.render(color=color) + "\n")
    out.write("Naive against optimised (agent-anatomy compare)\n")
    out.write(compared(result.naive, result.optimised, "naive", "optimised", "text", color=color))
    out.write(finish(_article_claim(result), None))
    if html_path:
        page = compared(result.naive, result.optimised, "naive", "optimised", "html")
        with open(html_path, "w", encoding="utf-8") as file:
            file.write(page)
        out.write(f"\nHTML anatomy written to {html_path}\n")
    return result
