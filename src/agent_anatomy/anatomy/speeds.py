"""What the what-ifs know of each model's speed, and how well they know it.

A model's speed is its time to first token and its output tokens per second. It is known, best first, from
the streamed calls of the same trace (*proven*), from other traces of the same input or a speeds file the
user passes (*measured*), or from the reference table below (*reference*), which is used only where nothing
better is known. Every estimate the anatomy makes names the grade and the basis of the speed it used.

Speeds measured elsewhere come from the fleet view's Prometheus (``--speeds prometheus+http://HOST:9090``), or
a speeds file (``agent-anatomy report --write-speeds FILE`` writes one, ``--speeds FILE`` reads it)::

    {"schema": "agent-anatomy/speeds@1",
     "models": {"claude-sonnet-4-6": {"ttft_ms": 612.0, "tokens_per_second": 74.1, "calls": 480,
                                      "ttft_ms_per_1k_input_tokens": 41.5}}}
"""

from __future__ import annotations

import json
import os
import statistics
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from ..catalogue import CACHE_READ_SHARE, CATALOGUE_DATE, CATALOGUE_SOURCE, LINES, line_of
from ..errors import ConfigurationError, SourceError
from .calls import LLMCall
from .sources.prometheus import ALL, fetch_model_figures

__all__ = [
    "EVIDENCE",
    "MEASURED",
    "PROVEN",
    "REFERENCE",
    "REFERENCE_DATE",
    "REFERENCE_SOURCE",
    "REFERENCE_SPEEDS",
    "SPEEDS_SCHEMA",
    "ModelSpeed",
    "SpeedBook",
    "SpeedSample",
    "family_of",
    "prometheus_speeds",
    "read_speeds",
    "speed_samples",
    "speeds_document",
    "speeds_from",
    "speeds_from_samples",
]

PROVEN: Final = "proven"
"""Shown by the trace itself."""
MEASURED: Final = "measured"
"""Measured elsewhere: other traces of the same input, or a speeds file."""
REFERENCE: Final = "reference"
"""From the reference table shipped with the package: the weakest."""
EVIDENCE: Final = (PROVEN, MEASURED, REFERENCE)
"""The grades, strongest first."""

SPEEDS_SCHEMA: Final = "agent-anatomy/speeds@1"


@dataclass(frozen=True)
class ModelSpeed:
    """A model's median first-token time and throughput, with how it is known (``evidence``, ``basis``)."""

    model: str
    ttft_ns: int
    tokens_per_second: float
    calls: int
    evidence: str = MEASURED
    basis: str = ""
    """Where the figures come from, in a few words: ``3 streamed calls in this trace``."""
    prefill_ns_per_token: float | None = None
    """How much later the first token comes per uncached input token (the slope of time to first token against
    the prompt's uncached size, over calls of different sizes); None when not measured."""

    def estimate_ns(self, output_tokens: int) -> int:
        """A whole answer of ``output_tokens``: the first token, then the rest at this throughput."""
        return self.ttft_ns + self.generation_ns(output_tokens)

    def generation_ns(self, output_tokens: int) -> int:
        return int(output_tokens / self.tokens_per_second * 1e9)


# --- the reference table ------------------------------------------------------------------------------------

REFERENCE_DATE: Final = CATALOGUE_DATE
REFERENCE_SOURCE: Final = CATALOGUE_SOURCE
REFERENCE_SPEEDS: Final[Mapping[str, ModelSpeed]] = {
    name: ModelSpeed(
        line.display_name,
        int(line.typical_ttft_ms * 1e6),
        line.typical_tokens_per_s,
        0,
        REFERENCE,
        f"reference table, {REFERENCE_DATE}",
    )
    for name, line in LINES.items()
}
"""Typical speeds of the current Claude models, by the line word in a model's name (the catalogue's)."""


def family_of(model: str | None) -> str | None:
    """The reference family a model name belongs to (``claude-haiku-4-5@20251001`` → ``haiku``), if any."""
    return line_of(model)


# --- measured speeds ----------------------------------------------------------------------------------------

SpeedSample = tuple[str, int, float, int | None, int]
"""One streamed call's (model, time to first token in ns, output tokens per second, uncached input tokens, input
tokens read from the prompt cache)."""


def speed_samples(calls: Iterable[LLMCall]) -> list[SpeedSample]:
    """What the models' speeds are learnt from: the calls that recorded a first token and a throughput."""
    return [
        (call.model, call.ttft_ns, call.tokens_per_second, call.uncached_input_tokens, call.cache_read_tokens or 0)
        for call in calls
        if call.model and call.ttft_ns is not None and call.tokens_per_second
    ]


_PREFILL_CALLS: Final = 3
_PREFILL_SPREAD: Final = 1000
"""A slope is fitted over at least 3 calls whose uncached prompts differ by 1,000 tokens or more."""


def _prefill_slope(samples: Iterable[SpeedSample]) -> float | None:
    """The least-squares slope of time to first token against uncached input tokens; None when the calls are
    too few, too alike in size, or show no growth."""
    # A token read from the cache still costs the first token CACHE_READ_SHARE of an uncached one.
    points = [(s[3] + CACHE_READ_SHARE * s[4], float(s[1])) for s in samples if s[3] is not None]
    if len(points) < _PREFILL_CALLS or max(p[0] for p in points) - min(p[0] for p in points) < _PREFILL_SPREAD:
        return None
    mean_x = statistics.fmean(p[0] for p in points)
    mean_y = statistics.fmean(p[1] for p in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return slope if slope > 0 else None


def speeds_from_samples(
    samples: Iterable[SpeedSample], evidence: str = MEASURED, where: str = "this input"
) -> dict[str, ModelSpeed]:
    """Per model: median time to first token and median tokens per second."""
    by_model: dict[str, list[SpeedSample]] = {}
    for sample in samples:
        by_model.setdefault(sample[0], []).append(sample)
    return {
        model: ModelSpeed(
            model,
            int(statistics.median(s[1] for s in found)),
            statistics.median(s[2] for s in found),
            len(found),
            evidence,
            f"{len(found)} streamed call{'s' if len(found) != 1 else ''} in {where}",
            _prefill_slope(found),
        )
        for model, found in by_model.items()
    }


class SpeedBook:
    """Each model's best-known speed for one trace: the trace's own calls, then the input's and a speeds
    file's, then the reference table (by family)."""

    def __init__(self, trace: Mapping[str, ModelSpeed], measured: Mapping[str, ModelSpeed]) -> None:
        self._known = {**measured, **trace}
        self._layers = (trace, measured)

    @classmethod
    def for_calls(cls, calls: Iterable[LLMCall], measured: Mapping[str, ModelSpeed]) -> SpeedBook:
        return cls(speeds_from_samples(speed_samples(calls), PROVEN, "this trace"), measured)

    def speed_of(self, model: str | None) -> ModelSpeed | None:
        """The model's own speed if known, else its family's reference speed; None for an unknown model."""
        if not model:
            return None
        known = self._known.get(model)
        return known if known is not None else self.reference_of(model)

    def prefill_of(self, model: str | None) -> ModelSpeed | None:
        """The best-known speed of ``model`` that measured how its first token grows with the prompt."""
        for layer in self._layers:
            speed = layer.get(model or "")
            if speed is not None and speed.prefill_ns_per_token:
                return speed
        return None

    @staticmethod
    def reference_of(model: str | None) -> ModelSpeed | None:
        """The reference speed of the model's family; None for a model of no known family."""
        family = family_of(model)
        return REFERENCE_SPEEDS[family] if family is not None else None

    def alternatives(self, model: str | None) -> list[ModelSpeed]:
        """Other models a call of ``model`` could go to: every model known, and each reference family none of
        them belongs to (nor ``model``)."""
        others = [speed for name, speed in self._known.items() if name != model]
        covered = {family_of(name) for name in self._known} | {family_of(model)}
        return others + [speed for family, speed in REFERENCE_SPEEDS.items() if family not in covered]


# --- speeds files -------------------------------------------------------------------------------------------


def speeds_document(speeds: Mapping[str, ModelSpeed]) -> dict[str, Any]:
    """The speeds file of these speeds (``--write-speeds``)."""
    return {
        "schema": SPEEDS_SCHEMA,
        "models": {
            model: {
                "ttft_ms": round(speed.ttft_ns / 1e6, 3),
                "tokens_per_second": round(speed.tokens_per_second, 3),
                "calls": speed.calls,
                **(
                    {"ttft_ms_per_1k_input_tokens": round(speed.prefill_ns_per_token / 1e3, 3)}
                    if speed.prefill_ns_per_token
                    else {}
                ),
            }
            for model, speed in sorted(speeds.items())
        },
    }


PROMETHEUS_PREFIX: Final = "prometheus+"


def prometheus_speeds(url: str, window: str = "1h") -> dict[str, ModelSpeed]:
    """The speeds the fleet view's Prometheus measured (``http://HOST:9090``) over the last ``window``: each
    model's median time to first token and output speed, graded measured."""
    where = f"the fleet view's Prometheus at {url}, " + ("all counted" if window == ALL else f"last {window}")
    return {
        f.model: ModelSpeed(
            f.model, int(f.ttft_s * 1e9), 1 / f.seconds_per_token, f.calls, MEASURED, f"{where} ({f.calls:,} calls)"
        )
        for f in fetch_model_figures(url, window)
    }


def speeds_from(spec: str) -> dict[str, ModelSpeed]:
    """``--speeds``: a speeds file, or ``prometheus+http://HOST:9090`` (``?window=6h``, default the last hour;
    ``?window=all``: every count the running processes kept)."""
    if spec.startswith(PROMETHEUS_PREFIX):
        address = urllib.parse.urlsplit(spec.removeprefix(PROMETHEUS_PREFIX))
        window = dict(urllib.parse.parse_qsl(address.query)).get("window", "1h")
        if window != ALL and (not window[:-1].isdigit() or window[-1:] not in ("s", "m", "h", "d", "w")):
            raise ConfigurationError(
                f"--speeds {spec}: window={window!r} is not like 30m, 1h or 7d", setting="speeds", value=spec
            )
        return prometheus_speeds(f"{address.scheme}://{address.netloc}", window)
    return read_speeds(spec)


def read_speeds(path: str | os.PathLike[str]) -> dict[str, ModelSpeed]:
    """The speeds of a speeds file (``--speeds``), graded measured; SourceError naming what is wrong."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as file:
            document = json.load(file)
    except OSError as exc:
        raise SourceError(f"cannot read speeds file {source}: {exc.strerror}", source=source) from exc
    except json.JSONDecodeError as exc:
        raise SourceError(f"{source}: not valid JSON at line {exc.lineno}: {exc.msg}", source=source) from exc
    if not isinstance(document, Mapping) or document.get("schema") != SPEEDS_SCHEMA:
        raise SourceError(
            f'{source}: expected a speeds file ({{"schema": "{SPEEDS_SCHEMA}", "models": ...}}, as '
            "agent-anatomy report --write-speeds writes)",
            source=source,
        )
    models = document.get("models")
    if not isinstance(models, Mapping):
        raise SourceError(f'{source}: expected "models" as an object of model names', source=source)
    name = os.path.basename(source)
    speeds = {}
    for model, figures in models.items():
        try:
            ttft, rate = float(figures["ttft_ms"]), float(figures["tokens_per_second"])
            calls = int(figures.get("calls", 0))
            per_1k = figures.get("ttft_ms_per_1k_input_tokens")
            prefill = float(per_1k) * 1e3 if per_1k is not None else None
        except (TypeError, KeyError, ValueError):
            raise SourceError(
                f"{source}: model {model!r} needs numbers ttft_ms and tokens_per_second, got {figures!r}",
                source=source,
            ) from None
        if ttft < 0 or rate <= 0:
            raise SourceError(
                f"{source}: model {model!r}: ttft_ms must be >= 0 and tokens_per_second > 0", source=source
            )
        speed = ModelSpeed(str(model), int(ttft * 1e6), rate, calls, MEASURED, prefill_ns_per_token=prefill)
        speeds[str(model)] = replace(speed, basis=f"speeds file {name}" + (f" ({calls:,} calls)" if calls else ""))
    return speeds
