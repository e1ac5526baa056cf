"""Tracing layer: decorators, ``span()``, context propagation, and the anthropic SDK instrumentation."""

from ._content import value_json
from ._invocation import Invocation, fq_exception_type
from ._wrappers import TracedSpec
from .ambient import conversation, current_conversation, with_agent
from .anthropic import AnthropicInstrumentor, client_provider, instrument_anthropic, uninstrument_anthropic
from .claude_agent import ClaudeAgentInstrumentor, instrument_claude_agent, uninstrument_claude_agent
from .decorators import SpanScope, ToolInfo, ToolSpanOptions, agent, span, step, tool, tool_info, tool_span, workflow
from .handler import TelemetryHandler, get_handler
from .llm_scope import LLMScope, llm_scope
from .mcp import McpInstrumentor, continue_trace, instrument_mcp, uninstrument_mcp
from .propagation import ContextThreadPoolExecutor, bind_context

__all__ = [
    "AnthropicInstrumentor",
    "ClaudeAgentInstrumentor",
    "ContextThreadPoolExecutor",
    "Invocation",
    "LLMScope",
    "McpInstrumentor",
    "SpanScope",
    "TelemetryHandler",
    "ToolInfo",
    "ToolSpanOptions",
    "TracedSpec",
    "agent",
    "bind_context",
    "client_provider",
    "continue_trace",
    "conversation",
    "current_conversation",
    "fq_exception_type",
    "get_handler",
    "instrument_anthropic",
    "instrument_claude_agent",
    "instrument_mcp",
    "llm_scope",
    "span",
    "step",
    "tool",
    "tool_info",
    "tool_span",
    "uninstrument_anthropic",
    "uninstrument_claude_agent",
    "uninstrument_mcp",
    "value_json",
    "with_agent",
    "workflow",
]
