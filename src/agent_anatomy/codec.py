"""JSON in and out for trace files and stored reports: orjson when it is installed, the standard library
otherwise, with the same results either way.

orjson (``pip install 'agent-anatomy[fast]'``) parses a trace file's lines about three times as fast as
``json``. Where it refuses what ``json`` reads (``NaN``, integers past 64 bits, a lone surrogate) the line is
read again by ``json``, so a file reads the same, and a bad one fails with the same message, with or without it.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["FAST", "dumps", "loads"]

try:
    import orjson as _orjson
except ImportError:  # the standard library's json, slower but the same
    _orjson = None  # type: ignore[assignment]

FAST: Final = _orjson is not None
"""Whether orjson does the work."""


def loads(text: str | bytes) -> Any:
    """One JSON document; ``json.JSONDecodeError`` (its position and message the standard library's) if bad."""
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass  # read again below: a value only json takes, or json's own message for a bad line
    return json.loads(text)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (no spaces, non-ASCII as it is), as the report's stored documents are written (a NaN,
    which no report should hold, is ``null`` with orjson)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(value)
        except TypeError:  # an integer past 64 bits: json writes it
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True).encode()
