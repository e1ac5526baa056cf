"""What would make a trace faster, each estimate computed from the spans and graded by its evidence.

Eight kinds of suggestion: parallelise a batch of tools that ran one after another (saving: the
batch's wall time beyond its slowest tool), route an LLM call to a faster model (its first-token time and
throughput, as ``speeds`` knows them), cache a tool called again with the same input (the repeat's
time), and stream a final answer that was not streamed (the user waits for the first token, not the
whole answer: when it came is estimated from the call's output tokens at its model's speed), and start
each tool of a streamed answer when its ``tool_use`` block completes instead of at the message's end, and
cache the prompt a call reads again uncached (at the rate its model's first token was measured to grow with
the prompt's size; never on a guess), and ask for fast mode on a call whose model has it (its output written
2.5 times as fast; its first token no sooner). Each names the lever and parameter that applies it, and
its evidence: ``proven`` by the trace, ``measured`` elsewhere, or ``reference`` (``speeds``). A suggestion
claims the parts of the critical path it would remove; suggestions are ranked by saving, and a later one
is charged only for time no earlier one of the same measure claimed (total time, or the perceived time until
the answer starts), so savings never count the same milliseconds twice, are never negative, and never add up
to more than the trace. With none, the analysis says why.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .. import semconv
from ..catalogue import FAST_MODE_SPEEDUP, fast_mode_of, line_of, newest_of, prompt_cache_minimum
from .agents import agent_runs
from .analysis import TraceAnalysis
from .batches import Batch, ToolCall
from .calls import LLMCall
from .estimates import with_estimates
from .llm_batches import LLMBatch
from .prompt_cache import prompt_cache_uses
from .speeds import PROVEN, REFERENCE, ModelSpeed, SpeedBook, speed_samples, speeds_from_samples
from .timeline import phases

__all__ = ["Suggestion", "judged", "model_speeds", "suggest", "why_nothing"]

_MIN_SAVING_NS = 1_000_000
_ROUTE_MARGIN = 0.9
"""A faster model must be estimated at under 90 % of the call's time to be worth suggesting."""


@dataclass(frozen=True)
class Suggestion:
    kind: str
    """``parallelise``, ``route``, ``cache``, ``cache_prompt``, ``stream``, ``stream_tools`` or ``fast_mode``."""
    title: str
    explanation: str
    saving_ns: int
    target: tuple[str, ...]
    """Span ids the suggestion is about."""
    claimed: tuple[tuple[int, int], ...] = field(default=(), repr=False)
    perceived: bool = False
    """True when the saving is in when the user sees the answer start, not in total time (streaming)."""
    assumes: str = ""
    """What the estimate takes for granted that the trace cannot show."""
    evidence: str = PROVEN
    """``proven``, ``measured`` or ``reference`` (``speeds``): the weakest of the facts the saving rests on."""
    basis: str = "this trace's spans"
    """What the estimate rests on, in a few words."""
    lever: str = ""
    """The lever and parameter that apply it (``ModelRouter(fast_steps={'final_synthesis'})``)."""


def model_speeds(analyses: Iterable[TraceAnalysis]) -> dict[str, ModelSpeed]:
    """Per model, from its streamed calls over ``analyses``: median time to first token and tokens per second."""
    return speeds_from_samples(s for analysis in analyses for s in speed_samples(analysis.llm_calls))


def _length(pieces: Iterable[tuple[int, int]]) -> int:
    return sum(end - start for start, end in pieces)


def _union(pieces: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The same time as disjoint intervals in order (a span nested in another claims its time once)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(pieces):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.0f} ms"


class _CriticalPath:
    """A trace's critical path indexed by span, to find the path time of given spans quickly."""

    def __init__(self, analysis: TraceAnalysis) -> None:
        self.analysis = analysis
        self._by_span: dict[str, list[tuple[int, int]]] = {}
        for segment in analysis.critical_path:
            self._by_span.setdefault(segment.span_id, []).append((segment.start_ns, segment.end_ns))

    @functools.cached_property
    def ready_at(self) -> dict[str, int]:
        """When each tool call's ``tool_use`` block was complete, by call id, as the streamed calls' spans say."""
        return {
            call_id: time
            for call in self.analysis.llm_calls
            for time, call_id in _tools_ready(self.analysis, call)
            if call_id
        }

    def window(self, low: int, high: int) -> tuple[tuple[int, int], ...]:
        """All of the critical path inside [low, high]."""
        pieces = []
        for segment in self.analysis.critical_path:
            start, end = max(segment.start_ns, low), min(segment.end_ns, high)
            if end > start:
                pieces.append((start, end))
        return _union(pieces)

    def time_of(self, span_ids: Sequence[str], low: int, high: int) -> tuple[tuple[int, int], ...]:
        """The critical-path time of these spans (or their descendants) inside [low, high]."""
        tree = self.analysis.tree
        wanted = set(span_ids)
        for span_id in span_ids:
            span = tree.spans.get(span_id)
            if span is not None:
                wanted.update(d.span_id for d in tree.descendants(span))
        pieces = []
        for span_id in wanted:
            for start, end in self._by_span.get(span_id, ()):
                start, end = max(start, low), min(end, high)
                if end > start:
                    pieces.append((start, end))
        return _union(pieces)


_GAP_NAMED_NS: Final = 10_000_000
"""Time between sequential tools that a parallelise what-if names (the caller's work between them, saved too)."""


def _scheduled_elsewhere(batch: Batch) -> bool:
    """Whether the batch's tools run when a runtime decides (the Claude Code CLI's), not the user's code."""
    return all(tool.scheduled_by is not None for tool in batch.tools)


def _parallelise(path: _CriticalPath, batch: Batch) -> Suggestion | None:
    if batch.mode not in ("sequential", "mixed") or batch.parallel_saving_ns < _MIN_SAVING_NS:
        return None
    if _scheduled_elsewhere(batch):  # nothing the user can change: the CLI runs its tools as it sees fit
        return None
    together = _together_end(path, batch)
    if batch.end_ns - together < _MIN_SAVING_NS:
        return None  # each started as soon as its tool_use block was complete (as the answer streamed)
    names = ", ".join(t.name for t in batch.tools)
    durations = [_ms(t.duration_ns) for t in batch.tools]
    claimed = path.time_of([t.span_id for t in batch.tools], together, batch.end_ns)
    how = " + ".join(durations) if batch.mode == "sequential" else f"{_ms(batch.wall_ns)} in all"
    between = batch.wall_ns - batch.sum_ns
    if batch.mode == "sequential" and between >= _GAP_NAMED_NS:  # saved too: say so, or the sum looks wrong
        how += f", {_ms(between)} between them"
    return Suggestion(
        "parallelise",
        f"Parallelise tool batch {batch.index} ({names})",
        f"They ran one after another ({how}); run together they take as long as the slowest: "
        f"max({', '.join(durations)}) = {_ms(batch.max_ns)}.",
        _length(claimed),
        tuple(t.span_id for t in batch.tools),
        claimed,
        assumes="the tools are independent (they answer one model turn) and none writes what another reads",
        lever="ParallelExecutor(tools, mode='parallel').run(tool_calls); run_agent(tools=...) runs each turn's "
        "tools through it",
    )


def _together_end(path: _CriticalPath, batch: Batch) -> int:
    """When the batch would end, its tools started together: at its start, or (a tool whose ``tool_use``
    block was complete only later, while the answer streamed) when its block was."""
    ready = path.ready_at
    spans = path.analysis.tree.spans

    def earliest(tool: ToolCall) -> int:
        call_id = spans[tool.span_id].attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
        return max(batch.start_ns, ready.get(call_id, 0) if isinstance(call_id, str) else 0)

    return max(earliest(t) + t.duration_ns for t in batch.tools)


def _parallelise_calls(path: _CriticalPath, run: LLMBatch) -> Suggestion | None:
    """The calls after a run's first, made at once after it: the first may be a plan the others are cut from
    (the orchestrator's workers need the orchestrator's answer, not each other's)."""
    first, rest = run.calls[0], LLMBatch(run.index, run.calls[1:])
    if len(rest.calls) < 2 or rest.parallel_saving_ns < _MIN_SAVING_NS:
        return None
    durations = [_ms(c.duration_ns) for c in rest.calls]
    claimed = path.time_of([c.span_id for c in rest.calls], rest.start_ns + rest.max_ns, rest.end_ns)
    # the pair whose prompt comes closest to holding the answer before it (independent_runs: both known)
    before, after = max(
        itertools.pairwise(run.calls), key=lambda p: (p[1].input_tokens or 0) / (p[0].output_tokens or 1)
    )
    return Suggestion(
        "parallelise",
        f"Make LLM calls {', '.join(str(c.index) for c in rest.calls)} at once",
        f"After LLM call {first.index} they ran one after another ({' + '.join(durations)}) with no tool call "
        f"between them; made at once they take as long as the slowest: max({', '.join(durations)}) = "
        f"{_ms(rest.max_ns)}.",
        _length(claimed),
        tuple(c.span_id for c in rest.calls),
        claimed,
        assumes=(
            f"they need LLM call {first.index}'s answer at most, not each other's: each prompt is shorter than the "
            f"answer before it (at the closest, {after.input_tokens or 0:,} input tokens after an answer of "
            f"{before.output_tokens or 0:,}), so none holds all of it"
        ),
        lever="asyncio.gather over the calls (they are your code's, no lever of this package makes them)",
    )


def _tools_ready(analysis: TraceAnalysis, call: LLMCall) -> list[tuple[int, str | None]]:
    """When each ``tool_use`` block of a streamed call was complete, and its tool call id, as its spans say."""
    spans = (analysis.tree.spans.get(span_id) for span_id in call.traced_by)
    found = [
        (e.time_ns, e.attributes.get(semconv.GEN_AI_TOOL_CALL_ID))
        for s in spans
        if s is not None
        for e in s.events
        if e.name == semconv.EVENT_TOOL_USE_READY
    ]
    return sorted(found, key=lambda r: r[0])


def _start_tools_early(path: _CriticalPath, call: LLMCall) -> Suggestion | None:
    """The tools of a streamed answer started once it ended, though their blocks were complete before: each
    started at its block's end, run as they ran (together, or one after another), the batch would end sooner
    (never before the message ends: the next call needs all of it)."""
    analysis = path.analysis
    ready = _tools_ready(analysis, call)
    if not ready:
        return None
    tree = analysis.tree
    owner = tree.owner(tree.spans[call.span_id])
    following = (
        c.start_ns
        for c in analysis.llm_calls
        if c.start_ns > call.start_ns and tree.owner(tree.spans[c.span_id]) == owner
    )
    before = min(following, default=None)  # the agent's next call: this turn's tools come before it
    batch = next(
        (
            b
            for b in analysis.batches
            if call.end_ns - _MIN_SAVING_NS <= b.start_ns
            and (before is None or b.start_ns < before)
            and tree.owner(tree.spans[b.tools[0].span_id]) == owner
        ),
        None,
    )
    if batch is None:  # no tool waited for this answer's end (they started early already, or ran elsewhere)
        return None
    by_id: dict[Any, int] = {call_id: time for time, call_id in ready if call_id}
    in_order = iter(time for time, _ in ready)
    tools = sorted(batch.tools, key=lambda t: t.start_ns)
    starts: list[int] = []
    for tool in tools:
        call_id = tree.spans[tool.span_id].attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
        starts.append(by_id[call_id] if call_id in by_id else next(in_order, call.end_ns))
    if batch.mode in ("single", "parallel"):
        end = max(start + tool.duration_ns for start, tool in zip(starts, tools, strict=True))
    else:
        cursor: int | None = None
        for start, tool in zip(starts, tools, strict=True):
            cursor = (start if cursor is None else max(start, cursor)) + tool.duration_ns
        end = cursor or call.end_ns
    end = max(end, call.end_ns)
    if batch.end_ns - end < _MIN_SAVING_NS:
        return None
    claimed = path.window(end, batch.end_ns)
    first = min(starts)
    return Suggestion(
        "stream_tools",
        f"Start the tools of LLM call {call.index} as their blocks complete",
        f"Its first tool_use block was complete {_ms(call.end_ns - first)} before its message ended; tool batch "
        f"{batch.index} started only after the end. Each tool started as its block completed, the batch would end "
        f"{_ms(batch.end_ns - end)} sooner.",
        _length(claimed),
        (call.span_id, *(t.span_id for t in batch.tools)),
        claimed,
        assumes="a tool may start while the model still writes the rest of its message (its own input is final)",
        lever="run_agent(start_tools_early=True) (the default, with stream=True); in your own loop, "
        "ParallelExecutor.begin() offered each tool_use block as it completes",
    )


def _cache_prompt(path: _CriticalPath, call: LLMCall, previous: LLMCall, book: SpeedBook) -> Suggestion | None:
    """A call that read again, uncached, the prompt and answer of the agent's call before it (an agent loop
    resends the conversation): the first-token time a cache read of that prefix would save, at the rate the
    model's first token was measured to grow with its prompt."""
    if call.cache_read_tokens != 0 or call.input_tokens is None or previous.input_tokens is None:
        return None  # read from the cache already, or the trace does not say
    prefix = min(previous.input_tokens + (previous.output_tokens or 0), call.input_tokens)
    minimum = prompt_cache_minimum(call.model)  # a shorter prefix is not cached: no suggestion
    speed = book.prefill_of(call.model)
    waited = call.first_token_ns
    if prefix < minimum or speed is None or speed.prefill_ns_per_token is None or waited is None:
        return None
    saving = min(int(prefix * speed.prefill_ns_per_token), int(waited * _MOST_OF_THE_WAIT))
    if saving < _MIN_SAVING_NS:
        return None
    claimed = path.time_of([call.span_id], call.start_ns, call.start_ns + saving)
    per_1k = int(speed.prefill_ns_per_token * 1000)
    return Suggestion(
        "cache_prompt",
        f"Cache the prompt of LLM call {call.index}",
        f"Its first {prefix:,} input tokens are LLM call {previous.index}'s prompt and answer, read again with no "
        f"cache read; {call.model}'s first token comes {_ms(per_1k)} later per 1,000 uncached input tokens "
        f"({speed.basis}), so reading them from the prompt cache would bring it about {_ms(saving)} sooner.",
        _length(claimed),
        (call.span_id,),
        claimed,
        assumes="the prompt starts the same from call to call (system, tools, the conversation so far) and marks "
        "it with cache_control; a cache read's own time is left out",
        evidence=speed.evidence,
        basis=speed.basis,
        lever="run_agent(prompt_cache=True) (the default); on your own calls, with_cache_breakpoints(request)",
    )


_MOST_OF_THE_WAIT: Final = 0.9
"""A cache read never takes the whole first-token wait: the rest of the prompt, and the model, still run."""


def _route(path: _CriticalPath, call: LLMCall, book: SpeedBook) -> Suggestion | None:
    if not call.output_tokens or call.route_outcome == "lost":
        return None
    tokens = call.output_tokens
    own, own_reference = book.speed_of(call.model), book.reference_of(call.model)

    def faster(speed: ModelSpeed) -> bool:
        # Faster than this call took, and, like for like, than its own model: one slow call of the fastest
        # model is no reason to route it to a slower one.
        like = own_reference if speed.evidence == REFERENCE and own_reference is not None else own
        estimate = speed.estimate_ns(tokens)
        return estimate < call.duration_ns * _ROUTE_MARGIN and (
            like is None or estimate < like.estimate_ns(tokens) * _ROUTE_MARGIN
        )

    candidates = [speed for speed in book.alternatives(call.model) if faster(speed)]
    best = min(candidates, key=lambda speed: speed.estimate_ns(tokens), default=None)
    if best is None:
        return None
    estimate = best.estimate_ns(tokens)
    claimed = path.time_of([call.span_id], call.start_ns + estimate, call.end_ns)
    where = f"step '{call.step}'" if call.step else f"LLM call {call.index}"
    return Suggestion(
        "route",
        f"Route {where} to {best.model}",
        f"It took {_ms(call.duration_ns)} on {call.model or 'its model'}; {best.model} answers with a first token "
        f"in {_ms(best.ttft_ns)} at {best.tokens_per_second:,.0f} tokens/s ({best.basis}), so its {tokens:,} "
        f"output tokens would take about {_ms(estimate)}.",
        _length(claimed),
        (call.span_id,),
        claimed,
        assumes=f"{best.model} answers this step as well, at that speed, for this prompt",
        evidence=best.evidence,
        basis=best.basis,
        lever=_router_lever(call, "routes", _model_id(best)),
    )


def _model_id(speed: ModelSpeed) -> str:
    """A model id the router takes: the speed's own model, or for a reference line (``Claude Haiku``) that line's
    newest model."""
    line = line_of(speed.model) if speed.evidence == REFERENCE else None
    return (newest_of(line) if line is not None else None) or speed.model


def _router_lever(call: LLMCall, keyword: str, model: str | None = None) -> str:
    """The ``ModelRouter`` that applies a per-step suggestion: the call's step in ``keyword``'s mapping (to
    ``model``) or set, with how the call gets a step when it has none."""
    step = repr(call.step or "<step>")
    lever = f"ModelRouter({keyword}={{{step}: {model!r}}}, ...)" if model else f"ModelRouter({keyword}={{{step}}}, ...)"
    if call.step:
        return lever
    return f"{lever}, with run_agent(router=..., steps=[...]) naming the call's step"


def _cache(path: _CriticalPath) -> list[Suggestion]:
    seen: dict[tuple[str, str], list[ToolCall]] = {}
    for batch in path.analysis.batches:
        for tool in batch.tools:
            if tool.input_hash and not tool.error:
                seen.setdefault((tool.name, tool.input_hash), []).append(tool)
    suggestions = []
    for (name, _), calls in seen.items():
        if len(calls) < 2:
            continue
        repeats = sorted(calls, key=lambda t: t.start_ns)[1:]
        claimed = _union(p for t in repeats for p in path.time_of([t.span_id], t.start_ns, t.end_ns))
        suggestions.append(
            Suggestion(
                "cache",
                f"Cache {name}",
                f"It ran {len(calls)} times with the same input; from the second call on, a cache would answer "
                f"in microseconds (these repeats took {', '.join(_ms(t.duration_ns) for t in repeats)}).",
                _length(claimed),
                tuple(t.span_id for t in repeats),
                claimed,
                assumes="the result for one input does not change between the calls (a deterministic lookup)",
                lever=f"@cached(ttl_s=...) on {name} (ResultCache(...).cached for a cache shared across processes)",
            )
        )
    return suggestions


def _final_call(calls: Sequence[LLMCall]) -> LLMCall | None:
    """The call whose answer the user gets: the last one whose answer was used."""
    used = [c for c in calls if c.route_outcome != "lost"]
    return used[-1] if used else None


def _stream(path: _CriticalPath, book: SpeedBook) -> Suggestion | None:
    final = _final_call(path.analysis.llm_calls)
    # Only a call known not to have streamed: a trace that does not say claims nothing here.
    if final is None or final.streamed is not False or final.estimated_ttft_ns is None:
        return None
    speed = book.speed_of(final.model)
    first = final.estimated_ttft_ns
    if speed is None or final.duration_ns - first < _MIN_SAVING_NS:
        return None
    claimed = path.time_of([final.span_id], final.start_ns + first, final.end_ns)
    return Suggestion(
        "stream",
        f"Stream the final answer (LLM call {final.index})",
        f"The user waits {_ms(final.duration_ns)} for the whole answer; streamed, text would start after about "
        f"{_ms(first)}: its {final.output_tokens:,} output tokens at {speed.tokens_per_second:,.0f} tokens/s "
        f"({speed.model}, {speed.basis}) take about {_ms(final.duration_ns - first)} of it (perceived latency, "
        "not total time).",
        _length(claimed),
        (final.span_id,),
        claimed,
        perceived=True,
        assumes="the answer can be shown to the user as it is generated",
        evidence=speed.evidence,
        basis=speed.basis,
        lever="run_agent(stream=True, on_text=...) (the default); on your own calls, client.messages.stream(...)",
    )


def _fast_mode(path: _CriticalPath, call: LLMCall) -> Suggestion | None:
    """A call at standard speed on a model with fast mode: its output written 2.5 times as fast (the first token
    no sooner), so the saving is the time after its first token less that time over 2.5."""
    if call.speed == semconv.SPEED_FAST or call.route_outcome == "lost" or not call.output_tokens:
        return None
    needs_beta = fast_mode_of(call.model)
    first = call.first_token_ns
    if needs_beta is None or first is None:
        return None
    writing = call.duration_ns - first
    saving = int(writing * (1 - 1 / FAST_MODE_SPEEDUP))
    if saving < _MIN_SAVING_NS:
        return None
    claimed = path.time_of([call.span_id], call.end_ns - saving, call.end_ns)
    where = f"step '{call.step}'" if call.step else f"LLM call {call.index}"
    beta = " (behind the fast-mode beta header, which the lever adds)" if needs_beta else ""
    return Suggestion(
        "fast_mode",
        f"Use fast mode for {where}",
        f"{call.model} has fast mode{beta}: its {call.output_tokens:,} output tokens took {_ms(writing)} after the "
        f"first token; at {FAST_MODE_SPEEDUP:g}x the output speed they would take {_ms(writing - saving)}.",
        _length(claimed),
        (call.span_id,),
        claimed,
        assumes="fast mode is available to your organisation and worth its price; it misses the prompt cache of "
        "calls at standard speed",
        evidence=REFERENCE,
        basis=f"fast mode's {FAST_MODE_SPEEDUP:g}x output speed (Anthropic's fast mode page)",
        lever=_router_lever(call, "fast_steps") + "; on your own calls, with_fast_mode(request)",
    )


def _subtract(pieces: Sequence[tuple[int, int]], taken: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``pieces`` less the time in ``taken`` (disjoint intervals, sorted by start)."""
    remaining = []
    for start, end in pieces:
        index = max(bisect.bisect_right(taken, (start, start)) - 1, 0)
        while start < end and index < len(taken) and taken[index][0] < end:
            low, high = taken[index]
            if high > start:
                if low > start:
                    remaining.append((start, low))
                start = max(start, high)
            index += 1
        if start < end:
            remaining.append((start, end))
    return remaining


def _agent_turns(analysis: TraceAnalysis) -> Iterable[tuple[LLMCall, LLMCall]]:
    """Each LLM call of an agent with the call of the same agent before it (a router's attempts left out)."""
    tree = analysis.tree
    last: dict[str | None, LLMCall] = {}
    for call in sorted(analysis.llm_calls, key=lambda c: c.start_ns):
        if call.route_outcome == "lost":
            continue
        owner = tree.owner(tree.spans[call.span_id])
        if owner in last:
            yield last[owner], call
        last[owner] = call


def suggest(analysis: TraceAnalysis, book: SpeedBook) -> list[Suggestion]:
    """The trace's suggestions, largest saving first, each charged only for time not already claimed."""
    path = _CriticalPath(analysis)
    candidates: list[Suggestion] = []
    for batch in analysis.batches:
        if (found := _parallelise(path, batch)) is not None:
            candidates.append(found)
    for run in analysis.independent_runs:
        if (found := _parallelise_calls(path, run)) is not None:
            candidates.append(found)
    for call in analysis.llm_calls:
        if (found := _route(path, call, book)) is not None:
            candidates.append(found)
        if (found := _start_tools_early(path, call)) is not None:
            candidates.append(found)
        if (found := _fast_mode(path, call)) is not None:
            candidates.append(found)
    for previous, call in _agent_turns(analysis):
        if (found := _cache_prompt(path, call, previous, book)) is not None:
            candidates.append(found)
    candidates.extend(_cache(path))
    if (found := _stream(path, book)) is not None:
        candidates.append(found)
    candidates.sort(key=lambda s: s.saving_ns, reverse=True)
    # Total time and perceived time are two measures: streaming the answer and routing its call both count,
    # each against the others of its own measure only.
    taken: dict[bool, list[tuple[int, int]]] = {False: [], True: []}
    ranked = []
    for candidate in candidates:
        claims = taken[candidate.perceived]
        pieces = _subtract(_union(candidate.claimed), claims)
        saving = _length(pieces)
        if saving < _MIN_SAVING_NS:
            continue
        for piece in pieces:
            bisect.insort(claims, piece)
        ranked.append(dataclasses.replace(candidate, saving_ns=saving, claimed=tuple(pieces)))
    ranked.sort(key=lambda s: s.saving_ns, reverse=True)
    return ranked


def why_nothing(analysis: TraceAnalysis, book: SpeedBook) -> str:
    """Why a trace has no suggestion: each lever looked for, and what the trace showed instead."""
    calls, batches = analysis.llm_calls, analysis.batches
    if not calls and not batches:
        return "the trace holds no LLM call and no tool call"
    reasons = []
    if not batches:
        reasons.append("no tool calls")
    elif not any(b.mode in ("sequential", "mixed") for b in batches):
        reasons.append("each tool batch ran its tools together, or had one")
    elif all(_scheduled_elsewhere(b) for b in batches if b.mode in ("sequential", "mixed")):
        reasons.append("the tools that ran one after another were scheduled by the Claude Code CLI, not your code")
    else:
        reasons.append("the tools that ran one after another were off the critical path")
    tools = [t for b in batches for t in b.tools]
    if tools and any(t.input_hash is None for t in tools):
        reasons.append("tool inputs are not recorded, so repeated calls cannot be seen")
    elif tools:
        reasons.append("no tool ran twice with the same input")
    final = _final_call(calls)
    if final is not None:
        if final.streamed:
            reasons.append("the final answer streamed")
        elif final.streamed is None:
            reasons.append("the trace does not say whether the final answer streamed")
        elif not final.output_tokens:
            reasons.append("the final answer's output tokens are not recorded")
        elif book.speed_of(final.model) is None:
            reasons.append(f"the speed of {final.model or 'its model'} is not known (pass --speeds)")
        else:
            reasons.append("the final answer was short")
        if all(not c.output_tokens for c in calls):
            reasons.append("no call records its output tokens, so no faster model can be estimated")
        else:
            reasons.append("no model known would answer a call at least 10 % sooner")
    return "; ".join(reasons)


def judged(analysis: TraceAnalysis, speeds: Mapping[str, ModelSpeed]) -> TraceAnalysis:
    """The analysis completed by what is known of the models' speeds (``speeds``: measured over the input,
    or read from a speeds file; the trace's own calls and the reference table besides): unstreamed calls'
    first tokens estimated, the phases split by them, the suggestions made. A copy: an analysis is never
    changed."""
    book = SpeedBook.for_calls(analysis.llm_calls, speeds)
    # analyse_trace estimated by the trace's own speeds and the reference: only measured speeds change that
    changed = None if speeds is analysis.estimated_by else with_estimates(analysis.llm_calls, analysis.notes, book)
    if changed is not None:
        calls, notes = changed
        tree, agent = analysis.tree, analysis.agent_span
        analysis = dataclasses.replace(
            analysis,
            llm_calls=calls,
            phases=phases(tree, agent, calls),
            agents=agent_runs(tree, calls, analysis.duplicate_of),
            notes=notes,
            estimated_by=speeds,
        )
    suggestions = suggest(analysis, book)
    return dataclasses.replace(
        analysis,
        suggestions=suggestions,
        nothing_to_suggest="" if suggestions else why_nothing(analysis, book),
        prompt_cache=prompt_cache_uses(analysis.llm_calls, book),
    )
