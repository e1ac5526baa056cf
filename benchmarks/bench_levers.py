"""Cost of the latency levers themselves, each against a baseline measured in the same run.

- ``ParallelExecutor.run`` on a batch of 5 no-op async tools vs a bare ``asyncio.gather`` of the same
  coroutines, tracing on (target: its overhead at most 1.5x its six spans alone, a batch span and five tool
  spans with the same attributes, each current while its work runs, timed in the same rounds).
- A ``@cached`` hit vs calling a trivial function uncached and vs ``functools.lru_cache`` (targets: a
  hit < 20 µs with tracing on, < 5 µs with the no-op tracer provider).
- ``ModelRouter.decide`` for a step with three observed models (target < 10 µs per decision).
- Hedging on a heavy tail: 200 calls to a simulated model whose first token takes 200 ms, or 1.6 s for
  one call in ten; p50/p95/p99 time to first token without hedging and with ``hedge_after_s=0.4`` on a
  second model of the same latency.
- What each lever saves the demo's support agent on the simulator (the seed's tools and latencies): the
  optimised run with every lever, against the same run with one lever off at a time; each figure is the run
  with every lever as a ratio to the run without that one, for the total and for the time until the answer
  starts to appear.

Rounds are interleaved and medians reported.

    python benchmarks/bench_levers.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable

from _results import Results, add_json_option
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

import agent_anatomy as aa


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def span_floor(tracer: trace.Tracer) -> Callable[[], None]:
    """What the executor's six spans cost by themselves: one batch span and five tool spans, same attributes,
    each current while its work runs (a tool's span is the parent of whatever the tool does)."""
    tool_attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "noop",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": "c0",
        "anatomy.tool.input_hash": "0123456789abcdef",
    }
    batch_attributes = {
        "anatomy.batch.mode": "parallel",
        "anatomy.batch.tool_count": 5,
        "anatomy.batch.wall_time": 0.1,
        "anatomy.batch.sum_time": 0.1,
        "anatomy.batch.saved_time": 0.0,
        "anatomy.batch.max_concurrency": 5,
        "anatomy.batch.error_count": 0,
    }

    def run() -> None:
        with tracer.start_as_current_span("tool_batch") as batch:
            for _ in range(5):
                with tracer.start_as_current_span("execute_tool noop", attributes=tool_attributes):
                    pass
            batch.set_attributes(batch_attributes)

    return run


def executor_overhead(rounds: int, floor: Callable[[], None], batches: int = 500) -> tuple[float, float, float]:
    """Median µs per batch of: a bare ``asyncio.gather``, ``ParallelExecutor.run``, and ``floor`` (its spans
    alone), the three measured in turn within every round so the machine's drift falls on all of them alike."""

    async def noop(n: int) -> int:
        return n

    executor = aa.ParallelExecutor({"noop": noop})
    calls = [{"id": f"c{i}", "name": "noop", "input": {"n": i}} for i in range(5)]

    async def bare() -> None:
        await asyncio.gather(*(noop(i) for i in range(5)))

    async def ours() -> None:
        await executor.run(calls)

    async def measure(fn: Callable[[], object]) -> float:
        started = time.perf_counter()
        for _ in range(batches):
            await fn()  # type: ignore[misc]
        return (time.perf_counter() - started) / batches

    async def run() -> tuple[list[float], list[float], list[float]]:
        base, traced, spans = [], [], []
        await measure(ours)
        for _ in range(rounds):
            base.append(await measure(bare))
            traced.append(await measure(ours))
            started = time.perf_counter()  # the same loop as the others: not timeit, which stops the collector
            for _ in range(batches):
                floor()
            spans.append((time.perf_counter() - started) / batches)
        return base, traced, spans

    base, traced, spans = asyncio.run(run())
    return median_us(base), median_us(traced), median_us(spans)


def cache_costs(rounds: int, calls: int = 20_000) -> dict[str, float]:
    def trivial(x: int) -> int:
        return x + 1

    memo = functools.lru_cache(maxsize=1024)(trivial)
    hit = aa.ResultCache().cached(trivial)
    hit(1)
    memo(1)

    def per_call(fn: Callable[[int], int]) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            fn(1)
        return (time.perf_counter() - started) / calls

    samples: dict[str, list[float]] = {"uncached": [], "lru_cache": [], "hit (tracing on)": [], "hit (no-op)": []}
    traced_provider = TracerProvider()
    for _ in range(rounds):
        samples["uncached"].append(per_call(trivial))
        samples["lru_cache"].append(per_call(memo))
        aa.configure(exporter="none", metrics=False, instrument=False, tracer_provider=traced_provider)
        samples["hit (tracing on)"].append(per_call(hit))
        os.environ["OTEL_SDK_DISABLED"] = "true"  # configure() then installs the no-op providers
        aa.configure()
        del os.environ["OTEL_SDK_DISABLED"]
        samples["hit (no-op)"].append(per_call(hit))
    return {label: median_us(values) for label, values in samples.items()}


def router_decision_us(rounds: int, decisions: int = 20_000) -> float:
    router = aa.ModelRouter({"step": ["a", "b", "c"]}, default="a", explore=0.1, seed=1)
    for model, ttft in (("a", 0.2), ("b", 0.5), ("c", 1.5)):
        for _ in range(50):
            router.observe(model, ttft, ttft * 2)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(decisions):
            router.decide("step")
        samples.append((time.perf_counter() - started) / decisions)
    return median_us(samples)


def hedging_tail(calls: int = 200, concurrency: int = 20) -> dict[str, list[float]]:
    import anthropic

    from agent_anatomy.sim import ModelProfile, SimProfile, SimServer

    tail = ModelProfile(
        ttft_ms=(200, 200), tokens_per_s=(2000, 2000), output_tokens=(10, 10), tail_probability=0.1, tail_multiplier=8
    )
    profile = SimProfile(seed=5, models={"claude-haiku-4-5": tail, "claude-sonnet-4-6": tail})
    plain = aa.ModelRouter({"s": "claude-haiku-4-5"}, default="claude-haiku-4-5")
    hedged = aa.ModelRouter(
        {"s": ["claude-haiku-4-5", "claude-sonnet-4-6"]}, default="claude-haiku-4-5", explore=0.0, hedge_after_s=0.4
    )
    hedged.observe("claude-haiku-4-5", 0.2, 0.25)
    hedged.observe("claude-sonnet-4-6", 0.21, 0.26)

    async def first_token(client: anthropic.AsyncAnthropic, router: aa.ModelRouter) -> float:
        started = time.perf_counter()
        async with router.astream(client, step="s", max_tokens=32, messages=[{"role": "user", "content": "x"}]) as s:
            async for event in s:
                if event.type == "text":
                    return time.perf_counter() - started
        return time.perf_counter() - started

    async def run(router: aa.ModelRouter) -> list[float]:
        with SimServer(profile) as sim:
            async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
                results: list[float] = []
                for start in range(0, calls, concurrency):
                    batch = [first_token(client, router) for _ in range(min(concurrency, calls - start))]
                    results.extend(await asyncio.gather(*batch))
                return results

    return {"without hedging": asyncio.run(run(plain)), "hedged after 400 ms": asyncio.run(run(hedged))}


_LEVERS_OFF: dict[str, dict[str, object]] = {
    "router (Sonnet throughout)": {"router": False},
    "parallel tools (sequential)": {"mode": "sequential"},
    "result cache": {"cache": False},
    "tools started early": {"start_tools_early": False},
    "prompt cache": {"prompt_cache": False},
    "preamble": {"preamble": False},
    "streaming": {"stream": False},
}
"""Each lever of the demo's optimised agent, and what its run without it changes."""


def lever_savings(rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    """The demo's optimised agent with every lever and with each one off, rounds interleaved: per variant, each
    round's total and time until the answer starts (ms), as the anatomy reads them from the trace."""
    import anthropic

    from agent_anatomy import demo
    from agent_anatomy.anatomy.budget import first_text_ms
    from agent_anatomy.sim import ModelProfile, SimProfile, SimServer

    haiku, sonnet = demo.ROUTES["tool_decision"], demo.NAIVE_MODEL
    profile = SimProfile(
        seed=1,
        models={
            haiku: ModelProfile(ttft_ms=(250, 250), tokens_per_s=(200, 200), output_tokens=(40, 40)),
            sonnet: ModelProfile(ttft_ms=(400, 400), tokens_per_s=(70, 70), output_tokens=(40, 40)),
        },
    )

    async def once(client: anthropic.AsyncAnthropic, off: dict[str, object]) -> tuple[float, float]:
        catalog = demo.get_product_catalog
        if off.get("cache", True):
            cache = aa.ResultCache(namespace="bench")
            cached = cache.cached(demo._product_catalog)
            await cached()  # looked up before, as in the demo: a hit
            catalog = aa.tool(name="get_product_catalog")(cached)
        mode = off.get("mode", "parallel")
        executor = aa.ParallelExecutor([demo.get_user_profile, demo.get_transaction_history, catalog], mode=mode)  # type: ignore[arg-type]
        routes = demo.ROUTES if off.get("router", True) else dict.fromkeys(demo.ROUTES, sonnet)
        result = await aa.run_agent(
            client,
            router=aa.ModelRouter(routes, default=sonnet),
            steps=demo.STEPS,
            messages=[{"role": "user", "content": demo.QUESTION}],
            tools=executor,
            system=demo.SYSTEM,
            stream=bool(off.get("stream", True)),
            start_tools_early=bool(off.get("start_tools_early", True)),
            prompt_cache=bool(off.get("prompt_cache", True)),
            preamble=bool(off.get("preamble", True)),
        )
        report = aa.anatomy_for(result.trace_id or "").trace_reports()[0]
        return report.wall_ms, first_text_ms(report) or report.wall_ms

    async def run() -> dict[str, tuple[list[float], list[float]]]:
        variants = {"every lever": {}, **_LEVERS_OFF}
        figures: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in variants}
        with SimServer(profile) as sim:
            async with anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="k", max_retries=0) as client:
                await client.messages.create(model=haiku, max_tokens=8, messages=[{"role": "user", "content": "x"}])
                for _ in range(rounds):
                    for name, off in variants.items():
                        total, first = await once(client, off)
                        figures[name][0].append(total)
                        figures[name][1].append(first)
        return figures

    return asyncio.run(run())


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows under the suite
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    add_json_option(parser)
    options = parser.parse_args()
    results = Results()

    provider = TracerProvider()
    aa.configure(exporter="none", metrics=False, instrument=False, tracer_provider=provider)
    bare, ours, floor = executor_overhead(options.rounds, span_floor(provider.get_tracer("bench")))
    overhead = ours - bare
    within = overhead <= 1.5 * floor  # the target: its overhead over gather at most 1.5x the spans it makes
    print("executor, batch of 5 no-op async tools (tracing on):")
    print(
        f"  asyncio.gather {bare:8.1f} µs   ParallelExecutor.run {ours:8.1f} µs   "
        f"overhead {overhead:7.1f} µs per batch ({overhead / 5:.1f} µs per tool)"
    )
    print(
        f"  its six spans alone (a batch span and five tool spans, same attributes): {floor:6.1f} µs; "
        f"overhead / spans {overhead / floor:4.2f} (target <= 1.5: {'ok' if within else 'MISS'}); "
        f"the executor's own work: {overhead - floor:6.1f} µs"
    )
    results.add(
        "executor (batch of 5 no-op tools)",
        "ParallelExecutor.run overhead",
        overhead,
        "µs/batch",
        baseline=f"its six spans alone {floor:.0f} µs (asyncio.gather {bare:.0f} µs)",
        ratio=overhead / floor,
        target="<= 1.5x its spans",
        ok=within,
    )

    costs = cache_costs(options.rounds)
    print("cache hit of a trivial function:")
    for label, value in costs.items():
        print(f"  {label:<18} {value:7.2f} µs   ({value / costs['lru_cache']:5.1f}x lru_cache)")
        targets = {"hit (tracing on)": 20.0, "hit (no-op)": 5.0}
        results.add(
            "cache hit of a trivial function",
            label,
            value,
            "µs/call",
            baseline=f"lru_cache {costs['lru_cache']:.2f} µs; uncached {costs['uncached']:.2f} µs",
            ratio=value / costs["lru_cache"],
            target=f"< {targets[label]:g} µs" if label in targets else "",
            ok=value < targets[label] if label in targets else None,
        )
    print(
        f"  targets: hit with tracing on < 20 µs: {'ok' if costs['hit (tracing on)'] < 20 else 'MISS'}; "
        f"with the no-op provider < 5 µs: {'ok' if costs['hit (no-op)'] < 5 else 'MISS'}"
    )

    decision = router_decision_us(options.rounds)
    ok = "ok" if decision < 10 else "MISS"
    print(f"router decision, three observed models: {decision:.2f} µs (target < 10 µs: {ok})")
    results.add("router", "decide(), three observed models", decision, "µs", target="< 10 µs", ok=decision < 10)

    aa.configure(exporter="none", metrics=False, tracer_provider=TracerProvider())
    print("hedging on a heavy tail (200 calls, 1 in 10 slowed from 200 ms to 1.6 s), time to first token:")
    tails = {}
    for label, values in hedging_tail().items():
        q = statistics.quantiles(values, n=100)
        tails[label] = {"p50": statistics.median(values) * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000}
        print("  " + f"{label:<20} " + "   ".join(f"{p} {v:6.0f} ms" for p, v in tails[label].items()))
    plain, hedged = tails.values()
    for p in ("p50", "p95", "p99"):
        results.add(
            "hedged requests on a heavy tail (TTFT)",
            f"{p} hedged after 400 ms",
            hedged[p],
            "ms",
            baseline=f"without hedging {plain[p]:.0f} ms",
            ratio=hedged[p] / plain[p],
        )

    rounds = max(1, options.rounds // 5)
    print(f"what each lever saves the demo's optimised agent ({rounds} rounds, the median), with it / without it:")
    figures = {name: (statistics.median(t), statistics.median(f)) for name, (t, f) in lever_savings(rounds).items()}
    total, first = figures.pop("every lever")
    print(f"  every lever: total {total:6.0f} ms, until the answer starts {first:6.0f} ms")
    for name, (without_total, without_first) in figures.items():
        print(
            f"  without {name:<28} total {without_total:6.0f} ms ({total / without_total:4.2f}x)   "
            f"answer starts {without_first:6.0f} ms ({first / without_first:4.2f}x)"
        )
        for measure, value, without in (("total", total, without_total), ("answer starts", first, without_first)):
            results.add(
                "each lever on the demo's agent (with it / without it)",
                f"{name}: {measure}",
                value,
                "ms",
                baseline=f"without it {without:.0f} ms",
                ratio=value / without,
            )
    results.write(options.json)


if __name__ == "__main__":
    main()
