"""Turning function arguments and results into span attribute text, for opt-in content capture.

Never raises: a value JSON cannot encode is written with ``repr``; text beyond ``MAX_CONTENT_CHARS``
is cut and marked, so one large tool result cannot bloat every exporter's batches.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MAX_CONTENT_CHARS", "arguments_json", "value_json"]

_logger = logging.getLogger(__name__)

MAX_CONTENT_CHARS: Final = 16_384
_TRUNCATED: Final = "…[truncated]"
_BOUND_SELF: Final = frozenset({"self", "cls"})


def _default(value: object) -> object:
    model_dump = getattr(value, "model_dump", None)  # pydantic models, such as the anthropic SDK's types
    if callable(model_dump):
        try:
            return model_dump(mode="json")
        except Exception:
            pass
    return repr(value)


def value_json(value: object) -> str:
    """JSON text for ``value`` (strings as they are), cut to ``MAX_CONTENT_CHARS``."""
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=_default, ensure_ascii=False)
    except Exception:  # a recursive structure, or a __repr__ that raises
        _logger.debug("agent-anatomy: value not serialisable for the span", exc_info=True)
        try:
            text = repr(value)
        except Exception:
            text = f"<unrepresentable {type(value).__name__}>"
    if len(text) > MAX_CONTENT_CHARS:
        return text[: MAX_CONTENT_CHARS - len(_TRUNCATED)] + _TRUNCATED
    return text


def arguments_json(signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """The call's arguments by parameter name, ``self``/``cls`` left out, as JSON text."""
    if signature is None:
        return value_json({"args": list(args), "kwargs": dict(kwargs)})
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return value_json({"args": list(args), "kwargs": dict(kwargs)})
    named = {name: value for name, value in bound.arguments.items() if name not in _BOUND_SELF}
    return value_json(named)
