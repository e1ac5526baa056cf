"""Sim layer: a simulated Anthropic Messages API with realistic, seeded latency and fault injection."""

from .profiles import DEFAULT_FAMILIES, FaultProfile, ModelProfile, SimProfile, load_profile
from .protocol import (
    HEADER_CUT_AFTER,
    HEADER_GENERATION_MS,
    HEADER_HEADER_DELAY_MS,
    HEADER_STALL_AFTER,
    HEADER_STALL_MS,
    HEADER_STATUS,
    HEADER_TOKENS,
    HEADER_TOKENS_PER_S,
    HEADER_TTFT_MS,
)
from .scenarios import (
    AUTOMATIC,
    DEFAULT_SCENARIO,
    Scenario,
    ScriptedAnswer,
    ScriptedCall,
    load_scenario,
    load_scenarios,
)
from .server import HEADER_SCENARIO, SimServer, make_app

__all__ = [
    "AUTOMATIC",
    "DEFAULT_FAMILIES",
    "DEFAULT_SCENARIO",
    "HEADER_CUT_AFTER",
    "HEADER_GENERATION_MS",
    "HEADER_HEADER_DELAY_MS",
    "HEADER_SCENARIO",
    "HEADER_STALL_AFTER",
    "HEADER_STALL_MS",
    "HEADER_STATUS",
    "HEADER_TOKENS",
    "HEADER_TOKENS_PER_S",
    "HEADER_TTFT_MS",
    "FaultProfile",
    "ModelProfile",
    "Scenario",
    "ScriptedAnswer",
    "ScriptedCall",
    "SimProfile",
    "SimServer",
    "load_profile",
    "load_scenario",
    "load_scenarios",
    "make_app",
]
