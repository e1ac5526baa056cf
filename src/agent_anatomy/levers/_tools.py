"""Tools as an executor sees them: a name, a callable, a JSON schema, and the rules for calling it.

``ToolSpec`` is built from a plain callable or from a ``@tool`` function; it turns a model's tool-call
input into a call (with a clear message when the input does not fit), and a return value into the
text of a ``tool_result`` block.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from ..tracing import SpanSpec, ToolSpanOptions, tool_info, tool_spec
from ._canonical import json_encoder

__all__ = ["ToolInputError", "ToolSpec", "ToolUse", "parse_call", "resolve_tools", "result_text"]

_JSON_TYPES: Final[Mapping[type, str]] = {str: "string", int: "integer", float: "number", bool: "boolean"}


class ToolInputError(ValueError):
    """A tool call's input does not fit the tool; the message is what the model is told."""


class ToolUse(NamedTuple):
    """One tool call a model turn asked for (a ``tool_use`` block): its id, the tool's name, and its input (a
    tuple: made per call)."""

    id: str
    name: str
    input: Any


def parse_call(call: object, index: int) -> ToolUse:
    """A ToolUse from an anthropic ``ToolUseBlock`` or a ``{"id", "name", "input"}`` mapping."""
    if type(call) is dict or isinstance(call, Mapping):  # a plain dict skips the ABC check: per tool call
        call_id, name, tool_input = call.get("id"), call.get("name"), call.get("input", {})
    else:
        call_id, name, tool_input = (getattr(call, "id", None), getattr(call, "name", None), getattr(call, "input", {}))
    return ToolUse(str(call_id) if call_id else f"call_{index}", str(name or ""), tool_input)


def _schema_for(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set):
        args = typing.get_args(annotation)
        return {"type": "array", "items": _schema_for(args[0])} if args else {"type": "array"}
    if origin in (dict, Mapping) or annotation in (dict,):
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _schema_for(options[0]) if len(options) == 1 else {}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(annotation))}
    return {}


def input_schema_from_signature(function: Callable[..., Any]) -> dict[str, Any]:
    """A JSON schema for the function's parameters: required ones have no default, types from hints."""
    try:
        signature = inspect.signature(function)
        hints = typing.get_type_hints(function)
    except (TypeError, ValueError, NameError):
        return {"type": "object"}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, parameter in signature.parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or name in ("self", "cls"):
            continue
        properties[name] = _schema_for(hints.get(name, Any))
        if parameter.default is parameter.empty:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


@dataclass(frozen=True)
class ToolSpec:
    """One tool the executor can run."""

    name: str
    function: Callable[..., Any] = field(repr=False)
    """What the executor calls (for a ``@tool`` function, the function under the decorator)."""
    description: str | None = None
    input_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    side_effects: bool = False
    is_async: bool = False
    signature: inspect.Signature | None = field(default=None, repr=False)
    options: ToolSpanOptions = field(default_factory=ToolSpanOptions, repr=False)
    """``@tool``'s span options, which hold when an executor runs the tool (``record_args=False``...)."""
    span: SpanSpec = field(init=False, repr=False)
    """The tool's ``execute_tool`` span, built by the tracing layer's one builder."""
    _required: frozenset[str] = field(default=frozenset(), repr=False)
    _allowed: frozenset[str] | None = field(default=None, repr=False)
    """Parameter names a call may use; None when the function takes ``**kwargs`` or has none known."""
    _simple: bool = field(default=False, repr=False)
    """True when keyword arguments alone can fill the signature, so the name checks replace ``bind``."""

    def __post_init__(self) -> None:
        span = tool_spec(
            self.name,
            description=self.description,
            side_effects=self.side_effects,
            options=self.options,
            signature=self.signature,
        )
        object.__setattr__(self, "span", span)
        if self.signature is None:
            return
        parameters = self.signature.parameters.values()
        kinds = {parameter.kind for parameter in parameters}
        simple = inspect.Parameter.POSITIONAL_ONLY not in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds
        required = frozenset(
            p.name for p in parameters if p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )
        allowed = None if inspect.Parameter.VAR_KEYWORD in kinds else frozenset(p.name for p in parameters)
        object.__setattr__(self, "_required", required)
        object.__setattr__(self, "_allowed", allowed)
        object.__setattr__(self, "_simple", simple)

    @classmethod
    def from_callable(cls, function: Callable[..., Any], name: str | None = None) -> ToolSpec:
        info = tool_info(function)
        target = info.original if info is not None else function
        try:
            signature: inspect.Signature | None = inspect.signature(target)
        except (TypeError, ValueError):
            signature = None
        doc = inspect.getdoc(target)
        return cls(
            name=name or (info.name if info else str(getattr(target, "__name__", "tool"))),
            function=target,
            description=(info.description if info else None) or (doc.strip().splitlines()[0] if doc else None),
            input_schema=(info.input_schema if info and info.input_schema else input_schema_from_signature(target)),
            side_effects=info.side_effects if info else False,
            is_async=inspect.iscoroutinefunction(target),
            signature=signature,
            options=info.options if info else ToolSpanOptions(),
        )

    def definition(self) -> dict[str, Any]:
        """The entry for the Messages API's ``tools=`` parameter."""
        definition: dict[str, Any] = {"name": self.name, "input_schema": dict(self.input_schema)}
        if self.description:
            definition["description"] = self.description
        return definition

    def arguments(self, tool_input: Any) -> dict[str, Any]:
        """Keyword arguments for one call, to be spread into it (a dict input is returned as it is);
        ToolInputError naming what does not fit."""
        if isinstance(tool_input, str):
            try:
                tool_input = json.loads(tool_input) if tool_input.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolInputError(f"the input is not valid JSON ({exc.msg} at position {exc.pos})") from None
        if tool_input is None:
            tool_input = {}
        # a plain dict (what the model's input decodes to) skips the Mapping ABC check: this runs per tool call
        if type(tool_input) is not dict and not isinstance(tool_input, Mapping):
            raise ToolInputError(f"the input must be a JSON object, got {type(tool_input).__name__}")
        # the caller spreads them into the call (``**arguments``), which copies: a dict needs no copy of its own
        arguments = tool_input if type(tool_input) is dict else dict(tool_input)
        if self._simple:  # the same checks as Signature.bind, in a fraction of its time
            names = arguments.keys()
            if not names >= self._required:
                missing = next(name for name in sorted(self._required) if name not in names)
                raise ToolInputError(
                    f"the input does not fit the tool's parameters: missing a required argument: {missing!r}"
                )
            if self._allowed is not None and not names <= self._allowed:
                unexpected = next(name for name in names if name not in self._allowed)
                raise ToolInputError(
                    f"the input does not fit the tool's parameters: got an unexpected keyword argument {unexpected!r}"
                )
        elif self.signature is not None:
            try:
                self.signature.bind(**arguments)
            except TypeError as exc:
                raise ToolInputError(f"the input does not fit the tool's parameters: {exc}") from None
        return arguments


def resolve_tools(
    tools: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any] | ToolSpec],
) -> dict[str, ToolSpec]:
    """Tool specs by name from a name-to-callable mapping, or from ``@tool`` functions and specs."""
    specs: dict[str, ToolSpec] = {}
    if isinstance(tools, Mapping):
        items: Iterable[tuple[str | None, Any]] = tools.items()
    else:
        items = ((None, tool) for tool in tools)
    for name, tool in items:
        spec = tool if isinstance(tool, ToolSpec) else None
        if spec is None:
            if not callable(tool):
                raise TypeError(f"tool {name or tool!r} is not callable")
            spec = ToolSpec.from_callable(tool, name)
        if spec.name in specs:
            raise ValueError(f"two tools are named {spec.name!r}; tool names must be unique")
        specs[spec.name] = spec
    return specs


def _default(value: object) -> object:
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json")
    raise TypeError(f"{type(value).__qualname__} is not JSON serialisable")


_result_json: Final = json_encoder(default=_default, ensure_ascii=False, allow_nan=False)


def result_text(value: object) -> str:
    """A tool's return value as ``tool_result`` content: text as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return _result_json(value)
