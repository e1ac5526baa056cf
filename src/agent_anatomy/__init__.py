"""agent-anatomy: OpenTelemetry tracing for AI agents, the levers that cut their latency, and a report
of where the time went.

Each name is imported when first used (``lazy``): ``import agent_anatomy`` costs nothing until then, and a
part of the package imported alone (the anatomy, an instrumentor) does not import the rest.
"""

from typing import TYPE_CHECKING

from .lazy import attach
from .version import __version__

if TYPE_CHECKING:
    from . import anatomy, semconv
    from .anatomy import Anatomy, anatomy_for, last_anatomy
    from .configuration import configure
    from .errors import (
        AgentAnatomyError,
        ConfigurationError,
        MissingDependencyError,
        SimulatorError,
        SourceError,
        TraceNotFoundError,
    )
    from .levers import (
        AgentResult,
        MemoryBackend,
        ModelRouter,
        ParallelExecutor,
        RedisBackend,
        ResultCache,
        cached,
        run_agent,
        run_agent_sync,
    )
    from .telemetry import JsonlSpanExporter, SpanRecorder, Telemetry, last_trace, trace_spans
    from .tracing import (
        AnthropicInstrumentor,
        ContextThreadPoolExecutor,
        ToolInfo,
        agent,
        bind_context,
        conversation,
        instrument_anthropic,
        span,
        step,
        tool,
        tool_info,
        uninstrument_anthropic,
        workflow,
    )

__getattr__, __dir__ = attach(
    __name__,
    {
        ".": ["anatomy", "semconv"],
        ".anatomy": ["Anatomy", "anatomy_for", "last_anatomy"],
        ".configuration": ["configure"],
        ".errors": [
            "AgentAnatomyError",
            "ConfigurationError",
            "MissingDependencyError",
            "SimulatorError",
            "SourceError",
            "TraceNotFoundError",
        ],
        ".levers": [
            "AgentResult",
            "MemoryBackend",
            "ModelRouter",
            "ParallelExecutor",
            "RedisBackend",
            "ResultCache",
            "cached",
            "run_agent",
            "run_agent_sync",
        ],
        ".telemetry": ["JsonlSpanExporter", "SpanRecorder", "Telemetry", "last_trace", "trace_spans"],
        ".tracing": [
            "AnthropicInstrumentor",
            "ContextThreadPoolExecutor",
            "ToolInfo",
            "agent",
            "bind_context",
            "conversation",
            "instrument_anthropic",
            "span",
            "step",
            "tool",
            "tool_info",
            "uninstrument_anthropic",
            "workflow",
        ],
    },
)
__all__ = [
    "AgentAnatomyError",
    "AgentResult",
    "Anatomy",
    "AnthropicInstrumentor",
    "ConfigurationError",
    "ContextThreadPoolExecutor",
    "JsonlSpanExporter",
    "MemoryBackend",
    "MissingDependencyError",
    "ModelRouter",
    "ParallelExecutor",
    "RedisBackend",
    "ResultCache",
    "SimulatorError",
    "SourceError",
    "SpanRecorder",
    "Telemetry",
    "ToolInfo",
    "TraceNotFoundError",
    "__version__",
    "agent",
    "anatomy",
    "anatomy_for",
    "bind_context",
    "cached",
    "configure",
    "conversation",
    "instrument_anthropic",
    "last_anatomy",
    "last_trace",
    "run_agent",
    "run_agent_sync",
    "semconv",
    "span",
    "step",
    "tool",
    "tool_info",
    "trace_spans",
    "uninstrument_anthropic",
    "workflow",
]
