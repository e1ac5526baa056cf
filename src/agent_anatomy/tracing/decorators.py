"""``@tool``, ``@agent``, ``@step``, ``@workflow`` and ``span()``: user code as GenAI spans.

Each decorator works bare or with arguments, on functions, methods, coroutines, generators and
async generators, and keeps the function's name, docstring, signature and kind (a decorated
coroutine function is still one for ``inspect``). Exceptions are recorded and re-raised unchanged;
arguments and results reach the span only when content capture is on (or ``record_args=True``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Protocol, TypeVar, overload

from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ._invocation import Invocation
from ._wrappers import traced
from .handler import TelemetryHandler, default_handler
from .specs import DEFAULT_TOOL_OPTIONS, SpanSpec, ToolSpanOptions, agent_spec, step_spec, tool_spec, workflow_spec

__all__ = [
    "SpanDecorator",
    "SpanScope",
    "ToolInfo",
    "agent",
    "span",
    "step",
    "tool",
    "tool_info",
    "workflow",
]

F = TypeVar("F", bound=Callable[..., Any])

TOOL_INFO_ATTRIBUTE: Final = "__agent_anatomy_tool__"


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """What ``@tool`` knows of a tool, for executors that run it (see ``tool_info``)."""

    name: str
    description: str | None
    side_effects: bool
    function: Callable[..., Any] = field(repr=False)
    """The decorated function (each call is an ``execute_tool`` span)."""
    original: Callable[..., Any] = field(repr=False)
    """The function ``@tool`` was applied to: executors call it inside a span of their own, which
    carries the tool call's id."""
    input_schema: Mapping[str, Any] | None = None
    """The JSON schema of the tool's input when given to ``@tool``; executors derive one otherwise."""
    options: ToolSpanOptions = DEFAULT_TOOL_OPTIONS
    """How its span looks (``tool_spec``): executors build the tool's span with the same options."""


def tool_info(function: Callable[..., Any]) -> ToolInfo | None:
    """The ``ToolInfo`` of a function decorated with ``@tool`` (or of a method of one), else None.

    A wrapper made with ``functools.wraps`` around a tool copies its attributes; it is not the tool
    itself, so it has no ToolInfo.
    """
    info = getattr(function, TOOL_INFO_ATTRIBUTE, None)
    if not isinstance(info, ToolInfo) or getattr(function, "__func__", function) is not info.function:
        return None
    return info


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    target = fn.__func__ if isinstance(fn, staticmethod | classmethod) else fn
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def _default_name(fn: Callable[..., Any]) -> str:
    target = fn.__func__ if isinstance(fn, staticmethod | classmethod) else fn
    return str(getattr(target, "__name__", None) or type(target).__name__)


def _first_doc_line(fn: Callable[..., Any]) -> str | None:
    doc = inspect.getdoc(fn.__func__ if isinstance(fn, staticmethod | classmethod) else fn)
    return doc.strip().splitlines()[0] if doc and doc.strip() else None


def _decorate(
    fn: Callable[..., Any] | str | None,
    name: str | None,
    build: Callable[[Callable[..., Any], str], Callable[..., Any]],
) -> Any:
    """Bare (``@tool``), called (``@tool()``, ``@tool(name=...)``) and named (``@tool("lookup")``) use."""
    if isinstance(fn, str):
        if name is not None:
            raise TypeError(f"name given twice: positionally as {fn!r} and as name={name!r}")
        name, fn = fn, None
    if fn is None:
        return lambda f: build(f, name or _default_name(f))
    return build(fn, name or _default_name(fn))


# --- the public decorators ---------------------------------------------------------------------------


@overload
def tool(fn: F, /) -> F: ...
@overload
def tool(
    fn: str | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = False,
    tool_type: str = "function",
    input_schema: Mapping[str, Any] | None = None,
    record_args: bool | None = None,
    record_result: bool | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Callable[[F], F]: ...
def tool(
    fn: Callable[..., Any] | str | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = False,
    tool_type: str = "function",
    input_schema: Mapping[str, Any] | None = None,
    record_args: bool | None = None,
    record_result: bool | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Any:
    """Trace a tool: each call is an ``execute_tool {name}`` span (INTERNAL).

    ``description`` defaults to the docstring's first line. ``side_effects=True`` marks a tool that
    writes, so executors never run it concurrently with another tool. ``input_schema`` is the JSON
    schema sent to the model; without it, executors derive one from the signature.
    """

    options = ToolSpanOptions(tool_type, record_args, record_result, dict(attributes or {}))

    def build(f: Callable[..., Any], tool_name: str) -> Callable[..., Any]:
        desc = description if description is not None else _first_doc_line(f)
        spec = tool_spec(
            tool_name, description=desc, side_effects=side_effects, options=options, signature=_signature(f)
        )
        wrapper = traced(f, functools.partial(default_handler().start_tool, spec))
        info = ToolInfo(
            name=tool_name,
            description=desc,
            side_effects=side_effects,
            function=wrapper,
            original=f.__func__ if isinstance(f, staticmethod | classmethod) else f,
            input_schema=input_schema,
            options=options,
        )
        target = wrapper.__func__ if isinstance(wrapper, staticmethod | classmethod) else wrapper
        setattr(target, TOOL_INFO_ATTRIBUTE, info)
        return wrapper

    return _decorate(fn, name, build)


class SpanDecorator(Protocol):
    """The call shapes of ``@agent`` and ``@workflow``: bare, called, or named."""

    @overload
    def __call__(self, fn: F, /) -> F: ...
    @overload
    def __call__(
        self,
        fn: str | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        record_args: bool | None = None,
        record_result: bool | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> Callable[[F], F]: ...


def _named_decorator(
    public_name: str,
    make_spec: Callable[..., SpanSpec],
    start: Callable[[TelemetryHandler], Callable[..., Any]],
    doc: str,
    **spec_options: Any,
) -> SpanDecorator:
    """A decorator whose spans ``make_spec`` describes (with the decorated function's name, description and
    signature) and the handler's ``start`` method of that kind starts."""

    def decorator(
        fn: Callable[..., Any] | str | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        record_args: bool | None = None,
        record_result: bool | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> Any:
        def build(f: Callable[..., Any], target: str) -> Callable[..., Any]:
            spec = make_spec(
                target,
                description=description,
                attributes=attributes,
                signature=_signature(f),
                record_args=record_args,
                record_result=record_result,
                **spec_options,
            )
            return traced(f, functools.partial(start(default_handler()), spec))

        return _decorate(fn, name, build)

    decorator.__name__ = decorator.__qualname__ = public_name
    decorator.__doc__ = doc
    return decorator


agent: SpanDecorator = _named_decorator(
    "agent",
    agent_spec,
    lambda handler: handler.start_agent,
    "Trace an agent run: each call is an ``invoke_agent {name}`` span (INTERNAL, in-process).",
    # the conventions want a provider on invoke_agent; an @agent's calls go to Anthropic
    provider=semconv.PROVIDER_ANTHROPIC,
)
"""``@agent`` or ``@agent("name")``: trace an agent run, each call an ``invoke_agent {name}`` span (INTERNAL)."""

workflow: SpanDecorator = _named_decorator(
    "workflow",
    workflow_spec,
    lambda handler: handler.start_workflow,
    "Trace a workflow: each call is an ``invoke_workflow {name}`` span (INTERNAL).",
)
"""``@workflow`` or ``@workflow("name")``: trace a workflow, each call an ``invoke_workflow {name}`` span (INTERNAL)."""


@overload
def step(fn: F, /) -> F: ...
@overload
def step(
    fn: str | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    step_type: str | None = None,
    record_args: bool | None = None,
    record_result: bool | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Callable[[F], F]: ...
def step(
    fn: Callable[..., Any] | str | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    step_type: str | None = None,
    record_args: bool | None = None,
    record_result: bool | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Any:
    """Trace one step of an agent: each call is a ``step {name}`` span (INTERNAL).

    ``step_type`` says what kind of work it is (``routing``, ``extraction``, ``summarisation``...);
    the model router and the anatomy report use it. Steps are not a GenAI operation, so their spans
    carry no ``gen_ai.operation.name``.
    """

    def build(f: Callable[..., Any], step_name: str) -> Callable[..., Any]:
        spec = step_spec(
            step_name,
            step_type=step_type,
            description=description,
            attributes=attributes,
            signature=_signature(f),
            record_args=record_args,
            record_result=record_result,
        )
        return traced(f, functools.partial(default_handler().start_step, spec))

    return _decorate(fn, name, build)


# --- span() --------------------------------------------------------------------------------------------


class SpanScope:
    """A span for a block: ``with span("name") as s:`` or ``async with span("name") as s:``.

    The span is current inside the block and ends when the block is left; an exception leaving the
    block is recorded on it and propagates unchanged.
    """

    __slots__ = ("_attributes", "_call", "_handler", "_kind", "_name")

    def __init__(
        self, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue] | None, handler: TelemetryHandler
    ) -> None:
        self._name, self._kind, self._attributes, self._handler = name, kind, attributes, handler
        self._call: Invocation | None = None

    def __enter__(self) -> Span:
        if self._call is not None:
            raise RuntimeError(f"span({self._name!r}) was entered twice; create a new span() for each block")
        self._call = self._handler.start(self._name, kind=self._kind, attributes=self._attributes)
        return self._call.span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        call = self._call
        if call is None:
            return
        if exc is not None:
            call.fail(exc)
        else:
            call.stop()

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> SpanScope:
    """A span around a block of code, current inside it; works with ``with`` and ``async with``."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"span() needs a non-empty name, got {name!r}")
    return SpanScope(name, kind, attributes, default_handler())
