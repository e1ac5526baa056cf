"""Arize Phoenix's span JSON: ``{"data": [...], "next_cursor": ...}`` from ``/v1/projects/{project}/spans``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Final

from ..model import EventRecord, SpanRecord
from ._common import STATUS, Malformed, hex_id

__all__ = ["is_phoenix", "phoenix_records"]

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _isonanos(value: Any, what: str) -> int:
    if not isinstance(value, str):
        raise Malformed(f"{what} as an ISO 8601 time")
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(microseconds=1) * 1000


def _flatten(attributes: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Phoenix may answer with nested attributes (``{"llm": {"model_name": ...}}``); spans have dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in attributes.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def phoenix_records(document: Mapping[str, Any]) -> Iterator[SpanRecord]:
    for span in document["data"]:
        context = span.get("context") or {}
        parent = span.get("parent_id")
        yield SpanRecord(
            trace_id=hex_id(context.get("trace_id"), 32, "context.trace_id"),
            span_id=hex_id(context.get("span_id"), 16, "context.span_id"),
            parent_id=hex_id(parent, 16, "parent_id") if parent else None,
            name=str(span.get("name", "")),
            start_ns=_isonanos(span.get("start_time"), "start_time"),
            end_ns=_isonanos(span.get("end_time"), "end_time"),
            attributes=_flatten(span.get("attributes") or {}),
            events=tuple(
                EventRecord(
                    str(event.get("name", "")),
                    _isonanos(event.get("timestamp"), "event timestamp"),
                    _flatten(event.get("attributes") or {}),
                )
                for event in span.get("events") or []
            ),
            status=STATUS.get(span.get("status_code"), str(span.get("status_code") or "UNSET")),
        )


def is_phoenix(document: Mapping[str, Any]) -> bool:
    data = document.get("data")
    return isinstance(data, list) and bool(data) and isinstance(data[0], Mapping) and "context" in data[0]
