"""A GET that expects JSON, for every live server the anatomy reads (Jaeger, Phoenix, Prometheus): what a
server may send back (a stream of JSON values; an error with its own message in its body), and closing
what urllib leaves open when a server refuses (the error's body is the connection)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["Refused", "get_json", "json_values"]

SAID_AT_MOST: Final = 200
"""Characters of a server's own error message kept for ours."""


class Refused(Exception):
    """The server answered ``url`` with HTTP ``code``; ``said`` is its own message, when its body had one."""

    def __init__(self, url: str, code: int, said: str | None) -> None:
        super().__init__(url, code, said)
        self.url, self.code, self.said = url, code, said

    def __str__(self) -> str:
        return f"HTTP {self.code}" + (f" ({self.said})" if self.said else "")


def get_json(url: str, timeout_s: float) -> Any:
    """The JSON ``url`` answers (see ``json_values``); an HTTP error becomes ``Refused``, network failures and
    bodies that are not JSON raise as urllib and json raise them."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        try:
            said = _message(exc.read())
        except OSError:
            said = None
        finally:
            exc.close()
        raise Refused(url, exc.code, said) from None
    return json_values(body)


def json_values(body: bytes) -> Any:
    """One JSON document, or the list of several written one after another: a grpc-gateway stream (Jaeger's
    API v3 streams its results as ``{"result": ...}`` objects) reads as the list of its chunks."""
    text = body.decode("utf-8-sig")
    decoder = json.JSONDecoder()
    values: list[Any] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            break
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    if not values:
        raise json.JSONDecodeError("an empty answer", text, 0)
    return values[0] if len(values) == 1 else values


def _message(body: bytes) -> str | None:
    """What the server said in an error's body: Jaeger v3's ``error.message``, v1's ``errors[].msg``,
    Prometheus's ``error``, Phoenix's ``detail``; None for anything else."""
    try:
        document = json_values(body)
    except ValueError:
        return None
    said: object = None
    if isinstance(document, Mapping):
        error, errors = document.get("error"), document.get("errors")
        if isinstance(error, Mapping):
            said = error.get("message")
        elif isinstance(error, str):
            said = error
        elif isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            said = errors[0].get("msg")
        elif isinstance(document.get("detail"), str):
            said = document["detail"]
    return said[:SAID_AT_MOST] if isinstance(said, str) and said else None
