"""Levers layer: the parallel tool executor, the model router, the result cache, prompt caching, fast mode, and
the traced agent loop."""

from ._tools import ToolSpec
from .agent import (
    PREAMBLE_INSTRUCTION,
    STEP_FINAL_SYNTHESIS,
    STEP_TOOL_DECISION,
    AgentResult,
    run_agent,
    run_agent_sync,
)
from .cache import ResultCache, cached, default_cache
from .cache_backends import CacheBackend, CacheBackendError, CacheEntry, MemoryBackend, RedisBackend
from .executor import ParallelExecutor, ToolBatch, ToolResult
from .fast_mode import fast_mode_available, with_fast_mode
from .prompt_cache import with_cache_breakpoints
from .router import ModelRouter, RouteDecision

__all__ = [
    "PREAMBLE_INSTRUCTION",
    "STEP_FINAL_SYNTHESIS",
    "STEP_TOOL_DECISION",
    "AgentResult",
    "CacheBackend",
    "CacheBackendError",
    "CacheEntry",
    "MemoryBackend",
    "ModelRouter",
    "ParallelExecutor",
    "RedisBackend",
    "ResultCache",
    "RouteDecision",
    "ToolBatch",
    "ToolResult",
    "ToolSpec",
    "cached",
    "default_cache",
    "fast_mode_available",
    "run_agent",
    "run_agent_sync",
    "with_cache_breakpoints",
    "with_fast_mode",
]
