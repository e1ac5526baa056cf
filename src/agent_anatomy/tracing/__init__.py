"""Tracing layer: decorators, ``span()``, context propagation, and the anthropic SDK instrumentation."""

from ._wrappers import TracedSpec
from .anthropic import AnthropicInstrumentor, instrument_anthropic, uninstrument_anthropic
from .decorators import SpanScope, ToolInfo, ToolSpanOptions, agent, span, step, tool, tool_info, tool_span, workflow
from .llm_scope import LLMScope, llm_scope
from .propagation import ContextThreadPoolExecutor, bind_context

__all__ = [
    "AnthropicInstrumentor",
    "ContextThreadPoolExecutor",
    "LLMScope",
    "SpanScope",
    "ToolInfo",
    "ToolSpanOptions",
    "TracedSpec",
    "agent",
    "bind_context",
    "instrument_anthropic",
    "llm_scope",
    "span",
    "step",
    "tool",
    "tool_info",
    "tool_span",
    "uninstrument_anthropic",
    "workflow",
]
