"""Attributes for the LLM spans started inside a block, and a handle on those spans.

``with llm_scope({"team": "billing"}):`` puts the attributes on every ``chat`` span the Anthropic
instrumentation starts in the block (in tasks and threads started from it too, as the context
travels), and collects those spans in ``scope.spans`` so that code which learns something later (a
router deciding which hedged attempt won) can still say so on them before they end.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from opentelemetry.context import attach, create_key, detach, get_value, set_value
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

__all__ = ["LLMScope", "current_llm_scope", "llm_scope"]

_SCOPE_KEY: Final = create_key("agent_anatomy.llm_scope")


@dataclass
class LLMScope:
    attributes: dict[str, AttributeValue]
    spans: list[Span] = field(default_factory=list)


@contextmanager
def llm_scope(attributes: Mapping[str, AttributeValue]) -> Iterator[LLMScope]:
    """Add ``attributes`` to the LLM spans started in the block; the scope lists those spans."""
    outer = current_llm_scope()
    scope = LLMScope({**(outer.attributes if outer else {}), **attributes})
    token = attach(set_value(_SCOPE_KEY, scope))
    try:
        yield scope
    finally:
        detach(token)


def current_llm_scope() -> LLMScope | None:
    scope = get_value(_SCOPE_KEY)
    return scope if isinstance(scope, LLMScope) else None
