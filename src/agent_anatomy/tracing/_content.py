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
    """JSON text for ``value`` (strings as they are), within ``MAX_CONTENT_CHARS``.

    A structure too long is cut inside its strings (each capped and marked), so the text stays valid JSON
    with every key and part in place; plain text is cut at the end and marked.
    """
    if isinstance(value, str):
        return _cut(value, MAX_CONTENT_CHARS)
    try:
        plain = json.loads(json.dumps(value, default=_default, ensure_ascii=False))
        text = json.dumps(plain, ensure_ascii=False)
    except Exception:  # a recursive structure, or a __repr__ that raises
        _logger.debug("agent-anatomy: value not serialisable for the span", exc_info=True)
        try:
            return _cut(repr(value), MAX_CONTENT_CHARS)
        except Exception:
            return f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= MAX_CONTENT_CHARS else _fit(plain)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - len(_TRUNCATED), 0)] + _TRUNCATED


def _capped(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return _cut(value, limit + len(_TRUNCATED))
    if isinstance(value, list):
        return [_capped(item, limit) for item in value]
    if isinstance(value, dict):
        return {key: _capped(item, limit) for key, item in value.items()}
    return value


def _fit(plain: Any) -> str:
    """The longest per-string cap (found by bisection) under which the JSON text fits."""
    low, high = 0, MAX_CONTENT_CHARS
    best: str | None = None
    while low <= high:
        middle = (low + high) // 2
        text = json.dumps(_capped(plain, middle), ensure_ascii=False)
        if len(text) <= MAX_CONTENT_CHARS:
            best, low = text, middle + 1
        else:
            high = middle - 1
    # Too many parts to fit even with every string emptied: say so, in JSON.
    return best if best is not None else json.dumps({"truncated": True, "type": type(plain).__name__})


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
