"""What every format's reader shares: the malformed-document signal, ids, times, status and kind names,
and the one boundary where a bad document or an unreachable server becomes a ``SourceError``."""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.error
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from ...errors import SourceError

__all__ = ["KINDS", "STATUS", "Malformed", "hex_id", "nanos", "reading"]

STATUS: Final = {
    0: "UNSET",
    1: "OK",
    2: "ERROR",
    "STATUS_CODE_UNSET": "UNSET",
    "STATUS_CODE_OK": "OK",
    "STATUS_CODE_ERROR": "ERROR",
}
KINDS: Final = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


class Malformed(Exception):
    """What was expected where; turned into a SourceError with the file and position."""


_HEX: Final = re.compile("[0-9a-f]*")


def hex_id(value: object, width: int, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise Malformed(f"{what} as a hex string")
    text = value.lower()
    if len(text) == width and _HEX.fullmatch(text):  # every span's ids: the one check, in C
        return text
    try:  # the protobuf JSON mapping writes bytes as base64
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed(f"{what} of {width} hex digits, got {value!r}") from None
    if len(raw) * 2 != width:
        raise Malformed(f"{what} of {width} hex digits, got {value!r}")
    return raw.hex()


def nanos(value: Any, what: str) -> int:
    if value is None:  # protobuf JSON leaves out zero-valued fields
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Malformed(f"{what} as nanoseconds, got {value!r}") from None


DOCUMENT_ERRORS: Final = (Malformed, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError)
"""What a document of the wrong shape raises while it is read."""
NETWORK_ERRORS: Final = (urllib.error.URLError, TimeoutError, OSError)


@contextmanager
def reading(source: str, what_went_wrong: Callable[[Exception], str]) -> Iterator[None]:
    """The one boundary: inside it, a document of the wrong shape (or a server that cannot be reached)
    becomes a ``SourceError`` naming ``source``, with ``what_went_wrong(exc)`` as its message."""
    try:
        yield
    except SourceError:
        raise
    except (*DOCUMENT_ERRORS, *NETWORK_ERRORS) as exc:
        raise SourceError(what_went_wrong(exc), source=source) from exc
