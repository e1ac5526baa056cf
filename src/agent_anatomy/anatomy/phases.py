"""The phases of a trace's time, by name: what every instant is charged to, and how the reports label them.

Names only, no computation (``timeline`` computes them): the analysis, the reports and the renderers share
these, so a phase is spelt in one place.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "PHASES",
    "PHASE_AGENT",
    "PHASE_CACHE",
    "PHASE_GAP",
    "PHASE_GENERATION",
    "PHASE_LABELS",
    "PHASE_LLM_UNSPLIT",
    "PHASE_OUTSIDE",
    "PHASE_PERMISSION",
    "PHASE_RETRIEVAL",
    "PHASE_ROUTING",
    "PHASE_THINKING",
    "PHASE_TOOL",
    "PHASE_TTFT",
    "SHOWN_WHEN_ZERO",
]

PHASE_TTFT: Final = "llm_time_to_first_token"


PHASE_GENERATION: Final = "llm_generation"


PHASE_THINKING: Final = "llm_thinking"
"""Reasoning streamed after the first chunk and before the first visible text (extended thinking)."""


PHASE_PERMISSION: Final = "permission"
"""A permission callback deciding whether a tool may run (the user's code the tool waits for, not the tool)."""


PHASE_TOOL: Final = "tool"


PHASE_CACHE: Final = "cache"


PHASE_RETRIEVAL: Final = "retrieval"
"""Retrieval, embedding and reranking calls."""


PHASE_ROUTING: Final = "routing"


PHASE_LLM_UNSPLIT: Final = "llm_first_token_unknown"
"""A streamed call whose trace did not record its time to first token: neither phase can be claimed."""


PHASE_AGENT: Final = "agent"


PHASE_OUTSIDE: Final = "outside_agent"
"""Time in the spans around the agent (an HTTP handler, a queue consumer) while no agent span runs."""


PHASE_GAP: Final = "gap"


PHASES: Final = (
    PHASE_TTFT,
    PHASE_THINKING,
    PHASE_GENERATION,
    PHASE_LLM_UNSPLIT,
    PHASE_PERMISSION,
    PHASE_TOOL,
    PHASE_RETRIEVAL,
    PHASE_CACHE,
    PHASE_ROUTING,
    PHASE_AGENT,
    PHASE_OUTSIDE,
    PHASE_GAP,
)
"""In priority order: at an instant where several run, the first listed wins."""


SHOWN_WHEN_ZERO: Final = frozenset(
    {PHASE_TTFT, PHASE_GENERATION, PHASE_TOOL, PHASE_CACHE, PHASE_ROUTING, PHASE_AGENT, PHASE_GAP}
)
"""The phases every text report lists; the others only when the trace has some."""
PHASE_LABELS: Final = {
    PHASE_TTFT: "LLM, waiting for the first token",
    PHASE_THINKING: "LLM, thinking",
    PHASE_GENERATION: "LLM, generating",
    PHASE_LLM_UNSPLIT: "LLM, first token not recorded",
    PHASE_PERMISSION: "permission checks",
    PHASE_TOOL: "tools",
    PHASE_RETRIEVAL: "retrieval and embeddings",
    PHASE_CACHE: "cache lookups",
    PHASE_ROUTING: "routing and hedging",
    PHASE_AGENT: "agent's own code",
    PHASE_OUTSIDE: "outside the agent",
    PHASE_GAP: "unaccounted gaps",
}
