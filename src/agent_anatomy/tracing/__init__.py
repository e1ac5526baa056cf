"""Tracing layer: the telemetry handler, decorators, ``span()``, context propagation, and the instrumentations
of the anthropic SDK, MCP and the Claude Agent SDK."""

from ._content import value_json
from ._invocation import FunctionCall, Invocation, fq_exception_type
from ._llm_call import LLMInvocation
from .ambient import conversation, current_conversation, with_agent
from .anthropic import AnthropicInstrumentor, client_provider, instrument_anthropic, uninstrument_anthropic
from .claude_agent import ClaudeAgentInstrumentor, instrument_claude_agent, uninstrument_claude_agent
from .decorators import SpanScope, ToolInfo, agent, span, step, tool, tool_info, workflow
from .handler import TelemetryHandler, default_handler
from .llm_scope import LLMScope, llm_scope
from .mcp import McpInstrumentor, continue_trace, instrument_mcp, uninstrument_mcp
from .propagation import ContextThreadPoolExecutor, bind_context
from .specs import (
    NO_INPUT,
    SpanSpec,
    ToolSpanOptions,
    agent_spec,
    cache_lookup_spec,
    step_spec,
    tool_spec,
    workflow_spec,
)
from .usage import USAGE_FIELDS, Usage, input_total

__all__ = [
    "NO_INPUT",
    "USAGE_FIELDS",
    "AnthropicInstrumentor",
    "ClaudeAgentInstrumentor",
    "ContextThreadPoolExecutor",
    "FunctionCall",
    "Invocation",
    "LLMInvocation",
    "LLMScope",
    "McpInstrumentor",
    "SpanScope",
    "SpanSpec",
    "TelemetryHandler",
    "ToolInfo",
    "ToolSpanOptions",
    "Usage",
    "agent",
    "agent_spec",
    "bind_context",
    "cache_lookup_spec",
    "client_provider",
    "continue_trace",
    "conversation",
    "current_conversation",
    "default_handler",
    "fq_exception_type",
    "input_total",
    "instrument_anthropic",
    "instrument_claude_agent",
    "instrument_mcp",
    "llm_scope",
    "span",
    "step",
    "step_spec",
    "tool",
    "tool_info",
    "tool_spec",
    "uninstrument_anthropic",
    "uninstrument_claude_agent",
    "uninstrument_mcp",
    "value_json",
    "with_agent",
    "workflow",
    "workflow_spec",
]
