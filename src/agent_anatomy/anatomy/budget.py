"""A latency budget: limits on what traces measure, checked in CI (``agent-anatomy check``).

A budget file (TOML) names a measure per table and limits on its percentiles::

    [total]                 # the trace's wall time
    p50_ms = 4000
    p95_ms = 6000

    [first_text]            # until the answer starts to appear (the first visible text of any LLM call)
    p95_ms = 2500

    [tool_time]             # time in tools (the anatomy's tool phase)
    p95_ms = 1500

    [llm_calls]             # LLM calls per run
    max = 4

    [ttft.model."claude-haiku-4-5"]     # time to first token of one model's calls
    p95_ms = 400

    [ttft.step.summarise]   # of one step's calls: a router step, or "LLM call 2"
    p95_ms = 600

Each limit is checked against the percentile (nearest rank) of the measure over every trace, or every
call; a measure no trace records is reported as not measured, which does not pass.
"""

from __future__ import annotations

import os
import statistics
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from .. import semconv
from ..errors import ConfigurationError
from ..stats import percentile
from .report import MEASURES, TTFT, Limit, LLMCallEntry, TraceReport, Verdict

__all__ = ["Budget", "Limit", "Verdict", "check"]

_SELECTORS: Final = ("model", "step")
_STATS: Final = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "max": 1.0}


class Budget:
    """The limits of a budget file (see the module's docstring for its shape)."""

    def __init__(self, limits: Sequence[Limit], source: str = "budget") -> None:
        if not limits:
            raise ConfigurationError(f"{source}: the budget sets no limit", setting="budget", value=source)
        self.limits = list(limits)
        self.source = source

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Budget:
        """Read a TOML budget file; ConfigurationError naming the file and the entry that is wrong."""
        name = os.fspath(path)
        try:
            with open(path, "rb") as file:
                document = tomllib.load(file)
        except OSError as exc:
            raise ConfigurationError(
                f"--budget {name}: cannot read it: {exc.strerror}", setting="--budget", value=name
            ) from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"--budget {name}: not valid TOML: {exc}", setting="--budget", value=name
            ) from None
        return cls.from_mapping(document, name)

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any], source: str = "budget") -> Budget:
        limits: list[Limit] = []
        for measure, table in document.items():
            if measure == TTFT:
                limits.extend(_ttft_limits(table, source))
            elif measure in MEASURES:
                limits.extend(_limits(measure, None, table, source, f"[{measure}]"))
            else:
                known = ", ".join([*MEASURES, TTFT])
                raise ConfigurationError(
                    f"{source}: [{measure}] is not a measure a budget knows ({known})", setting="budget", value=measure
                )
        return cls(limits, source)


def _ttft_limits(table: object, source: str) -> Iterable[Limit]:
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{source}: ttft must be a table", setting="budget", value=table)
    for kind, named in table.items():
        if kind not in _SELECTORS or not isinstance(named, Mapping):
            raise ConfigurationError(
                f"{source}: [ttft.{kind}] is not one of [ttft.model.NAME], [ttft.step.NAME]",
                setting="budget",
                value=kind,
            )
        for name, limits in named.items():
            yield from _limits(TTFT, (kind, str(name)), limits, source, f'[ttft.{kind}."{name}"]')


def _limits(measure: str, selector: tuple[str, str] | None, table: object, source: str, where: str) -> list[Limit]:
    if not isinstance(table, Mapping) or not table:
        raise ConfigurationError(
            f"{source}: {where} must be a table of limits, like p95_ms = 1500", setting="budget", value=table
        )
    unit = "ms" if measure == TTFT else MEASURES[measure][1]
    suffix = "_ms" if unit == "ms" else ""
    allowed = [f"{stat}{suffix}" for stat in _STATS]
    limits = []
    for key, value in table.items():
        stat = key.removesuffix(suffix) if suffix and key.endswith(suffix) else (key if not suffix else None)
        if stat not in _STATS:
            raise ConfigurationError(
                f"{source}: {where} {key} is not a limit it takes ({', '.join(allowed)})", setting="budget", value=key
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigurationError(
                f"{source}: {where} {key} = {value!r} is not a non-negative number", setting="budget", value=value
            )
        limits.append(Limit(measure, stat, float(value), selector))
    return limits


# --- measuring -----------------------------------------------------------------------------------------


def _used_calls(trace: TraceReport) -> list[LLMCallEntry]:
    """The trace's LLM calls, hedges that lost left out (their answer was not used)."""
    return [c for c in trace.llm_calls if c.route_outcome != "lost"]


def first_text_ms(trace: TraceReport) -> float | None:
    """From the trace's start until the answer starts to appear: the first visible text of its last LLM call, or
    of an earlier call whose first content was words (a sentence streamed before a turn's tool calls counts: the
    user reads it while the tools run); the last call's end when it did not stream and no earlier call showed
    words; None when the trace does not record it."""
    calls = _used_calls(trace)
    if not calls:
        return None
    shown = [
        c.start_ms + c.first_text_ms
        for c in calls
        if c.first_text_ms is not None and (c is calls[-1] or c.first_content == semconv.FIRST_CONTENT_TEXT)
    ]
    if shown:
        return float(min(shown))
    last = calls[-1]
    return float(last.start_ms + last.duration_ms) if last.streamed is False else None


def _selects(selector: tuple[str, str], call: LLMCallEntry) -> bool:
    kind, name = selector
    if kind == "model":
        return bool(call.model == name)
    return name in (call.route_step, f"LLM call {call.index}")


def _samples(limit: Limit, traces: Sequence[TraceReport]) -> tuple[list[float], int]:
    """The values the limit is judged on, and how many traces (or calls) could have given one."""
    if limit.measure == "total":
        return [float(t.wall_ms) for t in traces], len(traces)
    if limit.measure == "tool_time":
        return [float(t.phases_ms["tool"]) for t in traces], len(traces)
    if limit.measure == "llm_calls":
        return [float(len(t.llm_calls)) for t in traces], len(traces)
    if limit.measure == "first_text":
        return [v for v in map(first_text_ms, traces) if v is not None], len(traces)
    assert limit.selector is not None
    calls = [call for trace in traces for call in _used_calls(trace) if _selects(limit.selector, call)]
    return [float(c.ttft_ms) for c in calls if c.ttft_ms is not None], len(calls)


def check(budget: Budget, traces: Sequence[TraceReport]) -> list[Verdict]:
    """Each limit of ``budget`` against the traces' reports: what they measure."""
    verdicts = []
    for limit in budget.limits:
        values, population = _samples(limit, traces)
        values.sort()
        if limit.stat == "p50":  # as the report's p50 is: the median
            value = statistics.median(values) if values else None
        else:
            value = percentile(values, _STATS[limit.stat])
        verdicts.append(Verdict(limit, value, len(values), population))
    return verdicts
