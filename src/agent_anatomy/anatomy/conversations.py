"""Traces that belong together although no agent span holds them: the turns of one conversation.

An application that calls the API turn by turn, with no ``@agent`` around the turns, writes each call as a trace
of its own; when its spans carry a conversation id (``gen_ai.conversation.id``, or a session id as OpenInference
and others write it), the traces of one conversation are read as one, their time between them shown as gaps.
Traces with an agent span are never joined: the agent is what holds its work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .. import semconv
from .model import TraceTree

__all__ = ["CONVERSATION_ATTRIBUTES", "conversation_of", "joined_conversations"]

CONVERSATION_ATTRIBUTES: Final = (semconv.GEN_AI_CONVERSATION_ID, semconv.SESSION_ID)


def conversation_of(tree: TraceTree) -> str | None:
    """The conversation a trace with no agent span belongs to, if its spans name one."""
    if any(s.operation == semconv.OPERATION_INVOKE_AGENT for s in tree.spans.values()):
        return None
    for span in tree.spans.values():
        for attribute in CONVERSATION_ATTRIBUTES:
            value = span.attributes.get(attribute)
            if isinstance(value, str) and value:
                return value
    return None


def joined_conversations(trees: Sequence[TraceTree]) -> list[TraceTree]:
    """The trees, those of one conversation joined into one (under the first one's trace id), in order."""
    by_conversation: dict[str, list[TraceTree]] = {}
    for tree in trees:
        conversation = conversation_of(tree)
        if conversation is not None:
            by_conversation.setdefault(conversation, []).append(tree)
    if not any(len(group) > 1 for group in by_conversation.values()):
        return list(trees)
    joined: dict[str, TraceTree] = {}
    for conversation, group in by_conversation.items():
        if len(group) > 1:
            group = sorted(group, key=lambda t: t.start_ns)
            tree = TraceTree(group[0].trace_id, [s for t in group for s in t.spans.values()])
            tree.joined = (conversation, tuple(t.trace_id for t in group))
            for member in group:
                joined[member.trace_id] = tree
    result: list[TraceTree] = []
    for tree in trees:
        replacement = joined.get(tree.trace_id, tree)
        if replacement not in result:
            result.append(replacement)
    return result
