"""Attributes that hold for everything inside a block: the conversation, the agent that is running.

``with conversation("c-42"):`` puts ``gen_ai.conversation.id`` on every span started inside it (LLM calls,
tools, agents, API requests), and an agent's span hands its ``gen_ai.agent.name`` to the ``execute_tool``
spans below it, as the GenAI conventions ask. The values travel in the OpenTelemetry context, so they
follow ``asyncio`` tasks and ``bind_context`` threads like the current span does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from opentelemetry.context import Context, attach, create_key, detach, get_value, set_value
from opentelemetry.util.types import AttributeValue

from .. import semconv

__all__ = ["conversation", "current_conversation", "with_agent", "with_ambient"]

_KEY: Final = create_key("agent_anatomy.ambient")
_TOOL_ONLY: Final = frozenset({semconv.GEN_AI_AGENT_NAME})
"""Ambient attributes that only ``execute_tool`` spans take (an LLM call or a nested agent has its own)."""


def _ambient(context: Context | None = None) -> Mapping[str, AttributeValue]:
    value = get_value(_KEY, context)
    return value if isinstance(value, Mapping) else {}


def _with(attributes: Mapping[str, AttributeValue], context: Context | None = None) -> Context:
    return set_value(_KEY, {**_ambient(context), **attributes}, context)


@contextmanager
def conversation(conversation_id: str) -> Iterator[None]:
    """Mark every span started inside the block with ``gen_ai.conversation.id``."""
    if not isinstance(conversation_id, str) or not conversation_id:
        raise TypeError(f"a conversation id is a non-empty string, not {conversation_id!r}")
    token = attach(_with({semconv.GEN_AI_CONVERSATION_ID: conversation_id}))
    try:
        yield
    finally:
        detach(token)


def current_conversation() -> str | None:
    """The conversation id of the enclosing ``conversation()`` block, if any."""
    value = _ambient().get(semconv.GEN_AI_CONVERSATION_ID)
    return value if isinstance(value, str) else None


def with_agent(name: str, context: Context | None = None) -> Context:
    """``context`` (or the current one) with ``name`` as the agent the tools below it run for."""
    return _with({semconv.GEN_AI_AGENT_NAME: name}, context)


def with_ambient(
    attributes: Mapping[str, AttributeValue], context: Context | None = None
) -> Mapping[str, AttributeValue]:
    """A span's start ``attributes`` with the ambient ones it takes added (its own win); ``attributes`` itself,
    not a copy, when nothing is ambient (every span starts here, and the tracer copies them anyway)."""
    ambient = _ambient(context)
    if not ambient:
        return attributes
    is_tool = attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_EXECUTE_TOOL
    inherited = {k: v for k, v in ambient.items() if is_tool or k not in _TOOL_ONLY}
    return {**inherited, **attributes}
