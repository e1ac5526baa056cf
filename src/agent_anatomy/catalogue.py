"""The Claude models the package knows: their ids, their lines and each line's typical speed.

One table read twice: the anatomy's reference speeds are the middle of each line's ranges, and the simulator
serves exactly these models with these ranges as its latency profiles. A model belongs to the line whose word
its id holds (``claude-haiku-4-5@20251001`` → ``haiku``), so snapshots, aliases and cloud ids are known too; a
name with no line's word is a model neither of them knows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CACHE_READ_SHARE",
    "CATALOGUE_DATE",
    "CATALOGUE_SOURCE",
    "FAST_MODE",
    "FAST_MODE_BETA",
    "FAST_MODE_SPEEDUP",
    "LINES",
    "MODELS",
    "ModelLine",
    "PROMPT_CACHE_MINIMUM",
    "fast_mode_of",
    "line_of",
    "newest_of",
    "prompt_cache_minimum",
]

CATALOGUE_DATE: Final = "2026-12-02"
CATALOGUE_SOURCE: Final = (
    "agent-anatomy's model catalogue of 2026-12-02: first-token times are the middle of the ranges in the latency "
    "article the project started from (Haiku 200-400 ms, Sonnet 400-800 ms, Opus 1-2 s; Fable and Mythos, which "
    "it predates, put at 2-4 s), output speeds the middle of the simulator's default profiles; their order is "
    "that of Anthropic's models overview (comparative latency: Haiku fastest, Sonnet fast, Opus moderate, "
    "Fable slower). Prompt prefill rates are the simulator's assumption, set so that a 100,000-token prompt "
    'read from the prompt cache gets its first token about 80 % sooner, near Anthropic\'s "up to 85 %" for long '
    "prompts; fast mode's models and 2.5x output speed are those of Anthropic's fast mode page, the shortest "
    "cacheable prompts those of its prompt caching page. Real speeds vary by "
    "day, region and prompt: measure your own with --write-speeds"
)


@dataclass(frozen=True)
class ModelLine:
    """One line of models (``opus`` holds Claude Opus 4.5, 4.6, 5 ...): the ranges its calls fall in."""

    name: str
    display_name: str
    ttft_ms: tuple[float, float]
    """Time to first token, low and high, in milliseconds."""
    tokens_per_s: tuple[float, float]
    """Output speed once the answer flows, low and high."""
    prefill_ms_per_1k: float = 0.0
    """How much later the first token comes per 1,000 input tokens the model reads uncached."""

    @property
    def typical_ttft_ms(self) -> float:
        return sum(self.ttft_ms) / 2

    @property
    def typical_tokens_per_s(self) -> float:
        return sum(self.tokens_per_s) / 2


LINES: Final[Mapping[str, ModelLine]] = {
    "haiku": ModelLine("haiku", "Claude Haiku", (200, 400), (120, 180), 25.0),
    "sonnet": ModelLine("sonnet", "Claude Sonnet", (400, 800), (60, 90), 50.0),
    "opus": ModelLine("opus", "Claude Opus", (1000, 2000), (30, 50), 90.0),
    "fable": ModelLine("fable", "Claude Fable", (2000, 4000), (20, 40), 120.0),
    "mythos": ModelLine("mythos", "Claude Mythos", (2000, 4000), (20, 40), 120.0),
}
"""Keyed by the word a model's id holds; the lines the anthropic SDK's ``ModelLine`` names."""

MODELS: Final = (
    "claude-fable-5-2",
    "claude-mythos-5-2",
    "claude-haiku-5-5",
    "claude-sonnet-5-5",
    "claude-fable-5-1",
    "claude-opus-5-5",
    "claude-mythos-5-1",
    "claude-sonnet-5",
    "claude-fable-5",
    "claude-mythos-5",
    "claude-opus-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-5",
    "claude-opus-4-5-20251101",
)
"""The model ids the Models API lists today: those anthropic 2.16's ``Model`` type names, newest first, less
``claude-mythos-preview``, retired on 2026-06-30 (a request for it is still answered, as for any Mythos id)."""


CACHE_READ_SHARE: Final = 0.1
"""What an input token read from the prompt cache costs the first token, as a share of reading it uncached (a
cache read is billed at a tenth of an input token, too)."""

FAST_MODE_BETA: Final = "fast-mode-2026-02-01"
FAST_MODE_SPEEDUP: Final = 2.5
"""Fast mode's output tokens per second against standard speed ("up to 2.5x"); first-token time unchanged."""
FAST_MODE: Final[Mapping[str, bool]] = {
    "claude-fable-5-2": False,
    "claude-mythos-5-2": False,
    "claude-opus-5-5": False,
    "claude-opus-5": True,
}
"""The models that take ``speed="fast"``, each with whether it needs the ``FAST_MODE_BETA`` header (Opus 5's
fast mode is a research preview; Opus 4.8's was removed on 2026-11-30)."""


PROMPT_CACHE_MINIMUM: Final[Mapping[str, int]] = {
    "claude-opus-5": 512,
    "claude-fable-5": 512,
    "claude-mythos-5": 512,
    "claude-haiku-4-5": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-6": 4096,
    "claude-opus-4-7": 4096,
    "claude-sonnet-4-6": 2048,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
"""The fewest tokens a prompt prefix must hold to be cached, by the start of the model's id (``claude-opus-5``
holds Opus 5 and 5.5); a shorter prefix marked with ``cache_control`` is neither written nor read, and the API
says nothing of it. Other models: ``_PROMPT_CACHE_DEFAULT``."""
_PROMPT_CACHE_DEFAULT: Final = 1024


def prompt_cache_minimum(model: str | None) -> int:
    """The shortest prefix ``model`` (an id, a snapshot or a cloud id) caches, in tokens."""
    name = (model or "").lower()
    found = [known for known in PROMPT_CACHE_MINIMUM if known in name]
    return PROMPT_CACHE_MINIMUM[max(found, key=len)] if found else _PROMPT_CACHE_DEFAULT


def fast_mode_of(model: str | None) -> bool | None:
    """Whether ``model`` (an id, a snapshot or a cloud id) needs the beta header for fast mode; None when it has
    no fast mode."""
    name = (model or "").lower()
    for known in FAST_MODE:
        at = name.find(known)
        # ``claude-opus-5-1`` is another model than ``claude-opus-5``; ``claude-opus-5-20260101`` is a snapshot of it
        if at >= 0 and not _MINOR_VERSION.match(name, at + len(known)):
            return FAST_MODE[known]
    return None


_MINOR_VERSION: Final = re.compile(r"-\d{1,2}(?!\d)")


def line_of(model: str | None) -> str | None:
    """The line a model id belongs to (``anthropic.claude-sonnet-5-5-v1:0`` → ``sonnet``); None for none."""
    name = (model or "").lower()
    return next((line for line in LINES if line in name), None)


def newest_of(line: str) -> str | None:
    """The newest model id of a line (``haiku`` → ``claude-haiku-5-5``), as ``MODELS`` lists them; None for none."""
    return next((model for model in MODELS if line_of(model) == line), None)
