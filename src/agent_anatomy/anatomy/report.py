"""The typed report: frozen data that is exactly the JSON document ``agent-anatomy/anatomy@1``.

Each class's fields are its JSON object's keys, in order. A field that is ``ABSENT`` is left out of the
document (a key that only some entries have, such as a routed step's ``route_reason``), which is not the same
as ``None`` (a key whose value is ``null``); ``document`` writes them out, reads them back and gives their JSON
Schema. Every renderer formats these and nothing else; ``reporting`` builds them from the analysis. Times are
milliseconds rounded to the microsecond, as in the document. The comparison (``compare@1``) and a budget's
verdicts are typed here too.

The document::

    {"schema": "agent-anatomy/anatomy@1",
     "traces": [TraceReport, ...],          # one per trace
     "summary": Summary}                    # with more than one trace

A trace's ``steps`` follow its critical path, each with a ``kind``: ``llm`` (an LLM call, or a routed call
and its attempts), ``llms`` (LLM calls made at once), ``tools`` (a batch of tool calls), ``cache`` (a lookup),
``span`` (any other span on the path, with the calls and batches inside it), ``outside`` (a span around or
beside the agent), ``agent`` (the agent's own code) and ``gap`` (no span). ``phases_ms`` add up to
``wall_ms``; ``suggestions`` are the what-ifs, largest saving first, each with what it assumes and its evidence;
``spans`` (``to_dict(spans=True)``) is every span with the phase its bar shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "ABSENT",
    "COMPARE_SCHEMA",
    "FIRST_TEXT",
    "MEASURES",
    "SCHEMA",
    "TOTAL",
    "TTFT",
    "AgentEntry",
    "Absent",
    "BatchEntry",
    "CacheStep",
    "Change",
    "CommonPath",
    "Comparison",
    "Failure",
    "Figure",
    "Levers",
    "Limit",
    "LLMBatchEntry",
    "LLMBatchStep",
    "LLMCallEntry",
    "LLMStep",
    "PathSegment",
    "PhaseSummary",
    "PlainStep",
    "Report",
    "SpanEntry",
    "SpanStep",
    "Step",
    "StepChange",
    "Summary",
    "SummarySuggestion",
    "SuggestionEntry",
    "ToolEntry",
    "ToolsStep",
    "TraceReport",
    "TraceRow",
    "Verdict",
    "step_ms",
]

SCHEMA: Final = "agent-anatomy/anatomy@1"


class Absent:
    """The value of a field the document leaves out (see ``ABSENT``)."""

    _instance: Absent | None = None

    def __new__(cls) -> Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Final = Absent()


# --- a trace's steps --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LLMStep:
    """An LLM call on the path (of a routed call, the attempt whose answer was used)."""

    kind: Literal["llm"]
    label: str
    span_id: str
    model: str | None
    route_step: str | None
    duration_ms: float
    ttft_ms: float | None
    thinking_ms: float | None
    streamed: bool | None
    attempts: int
    route_reason: Any = ABSENT
    """Why the router chose the model; only on a routed call's step."""
    estimated_ttft_ms: float | Absent = ABSENT
    """Of a call that was not streamed: when its first token came, estimated from its output tokens and its
    model's speed (the trace's notes say whose)."""
    error: str | Absent = ABSENT
    """What went wrong, when the call failed (``529``, ``KeyboardInterrupt``)."""
    prompt_cache_read_tokens: int | Absent = ABSENT
    """Input tokens the call read from the prompt cache; left out when it read none."""
    prompt_cache_saved_ms: float | Absent | None = ABSENT
    """First-token time that read saved against the same tokens read uncached; None: no rate to tell."""
    prompt_cache_miss: str | Absent = ABSENT
    """Why the prompt cache missed the previous call's prefix, as the response said (``system_changed``...)."""
    speed: str | Absent = ABSENT
    """``fast`` for a call served in fast mode; left out when the trace does not say."""


@dataclass(frozen=True, slots=True)
class ToolEntry:
    """One tool call of a batch; ``cache_hit`` and ``cache_saved_ms`` when a cache lookup ran inside it."""

    name: str
    span_id: str
    duration_ms: float
    error: bool
    cache_hit: bool | Absent = ABSENT
    cache_saved_ms: float | Absent | None = ABSENT


@dataclass(frozen=True, slots=True)
class ToolsStep:
    """A batch of tool calls: how they ran (``single``, ``parallel``, ``sequential``, ``mixed``)."""

    kind: Literal["tools"]
    label: str
    mode: str
    tools: tuple[ToolEntry, ...]
    wall_ms: float
    sum_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class LLMBatchStep:
    """LLM calls of the agent made at once (``parallel``, or ``mixed`` when they only overlap): each one's step."""

    kind: Literal["llms"]
    label: str
    mode: str
    calls: tuple[LLMStep, ...]
    wall_ms: float
    sum_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class CacheStep:
    """A cache lookup on the path: whether it hit, and the time a hit saved."""

    kind: Literal["cache"]
    label: str
    hit: bool
    duration_ms: float
    saved_ms: float | None


@dataclass(frozen=True, slots=True)
class SpanStep:
    """Any other span on the path, with the LLM call and the batches inside it."""

    kind: Literal["span"]
    label: str
    duration_ms: float
    inner: tuple[LLMStep | ToolsStep, ...]


@dataclass(frozen=True, slots=True)
class PlainStep:
    """A step of its duration alone: the agent's own code (``agent``), a span around the agent (an HTTP
    handler) or beside it (an auth check), or time outside the agent with no span (``outside``), no span at
    all (``gap``)."""

    kind: Literal["agent", "gap", "outside"]
    label: str
    duration_ms: float


Step = LLMStep | LLMBatchStep | ToolsStep | CacheStep | SpanStep | PlainStep


# --- a trace --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentEntry:
    """One agent of a trace with several: its own phases add up to its wall time."""

    span_id: str
    name: str
    parent_agent_id: str | None
    start_ms: float
    wall_ms: float
    llm_calls: int
    tool_calls: int
    phases_ms: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class PathSegment:
    """A piece of the critical path: part of one span's interval; ``own`` when no child covers it."""

    span_id: str
    name: str
    start_ms: float
    end_ms: float
    own: bool


@dataclass(frozen=True, slots=True)
class LLMCallEntry:
    """One LLM call of the trace (each once, however many spans recorded it), on the path or not."""

    index: int
    span_id: str
    model: str | None
    route_step: str | None
    start_ms: float
    duration_ms: float
    ttft_ms: float | None
    thinking_ms: float | None
    first_text_ms: float | None
    output_tokens: int | None
    streamed: bool | None
    route_role: Any
    route_outcome: Any
    estimated_ttft_ms: float | Absent = ABSENT
    """As ``LLMStep.estimated_ttft_ms``."""
    error: str | Absent = ABSENT
    """As ``LLMStep.error``."""
    prompt_cache_read_tokens: int | Absent = ABSENT
    """Input tokens the call read from the prompt cache; left out when it read none."""
    prompt_cache_saved_ms: float | Absent | None = ABSENT
    """First-token time that read saved against the same tokens read uncached; None: no rate to tell."""
    prompt_cache_miss: str | Absent = ABSENT
    """Why the prompt cache missed the previous call's prefix, as the response said (``system_changed``...)."""
    speed: str | Absent = ABSENT
    """``fast`` for a call served in fast mode; left out when the trace does not say."""
    first_content: str | Absent = ABSENT
    """``text`` when the first visible content was words (a sentence before tool calls too), ``tool_use`` when
    it was a tool call's input; left out when the trace does not say."""


@dataclass(frozen=True, slots=True)
class BatchEntry(ToolsStep):
    """A tool batch of the trace, on the path or not: a ``tools`` step with its index."""

    index: int


@dataclass(frozen=True, slots=True)
class LLMBatchEntry(LLMBatchStep):
    """LLM calls of one agent made at once, on the path or not: an ``llms`` step with its index and what the
    overlap saved."""

    index: int
    overlap_saved_ms: float


@dataclass(frozen=True, slots=True)
class Levers:
    """What the levers already saved in the trace."""

    cache_hits: int
    cache_saved_ms: float
    parallel_saved_ms: float
    """What the tool executor's parallel batches saved (as their spans say)."""
    parallel_llm_saved_ms: float | Absent = ABSENT
    """What LLM calls made at once saved over making them one after another; left out when none were."""
    prompt_cache_saved_ms: float | Absent = ABSENT
    """First-token time the prompt cache's reads saved, over the calls whose saving is known; left out when no
    call read from it."""


@dataclass(frozen=True, slots=True)
class SuggestionEntry:
    """A what-if: what to change, what it saves (``perceived``: in when the answer starts to appear, not in
    total), what it assumes, and the spans it is about."""

    kind: str
    title: str
    explanation: str
    saving_ms: float
    perceived: bool
    assumes: str
    total_after_ms: float
    target: tuple[str, ...]
    evidence: str
    """How well the saving is known: ``proven`` by this trace, ``measured`` elsewhere (other traces of the
    input, a speeds file), or from the ``reference`` table of model speeds."""
    basis: str
    """What the estimate rests on, in a few words (``3 streamed calls in this trace``)."""
    lever: str | Absent = ABSENT
    """The lever and parameter that apply it (``ModelRouter(fast_steps={'final_synthesis'}, ...)``); left out when
    the report was made before suggestions named them."""


@dataclass(frozen=True, slots=True)
class SpanEntry:
    """One span (``to_dict(spans=True)``): its times from the trace's start and the phase its bar shows."""

    span_id: str
    parent_id: str | None
    name: str
    start_ms: float
    end_ms: float
    phase: str
    status: str
    service: str | None
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Failure:
    """A span of the trace that failed: the root, an agent, a workflow, an LLM call or a tool."""

    span_id: str
    name: str
    error: str
    """What went wrong, briefly (``KeyError``, ``529``)."""
    start_ms: float
    duration_ms: float


@dataclass(frozen=True, slots=True)
class TraceReport:
    """One trace's anatomy: times from its start (``start_unix_ns``)."""

    trace_id: str
    service: str | None
    notes: tuple[str, ...]
    agents: tuple[AgentEntry, ...]
    span_count: int
    start_unix_ns: int
    wall_ms: float
    phases_ms: Mapping[str, float]
    steps: tuple[Step, ...]
    critical_path: tuple[PathSegment, ...]
    llm_calls: tuple[LLMCallEntry, ...]
    batches: tuple[BatchEntry, ...]
    levers: Levers
    suggestions: tuple[SuggestionEntry, ...]
    nothing_to_suggest: str | Absent = ABSENT
    """With no suggestion: why, in a line (what was looked for and not found)."""
    failures: tuple[Failure, ...] | Absent = ABSENT
    """What failed, in order of start; left out when nothing did."""
    llm_batches: tuple[LLMBatchEntry, ...] | Absent = ABSENT
    """LLM calls made at once; left out when there were none."""
    spans: tuple[SpanEntry, ...] | Absent = ABSENT


# --- many traces ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhaseSummary:
    """A phase over many traces, in ms."""

    p50: float
    p95: float
    max: float


@dataclass(frozen=True, slots=True)
class CommonPath:
    """The commonest critical-path shape (its steps by name) and how many traces have it."""

    steps: tuple[str, ...]
    traces: int


@dataclass(frozen=True, slots=True)
class SummarySuggestion:
    """A suggestion made for several traces: in how many, and what it saves in all and on average."""

    kind: str
    title: str
    traces: int
    total_saving_ms: float
    mean_saving_ms: float


@dataclass(frozen=True, slots=True)
class Summary:
    """Over every trace (side traces apart): p50 / p95 / max per phase (and ``total``), the commonest path,
    suggestions summed."""

    trace_count: int
    phases_ms: Mapping[str, PhaseSummary]
    common_path: CommonPath
    suggestions: tuple[SummarySuggestion, ...]
    side_traces: int | Absent = ABSENT
    """Traces with no LLM call and no tool (counting tokens, listing models, a lone embedding): counted here,
    left out of the figures above."""
    notes: tuple[str, ...] | Absent = ABSENT
    """What the traces together show that none does alone (traces whose context was lost)."""


@dataclass(frozen=True, slots=True)
class Report:
    """The document: every trace's report, and with more than one trace their summary."""

    schema: Literal["agent-anatomy/anatomy@1"]
    traces: tuple[TraceReport, ...]
    summary: Summary | Absent = ABSENT


@dataclass(frozen=True, slots=True)
class TraceRow:
    """What a table of traces shows of one (``agent-anatomy list``, the many-trace reports)."""

    trace_id: str
    service: str | None
    start_unix_ns: int
    wall_ms: float
    llm_calls: int
    ttft_ms: float | None
    ttft: str
    """The first call's time to first token as text, or why there is none (``not streamed``, ``no LLM``)."""
    top: str
    """The largest suggestion and its saving, or ``-``."""


# --- the comparison document, agent-anatomy/compare@1 -------------------------------------------------------

COMPARE_SCHEMA: Final = "agent-anatomy/compare@1"
TOTAL: Final = "total"
FIRST_TEXT: Final = "first_text"
"""Until the answer starts to appear (the first visible text of any LLM call, a sentence before tools included)."""

Change = Literal["same", "changed", "appeared", "disappeared"]


@dataclass(frozen=True)
class Figure:
    """One measure on both sides: p50 and p95 in ms; None where a side does not record it."""

    name: str
    before_p50: float | None
    before_p95: float | None
    after_p50: float | None
    after_p95: float | None

    @staticmethod
    def _difference(before: float | None, after: float | None) -> float | None:
        return None if before is None or after is None else after - before

    @property
    def change_p50(self) -> float | None:
        return self._difference(self.before_p50, self.after_p50)

    @property
    def change_p95(self) -> float | None:
        return self._difference(self.before_p95, self.after_p95)


@dataclass(frozen=True)
class StepChange:
    """A step of the typical trace of each side, lined up: ``before`` / ``after`` are its ``steps``."""

    change: Change
    before: Step | None
    after: Step | None
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        step = self.after or self.before
        return step.label if step is not None else "?"

    @property
    def before_ms(self) -> float | None:
        return step_ms(self.before)

    @property
    def after_ms(self) -> float | None:
        return step_ms(self.after)


@dataclass(frozen=True)
class Comparison:
    """Two sets of traces compared: the figures of each side, and the steps of their typical traces lined up."""

    before_traces: int
    after_traces: int
    figures: tuple[Figure, ...]
    steps: tuple[StepChange, ...]
    before_trace_id: str
    after_trace_id: str
    before_typical: bool = False
    """Whether ``before_trace_id`` was chosen as the typical trace of several (not the only one)."""
    after_typical: bool = False


def step_ms(step: Step | None) -> float | None:
    """A step's time on the path (a batch's wall time); None for no step."""
    if step is None:
        return None
    return float(step.wall_ms if isinstance(step, ToolsStep | LLMBatchStep) else step.duration_ms)


# --- a latency budget's verdicts ----------------------------------------------------------------------------

MEASURES: Final = {
    "total": ("total", "ms"),
    "first_text": ("first text", "ms"),
    "tool_time": ("tool time", "ms"),
    "llm_calls": ("LLM calls", "calls"),
}
"""Each measure a budget knows: its short label and unit."""
TTFT: Final = "ttft"


@dataclass(frozen=True)
class Limit:
    """One line of a budget: ``measure`` (with ``selector``, for time to first token) at ``stat`` <= ``limit``."""

    measure: str
    stat: str
    limit: float
    selector: tuple[str, str] | None = None
    """For ``ttft``: ("model", name) or ("step", name)."""

    @property
    def unit(self) -> str:
        return "ms" if self.measure == TTFT else MEASURES[self.measure][1]

    @property
    def label(self) -> str:
        """What the limit is on, short: ``total p95``, ``TTFT claude-haiku-4-5 p95``, ``TTFT step summarise p50``."""
        if self.selector is not None:
            kind, name = self.selector
            return f"TTFT {name if kind == 'model' else 'step ' + name} {self.stat}"
        return f"{MEASURES[self.measure][0]} {self.stat}"


@dataclass(frozen=True)
class Verdict:
    """A limit against what the traces measured; ``value`` None when none of them measured it."""

    limit: Limit
    value: float | None
    measured: int
    """How many traces (calls, for time to first token) the value was taken over."""
    population: int

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value <= self.limit.limit

    @property
    def over(self) -> float:
        return 0.0 if self.value is None else max(self.value - self.limit.limit, 0.0)
