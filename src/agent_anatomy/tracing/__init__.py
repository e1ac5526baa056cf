"""Tracing layer: decorators, ``span()``, context propagation, and the anthropic SDK instrumentation."""

from ._wrappers import TracedSpec
from .ambient import conversation, current_conversation, with_agent
from .anthropic import AnthropicInstrumentor, client_provider, instrument_anthropic, uninstrument_anthropic
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
    "client_provider",
    "conversation",
    "current_conversation",
    "instrument_anthropic",
    "llm_scope",
    "span",
    "step",
    "tool",
    "tool_info",
    "tool_span",
    "uninstrument_anthropic",
    "with_agent",
    "workflow",
]
