"""Canonical, process-stable serialisation of arguments: for cache keys and tool-input hashes.

Equal arguments give equal text in every process: mapping keys sorted, sets sorted, tuples as lists,
no ``hash()`` (randomised per process) and no ``repr`` of objects (which may hold addresses). Types
stay apart where Python's equality would merge them (``True``, ``1`` and ``1.0`` give three keys),
because a function may well treat them differently. A value with no canonical form is refused.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Set
from typing import Any

__all__ = ["NotCanonical", "canonical_json", "digest", "json_encoder"]


class NotCanonical(TypeError):
    """A value that has no canonical form; ``path`` says where in the argument it sits."""

    def __init__(self, value: object, path: str) -> None:
        super().__init__(f"{type(value).__qualname__} at {path or 'the top level'} has no canonical form")
        self.value = value
        self.path = path


def _canon(value: Any, path: str) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return {"__bool__": value}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # repr keeps nan and inf apart and is exact; + 0.0 folds -0.0 into 0.0, which it equals
        return {"__float__": repr(value + 0.0)}
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise NotCanonical(key, f"{path}[{key!r}]")
            items.append((json.dumps(_canon(key, path), sort_keys=True), _canon(item, f"{path}[{key!r}]")))
        return {"__map__": sorted(items)}
    if isinstance(value, list | tuple):
        return [_canon(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Set):
        members = [_canon(item, f"{path}{{...}}") for item in value]
        return {"__set__": sorted(json.dumps(member, sort_keys=True) for member in members)}
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, enum.Enum):
        return {"__enum__": f"{type(value).__module__}.{type(value).__qualname__}.{value.name}"}
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return {"__time__": value.isoformat()}
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return {f"__{type(value).__name__.lower()}__": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"__dataclass__": f"{type(value).__module__}.{type(value).__qualname__}", "fields": _canon(fields, path)}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):  # pydantic models, such as the anthropic SDK's types
        try:
            dumped = model_dump(mode="json")
        except Exception as exc:
            raise NotCanonical(value, path) from exc
        return {"__model__": f"{type(value).__module__}.{type(value).__qualname__}", "fields": _canon(dumped, path)}
    raise NotCanonical(value, path)


def canonical_json(value: object, path: str = "") -> str:
    """The canonical text of ``value``; NotCanonical (a TypeError) when part of it has none."""
    return json.dumps(_canon(value, path), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(text: str, length: int = 32) -> str:
    """A hex digest of ``text``, ``length`` characters long (SHA-256)."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def json_encoder(**options: Any) -> Callable[[object], str]:
    """``json.JSONEncoder(**options).encode``, made once for a value encoded per tool call.

    Where the interpreter has the C encoder, it is built here once and called directly: ``encode`` builds it
    anew on every call, half the time of encoding a small value. It skips the circular-reference check, so
    the rare value that overflows it is encoded again by ``encode``, which says what is wrong.
    """
    encoder = json.JSONEncoder(**options)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None or encoder.indent is not None:
        return encoder.encode
    escape = json.encoder.encode_basestring_ascii if encoder.ensure_ascii else json.encoder.encode_basestring
    fast = make(
        None,
        encoder.default,
        escape,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )

    def encode(value: object) -> str:
        try:
            return "".join(fast(value, 0))
        except RecursionError:
            return encoder.encode(value)

    return encode
