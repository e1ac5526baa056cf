"""agent-anatomy: OpenTelemetry tracing for AI agents, the levers that cut their latency, and a report
of where the time went."""

from . import semconv
from ._version import __version__
from .errors import (
    AgentAnatomyError,
    ConfigurationError,
    MissingDependencyError,
    SimulatorError,
    SourceError,
    TraceNotFoundError,
)
from .telemetry import JsonlSpanExporter, SpanRecorder, Telemetry, configure, last_trace, trace_spans
from .tracing import (
    ContextThreadPoolExecutor,
    ToolInfo,
    agent,
    bind_context,
    span,
    step,
    tool,
    tool_info,
    workflow,
)

__all__ = [
    "AgentAnatomyError",
    "ConfigurationError",
    "ContextThreadPoolExecutor",
    "JsonlSpanExporter",
    "MissingDependencyError",
    "SimulatorError",
    "SourceError",
    "SpanRecorder",
    "Telemetry",
    "ToolInfo",
    "TraceNotFoundError",
    "__version__",
    "agent",
    "bind_context",
    "configure",
    "last_trace",
    "semconv",
    "span",
    "step",
    "tool",
    "tool_info",
    "trace_spans",
    "workflow",
]
