"""The typed report as its JSON document and back: ``to_json``, ``from_json``, and the document's JSON Schema.

Generic over the data classes of ``report``: an object per class with its fields as keys in order (those
``ABSENT`` left out), an array per tuple; a step read back by its ``kind``. The schema is derived from the
same classes, so it cannot drift from them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, Union

from .report import (
    ABSENT,
    COMPARE_SCHEMA,
    SCHEMA,
    Absent,
    CacheStep,
    Comparison,
    LLMBatchStep,
    LLMStep,
    PlainStep,
    Report,
    SpanStep,
    ToolsStep,
)

__all__ = ["comparison_json", "from_json", "json_schema", "to_json"]


Convert = Callable[[Any], Any]
_CONVERTERS: dict[type[Any], Convert] = {}
"""Per data class, the function that writes one out: made once from its fields' types, so a field that holds
JSON already (text, numbers, flags) is copied as it is and only the others are walked."""
_PLAIN: Final = frozenset({str, int, float, bool, type(None), Absent})


def to_json(value: Any) -> Any:
    """The JSON value of a report (or any part of one): objects for data classes, their ``ABSENT`` fields
    left out; lists for tuples."""
    convert = _CONVERTERS.get(type(value))
    if convert is None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            convert = _converter(type(value))
        elif isinstance(value, tuple | list):
            return [to_json(item) for item in value]
        elif isinstance(value, Mapping):
            return {key: to_json(item) for key, item in value.items()}
        else:
            return value
    return convert(value)


def _converter(cls: type[Any]) -> Convert:
    """The class's writer, made as the source of one function: each field read by name, left out when it is
    ``ABSENT``, walked only where it is not JSON already (a loop over the fields, run for every object of
    every report, cost twice as much)."""
    hints = _hints(cls)
    lines = ["def convert(value):", "    document = {}"]
    scope: dict[str, Any] = {"ABSENT": ABSENT}
    for number, field in enumerate(dataclasses.fields(cls)):
        field_converter = _value_converter(hints[field.name])
        lines.append(f"    item = value.{field.name}")
        lines.append("    if item is not ABSENT:")
        if field_converter is None:
            lines.append(f"        document[{field.name!r}] = item")
        else:
            scope[f"convert_{number}"] = field_converter
            lines.append(f"        document[{field.name!r}] = item if item is None else convert_{number}(item)")
    lines.append("    return document")
    exec("\n".join(lines), scope)  # the source is made here, of the class's field names alone
    convert: Convert = scope["convert"]
    _CONVERTERS[cls] = convert
    return convert


def _value_converter(tp: Any) -> Convert | None:
    """How a value of type ``tp`` is written out; None when it is JSON as it is."""
    origin = typing.get_origin(tp)
    if tp in _PLAIN or origin is Literal:
        return None
    if origin in (Union, types.UnionType) and all(option in _PLAIN for option in typing.get_args(tp)):
        return None
    if origin is tuple and typing.get_args(tp)[0] in _PLAIN:
        return list
    if origin in (Mapping, dict) and typing.get_args(tp)[1] in _PLAIN:
        return dict
    return to_json  # nested data, sequences of it, mappings, Any: walked


_STEPS: Final = {"llm": LLMStep, "llms": LLMBatchStep, "tools": ToolsStep, "cache": CacheStep, "span": SpanStep}
"""The step class of each ``kind`` with fields of its own; ``agent``, ``gap`` and ``outside`` steps are
``PlainStep``."""


def from_json(cls: type[Any], value: Any) -> Any:
    """A report (or ``cls``, any part of one) from its JSON value; the inverse of ``to_json``."""
    return _decode(cls, value)


def _decode(tp: Any, value: Any) -> Any:
    if tp is Any or value is None:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [option for option in typing.get_args(tp) if option not in (type(None), Absent)]
        if len(options) == 1:
            return _decode(options[0], value)
        if isinstance(value, dict) and "kind" in value:  # a step, told apart by its kind
            return _decode(_step_class(value), value)
        return value
    if origin is tuple:
        (item_type, *_) = typing.get_args(tp)
        return tuple(_decode(item_type, item) for item in value)
    if origin in (Mapping, dict):
        _, item_type = typing.get_args(tp)
        return {key: _decode(item_type, item) for key, item in value.items()}
    if origin is Literal:
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(**{name: _decode(hints[name], item) for name, item in value.items()})
    return value


def _step_class(value: Mapping[str, Any]) -> type[Any]:
    return _STEPS.get(value["kind"], PlainStep)


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def json_schema() -> dict[str, Any]:
    """The document's JSON Schema (draft 2020-12), derived from these classes: every object closed to keys it
    does not name, each key required unless it may be left out (``ABSENT``)."""
    definitions: dict[str, Any] = {}
    root = _schema_of(Report, definitions)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"The latency anatomy of traces: {SCHEMA}",
        **root,
        "$defs": definitions,
    }


def _first_line(cls: type[Any]) -> str:
    doc = cls.__doc__ or ""
    return cls.__name__ if not doc.strip() or doc.startswith(cls.__name__ + "(") else doc.strip().splitlines()[0]


def _schema_of(tp: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    if tp is Any:
        return {}
    if tp is type(None):
        return {"type": "null"}
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [_schema_of(option, definitions) for option in typing.get_args(tp) if option is not Absent]
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin is tuple:
        return {"type": "array", "items": _schema_of(typing.get_args(tp)[0], definitions)}
    if origin in (Mapping, dict):
        return {"type": "object", "additionalProperties": _schema_of(typing.get_args(tp)[1], definitions)}
    if origin is Literal:
        return {"enum": list(typing.get_args(tp))}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in definitions:
            definitions[name] = {}  # a placeholder while its fields are read (none refers back to it)
            hints = _hints(tp)
            fields = dataclasses.fields(tp)
            definitions[name] = {
                "type": "object",
                "description": _first_line(tp),
                "properties": {f.name: _schema_of(hints[f.name], definitions) for f in fields},
                "required": [f.name for f in fields if f.default is not ABSENT],
                "additionalProperties": False,
            }
        return {"$ref": f"#/$defs/{name}"}
    return {"type": {bool: "boolean", int: "integer", float: "number", str: "string"}[tp]}


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """The JSON document ``agent-anatomy/compare@1`` of a comparison (its steps as the anatomy document has them)."""
    return {
        "schema": COMPARE_SCHEMA,
        "before": {
            "traces": comparison.before_traces,
            "trace_id": comparison.before_trace_id,
            "typical": comparison.before_typical,
        },
        "after": {
            "traces": comparison.after_traces,
            "trace_id": comparison.after_trace_id,
            "typical": comparison.after_typical,
        },
        "figures": [
            {
                "name": f.name,
                "before": {"p50_ms": f.before_p50, "p95_ms": f.before_p95},
                "after": {"p50_ms": f.after_p50, "p95_ms": f.after_p95},
                "change": {"p50_ms": f.change_p50, "p95_ms": f.change_p95},
            }
            for f in comparison.figures
        ],
        "steps": [
            {
                "change": s.change,
                "label": s.label,
                "before_ms": s.before_ms,
                "after_ms": s.after_ms,
                "notes": list(s.notes),
                "before": to_json(s.before),
                "after": to_json(s.after),
            }
            for s in comparison.steps
        ],
    }
