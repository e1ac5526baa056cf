"""Levers layer: the parallel tool executor, the result cache, and the traced agent loop."""

from ._tools import ToolSpec
from .agent import AgentResult, run_agent, run_agent_sync
from .cache import ResultCache, cached, default_cache
from .cache_backends import CacheBackend, CacheBackendError, CacheEntry, MemoryBackend, RedisBackend
from .executor import ParallelExecutor, ToolResult

__all__ = [
    "AgentResult",
    "CacheBackend",
    "CacheBackendError",
    "CacheEntry",
    "MemoryBackend",
    "ParallelExecutor",
    "RedisBackend",
    "ResultCache",
    "ToolResult",
    "ToolSpec",
    "cached",
    "default_cache",
    "run_agent",
    "run_agent_sync",
]
