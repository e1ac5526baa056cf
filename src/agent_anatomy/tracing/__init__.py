"""Tracing layer: decorators, ``span()``, context propagation, and the anthropic SDK instrumentation."""

from .anthropic import AnthropicInstrumentor, instrument_anthropic, uninstrument_anthropic
from .decorators import SpanScope, ToolInfo, agent, span, step, tool, tool_info, workflow
from .llm_scope import LLMScope, llm_scope
from .propagation import ContextThreadPoolExecutor, bind_context

__all__ = [
    "AnthropicInstrumentor",
    "ContextThreadPoolExecutor",
    "LLMScope",
    "SpanScope",
    "ToolInfo",
    "agent",
    "bind_context",
    "instrument_anthropic",
    "llm_scope",
    "span",
    "step",
    "tool",
    "tool_info",
    "uninstrument_anthropic",
    "workflow",
]
