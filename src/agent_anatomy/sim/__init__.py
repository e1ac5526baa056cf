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
from .scenarios import DEFAULT_SCENARIO, Scenario, ScriptedCall, load_scenario
from .server import SimServer, make_app

__all__ = [
    "DEFAULT_FAMILIES",
    "DEFAULT_SCENARIO",
    "HEADER_CUT_AFTER",
    "HEADER_GENERATION_MS",
    "HEADER_HEADER_DELAY_MS",
    "HEADER_STALL_AFTER",
    "HEADER_STALL_MS",
    "HEADER_STATUS",
    "HEADER_TOKENS",
    "HEADER_TOKENS_PER_S",
    "HEADER_TTFT_MS",
    "FaultProfile",
    "ModelProfile",
    "Scenario",
    "ScriptedCall",
    "SimProfile",
    "SimServer",
    "load_profile",
    "load_scenario",
    "make_app",
]
