"""Tracing layer: decorators, ``span()``, and context propagation into threads."""

from .decorators import SpanScope, ToolInfo, agent, span, step, tool, tool_info, workflow
from .propagation import ContextThreadPoolExecutor, bind_context

__all__ = [
    "ContextThreadPoolExecutor",
    "SpanScope",
    "ToolInfo",
    "agent",
    "bind_context",
    "span",
    "step",
    "tool",
    "tool_info",
    "workflow",
]
