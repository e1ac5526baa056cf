"""Tracing layer: decorators, ``span()``, context propagation, and the anthropic SDK instrumentation."""

from .anthropic import AnthropicInstrumentor, instrument_anthropic, uninstrument_anthropic
from .decorators import SpanScope, ToolInfo, agent, span, step, tool, tool_info, workflow
from .propagation import ContextThreadPoolExecutor, bind_context

__all__ = [
    "AnthropicInstrumentor",
    "ContextThreadPoolExecutor",
    "SpanScope",
    "ToolInfo",
    "agent",
    "bind_context",
    "instrument_anthropic",
    "span",
    "step",
    "tool",
    "tool_info",
    "uninstrument_anthropic",
    "workflow",
]
