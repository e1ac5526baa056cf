"""agent-anatomy: OpenTelemetry tracing for AI agents, the levers that cut their latency, and a report
of where the time went."""

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
from .version import __version__

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
