"""Latency profiles of the simulated API: time to first token and throughput per model, and faults.

Every figure is drawn from a seeded generator, so a run is reproducible; a profile file (TOML, or YAML
when PyYAML is installed) overrides the defaults, and per-request headers override both (see
``protocol.py``). Defaults are the catalogue's (``catalogue.LINES``), after the seed article: Haiku answers in
200 to 400 ms, Sonnet in 400 to 800 ms, Opus in 1 to 2 s.
"""

from __future__ import annotations

import json
import random
import threading
import tomllib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from ..catalogue import LINES
from ..errors import ConfigurationError, MissingDependencyError

__all__ = [
    "DEFAULT_FAMILIES",
    "FaultProfile",
    "ModelProfile",
    "SimProfile",
    "Timing",
    "load_profile",
]


def seeded_rng(*parts: object) -> random.Random:
    """A generator seeded by ``parts``, the same in every process (``hash()`` of a str is not)."""
    return random.Random(zlib.crc32(":".join(map(str, parts)).encode()))


@dataclass(frozen=True)
class ModelProfile:
    """How fast one model family answers: uniform ranges, with an optional heavy tail on TTFT."""

    ttft_ms: tuple[float, float]
    tokens_per_s: tuple[float, float]
    output_tokens: tuple[int, int] = (40, 120)
    tail_probability: float = 0.0
    """Share of requests whose TTFT is multiplied by ``tail_multiplier`` (a slow day, a cold replica)."""
    tail_multiplier: float = 1.0
    prefill_ms_per_1k: float = 0.0
    """How much later the first token comes per 1,000 input tokens read uncached (or written to the prompt
    cache); a token read from the cache costs ``CACHE_READ_SHARE`` of that."""

    def __post_init__(self) -> None:
        if self.prefill_ms_per_1k < 0:
            raise ConfigurationError(
                f"prefill_ms_per_1k={self.prefill_ms_per_1k!r}: must not be negative",
                setting="prefill_ms_per_1k",
                value=self.prefill_ms_per_1k,
            )
        for name in ("ttft_ms", "tokens_per_s", "output_tokens"):
            low, high = getattr(self, name)
            if low < 0 or high < low:
                raise ConfigurationError(
                    f"{name}={[low, high]!r}: expected [low, high] with 0 <= low <= high",
                    setting=name,
                    value=[low, high],
                )
        if not 0.0 <= self.tail_probability <= 1.0 or self.tail_multiplier < 1.0:
            raise ConfigurationError(
                "tail_probability must be within 0..1 and tail_multiplier at least 1",
                setting="tail_probability",
                value=(self.tail_probability, self.tail_multiplier),
            )


DEFAULT_FAMILIES: Final[Mapping[str, ModelProfile]] = {
    name: ModelProfile(ttft_ms=line.ttft_ms, tokens_per_s=line.tokens_per_s, prefill_ms_per_1k=line.prefill_ms_per_1k)
    for name, line in LINES.items()
}
"""Keyed by a word the model name contains (the catalogue's lines): the ranges and prefill rates of
``catalogue.LINES``."""

ZERO_LATENCY: Final = ModelProfile(ttft_ms=(0, 0), tokens_per_s=(1e9, 1e9), output_tokens=(50, 50))


@dataclass(frozen=True)
class FaultProfile:
    """Faults drawn per request: error rates by status code and the share of streams cut mid-way."""

    error_rates: Mapping[int, float] = field(default_factory=dict)
    cut_stream_rate: float = 0.0
    stall_rate: float = 0.0
    stall_ms: float = 0.0

    def __post_init__(self) -> None:
        for status, rate in self.error_rates.items():
            if status not in (400, 401, 429, 500, 529) or not 0.0 <= rate <= 1.0:
                raise ConfigurationError(
                    f"error_rates: {status}={rate!r}; statuses are 400, 401, 429, 500, 529 and rates 0..1",
                    setting="error_rates",
                    value=dict(self.error_rates),
                )
        if sum(self.error_rates.values()) > 1.0:
            raise ConfigurationError(
                "error rates add up to more than 1", setting="error_rates", value=dict(self.error_rates)
            )


@dataclass(frozen=True)
class Timing:
    """What one request will do, after profile, draw and headers: the simulator's whole plan for it."""

    ttft_ms: float
    generation_ms: float | None
    """Fixed generation time; None means output tokens at ``tokens_per_s``."""
    tokens_per_s: float
    output_tokens: int
    status: int | None = None
    cut_after_events: int | None = None
    stall_ms: float = 0.0
    stall_after_events: int = 0
    header_delay_ms: float = 0.0
    thinking_ms: float | None = None
    """Fixed thinking time of a request that asks for thinking; None means thinking tokens at ``tokens_per_s``."""
    thinking_tokens: int | None = None
    """Reasoning tokens of a request that asks for thinking; None means drawn (and capped by its budget)."""
    redacted_thinking: int = 0
    """Redacted thinking blocks to put after the thinking block (1 or more: the safety system flagged it)."""
    prefill_ms_per_1k: float = 0.0
    """The model's prefill rate: the drawn ``ttft_ms`` grows with the prompt's uncached tokens at it."""
    ttft_exact: bool = False
    """True when a header set ``ttft_ms``: it is then the whole first-token time, whatever the prompt."""

    def with_prompt(self, uncached_tokens: int, read_tokens: int, read_share: float) -> Timing:
        """The timing once the prompt's size is known: the drawn first-token time plus reading the prompt
        (uncached tokens at the prefill rate, cache reads at ``read_share`` of it), unless a header fixed it."""
        if self.ttft_exact or not self.prefill_ms_per_1k:
            return self
        prefill = self.prefill_ms_per_1k * (uncached_tokens + read_share * read_tokens) / 1000
        return replace(self, ttft_ms=self.ttft_ms + prefill)

    def generation_seconds(self, tokens: int) -> float:
        if self.generation_ms is not None:
            return self.generation_ms / 1000
        return tokens / self.tokens_per_s if self.tokens_per_s > 0 else 0.0

    def thinking_seconds(self, tokens: int) -> float:
        if self.thinking_ms is not None:
            return self.thinking_ms / 1000
        return tokens / self.tokens_per_s if self.tokens_per_s > 0 else 0.0


@dataclass
class SimProfile:
    """The simulator's configuration: per-family latency, per-model overrides, faults and a seed."""

    seed: int = 0
    families: Mapping[str, ModelProfile] = field(default_factory=lambda: dict(DEFAULT_FAMILIES))
    models: Mapping[str, ModelProfile] = field(default_factory=dict)
    faults: FaultProfile = field(default_factory=FaultProfile)
    zero_latency: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _counts: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def serves(self, model: str) -> bool:
        """Whether a request for ``model`` is answered (else 404, as the API answers an unknown model): a model
        the profile names, or one whose id holds a family's word (the catalogue's lines and the profile's)."""
        lowered = model.lower()
        return model in self.models or any(family in lowered for family in self.families)

    def model_profile(self, model: str) -> ModelProfile:
        if self.zero_latency:
            return ZERO_LATENCY
        if model in self.models:
            return self.models[model]
        lowered = model.lower()
        for family, profile in self.families.items():
            if family in lowered:
                return profile
        return self.families.get("sonnet", DEFAULT_FAMILIES["sonnet"])

    def draw(self, model: str) -> Timing:
        """The timing of the next request to ``model``; the n-th request to a model always draws the same."""
        with self._lock:
            count = self._counts.get(model, 0)
            self._counts[model] = count + 1
        rng = seeded_rng(self.seed, model, count)
        profile = self.model_profile(model)
        ttft = rng.uniform(*profile.ttft_ms)
        if profile.tail_probability and rng.random() < profile.tail_probability:
            ttft *= profile.tail_multiplier
        timing = Timing(
            ttft_ms=ttft,
            generation_ms=None,
            tokens_per_s=rng.uniform(*profile.tokens_per_s),
            output_tokens=rng.randint(*profile.output_tokens),
            prefill_ms_per_1k=profile.prefill_ms_per_1k,
        )
        return self._draw_faults(rng, timing)

    def _draw_faults(self, rng: random.Random, timing: Timing) -> Timing:
        faults = self.faults
        roll = rng.random()
        for status, rate in sorted(faults.error_rates.items()):
            if roll < rate:
                return replace(timing, status=status)
            roll -= rate
        if faults.cut_stream_rate and rng.random() < faults.cut_stream_rate:
            timing = replace(timing, cut_after_events=rng.randint(3, 10))
        if faults.stall_rate and rng.random() < faults.stall_rate:
            timing = replace(timing, stall_ms=faults.stall_ms, stall_after_events=rng.randint(3, 10))
        return timing

    def with_zero_latency(self) -> SimProfile:
        return replace(self, zero_latency=True, _lock=threading.Lock(), _counts={})


def _range(value: Any, name: str, source: str) -> tuple[float, float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (float(value), float(value))
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return (float(value[0]), float(value[1]))
    raise ConfigurationError(
        f"{source}: {name}={value!r} must be a number or a [low, high] pair", setting=name, value=value
    )


def _model_profile(raw: Any, name: str, source: str, base: ModelProfile) -> ModelProfile:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: [{name}] must be a table of settings", setting=name, value=raw)
    known = {"ttft_ms", "tokens_per_s", "output_tokens", "tail_probability", "tail_multiplier", "prefill_ms_per_1k"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigurationError(
            f"{source}: [{name}] has unknown settings {sorted(unknown)}; known: {sorted(known)}",
            setting=name,
            value=sorted(unknown),
        )
    changes: dict[str, Any] = {}
    for key in ("ttft_ms", "tokens_per_s"):
        if key in raw:
            changes[key] = _range(raw[key], key, source)
    if "output_tokens" in raw:
        low, high = _range(raw["output_tokens"], "output_tokens", source)
        changes["output_tokens"] = (int(low), int(high))
    for key in ("tail_probability", "tail_multiplier", "prefill_ms_per_1k"):
        if key in raw:
            changes[key] = float(raw[key])
    return replace(base, **changes)


def profile_from_mapping(data: Mapping[str, Any], source: str = "profile") -> SimProfile:
    """A SimProfile from parsed TOML/YAML/JSON: ``seed``, ``[families.X]``, ``[models."name"]``, ``[faults]``."""
    known = {"seed", "families", "models", "faults", "zero_latency"}
    unknown = set(data) - known
    if unknown:
        raise ConfigurationError(
            f"{source}: unknown top-level settings {sorted(unknown)}; known: {sorted(known)}",
            setting="profile",
            value=sorted(unknown),
        )
    families = dict(DEFAULT_FAMILIES)
    for name, raw in (data.get("families") or {}).items():
        families[name] = _model_profile(raw, f"families.{name}", source, families.get(name, DEFAULT_FAMILIES["sonnet"]))
    models = {}
    for name, raw in (data.get("models") or {}).items():
        base = SimProfile(families=families).model_profile(name)
        models[name] = _model_profile(raw, f"models.{name}", source, base)
    raw_faults = data.get("faults") or {}
    try:
        faults = FaultProfile(
            error_rates={int(k): float(v) for k, v in (raw_faults.get("error_rates") or {}).items()},
            cut_stream_rate=float(raw_faults.get("cut_stream_rate", 0.0)),
            stall_rate=float(raw_faults.get("stall_rate", 0.0)),
            stall_ms=float(raw_faults.get("stall_ms", 0.0)),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigurationError(
            f"{source}: [faults] is malformed ({exc})", setting="faults", value=raw_faults
        ) from exc
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigurationError(f"{source}: seed={seed!r} must be an integer", setting="seed", value=seed)
    return SimProfile(
        seed=seed, families=families, models=models, faults=faults, zero_latency=bool(data.get("zero_latency"))
    )


def _parse(path: Path, text: str) -> Any:
    if path.suffix == ".toml":
        return tomllib.loads(text)
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise MissingDependencyError("a YAML profile", extra="sim", module="yaml") from exc
        return yaml.safe_load(text) or {}
    if path.suffix == ".json":
        return json.loads(text)
    raise ConfigurationError(
        f"profile {path}: unknown format {path.suffix!r}; use .toml, .yaml, .yml or .json",
        setting="profile",
        value=str(path),
    )


def load_profile(path: str | Path) -> SimProfile:
    """Read a profile from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read profile {path}: {exc.strerror}", setting="profile", value=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"profile {path} is not a text file (byte {exc.start} is not UTF-8): expected .toml, .yaml or .json",
            setting="profile",
            value=str(path),
        ) from exc
    try:
        data = _parse(path, text)
    except (ConfigurationError, MissingDependencyError):
        raise
    except Exception as exc:  # each format's own parse error
        raise ConfigurationError(f"profile {path} is not valid: {exc}", setting="profile", value=str(path)) from exc
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"profile {path} must hold a table of settings", setting="profile", value=str(path))
    return profile_from_mapping(data, str(path))
