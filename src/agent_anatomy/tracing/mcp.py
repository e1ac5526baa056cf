"""``McpInstrumentor``: an ``execute_tool {name}`` span for every tool an agent calls on an MCP server.

Wraps the ``mcp`` package's ``ClientSession.call_tool``. The span is the one every tool gets
(``tool_spec``), with ``gen_ai.tool.type = extension``, ``mcp.method.name = tools/call`` and the server's
own name; a result the server marks ``isError`` fails it with ``tool_error``. The request's ``_meta``
carries W3C trace context (``traceparent`` / ``tracestate``), so the server's spans join the agent's
trace: mcp 2 servers continue it by themselves, and ``continue_trace()`` does it inside any other.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, Final

import wrapt
from opentelemetry.context import attach, detach
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import get_current_span

from .. import semconv
from ._llm_call import warn_once
from ._package import _mcp_instruments
from .handler import TelemetryHandler
from .specs import ToolSpanOptions, tool_spec

__all__ = ["McpInstrumentor", "continue_trace", "instrument_mcp", "uninstrument_mcp"]

_SESSION_MODULE: Final = "mcp.client.session"
_SESSION_CLASS: Final = "ClientSession"


_NAMED: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
"""The server names ``initialize`` answered, by session, where the session does not keep them (mcp 1.x)."""


def _server_name(session: object) -> str | None:
    """The name the server gave itself at ``initialize`` (mcp 2: ``server_info``; mcp 1: what our wrapper of
    ``initialize`` kept)."""
    try:
        info = getattr(session, "server_info", None)
        name = getattr(info, "name", None) if info is not None else _NAMED.get(session)
        return name if isinstance(name, str) and name else None
    except Exception:
        return None


async def _initialize(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """mcp 1.x's ``initialize``, unchanged; the server's name in its answer kept for the session's tool spans."""
    result = await wrapped(*args, **kwargs)
    with suppress(Exception):
        name = getattr(getattr(result, "serverInfo", None), "name", None)
        if isinstance(name, str) and name:
            _NAMED[instance] = name
    return result


def _with_trace_context(kwargs: dict[str, Any], takes_meta: bool) -> dict[str, Any]:
    """The call's keyword arguments with the current trace context in ``meta``, unless it has one."""
    if not takes_meta:
        return kwargs
    meta = dict(kwargs.get("meta") or {})
    if semconv.MCP_META_TRACEPARENT not in meta:
        inject(meta)
    return {**kwargs, "meta": meta} if meta else kwargs


def _result_json(result: object) -> object:
    dump = getattr(result, "model_dump", None)
    return dump(mode="json", exclude_none=True) if callable(dump) else result


async def _call_tool(
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    takes_meta: bool,
    handler: TelemetryHandler,
) -> Any:
    if not is_instrumentation_enabled():
        return await wrapped(*args, **kwargs)
    try:
        name = args[0] if args else kwargs["name"]
        arguments = args[1] if len(args) > 1 else kwargs.get("arguments")
        attributes = {semconv.MCP_METHOD_NAME: semconv.MCP_METHOD_TOOLS_CALL}
        server = _server_name(instance)
        if server:
            attributes[semconv.ANATOMY_MCP_SERVER_NAME] = server
        options = ToolSpanOptions(tool_type=semconv.TOOL_TYPE_EXTENSION, attributes=attributes)
        call = handler.start_tool(tool_spec(str(name), options=options), raw_input=arguments)
    except Exception:
        warn_once("start the span of an MCP tool call")
        return await wrapped(*args, **kwargs)
    try:
        result = await wrapped(*args, **_with_trace_context(kwargs, takes_meta))
    except BaseException as exc:
        call.fail(exc)
        raise
    if getattr(result, "isError", None) is True or getattr(result, "is_error", None) is True:
        call.returned_error(semconv.TOOL_ERROR, _result_json(result))
    else:
        call.returned(_result_json(result))
    return result


@contextmanager
def continue_trace(request: Mapping[str, Any] | object | None) -> Iterator[None]:
    """Inside an MCP server, make the calling agent's span the parent of everything in the block.

    ``request`` is the request's ``_meta`` mapping, or an object holding it (a request context's ``meta``,
    or a tool context's ``request_context.meta``). Without trace context in it, the block runs as it
    would have, under whatever span is current.
    """
    meta = request
    for attribute in ("request_context", "meta"):
        if meta is not None and not isinstance(meta, Mapping):
            meta = getattr(meta, attribute, meta if attribute == "request_context" else None)
    if meta is not None and not isinstance(meta, Mapping):  # mcp 1.x: a model, its extra fields the _meta keys
        meta = getattr(meta, "__pydantic_extra__", None) or None
    context = extract(meta) if isinstance(meta, Mapping) and meta else None
    caller = get_current_span(context).get_span_context() if context is not None else None
    current = get_current_span().get_span_context()
    # Already in the caller's trace (an mcp 2 server continued it in its own tools/call span): keep that span.
    if (
        context is None
        or caller is None
        or not caller.is_valid
        or (current.is_valid and current.trace_id == caller.trace_id)
    ):
        yield
        return
    token = attach(context)
    try:
        yield
    finally:
        detach(token)


class McpInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the ``mcp`` package's client: ``ClientSession.call_tool`` (idempotent, reversible).

    ``instrument(tracer_provider=..., meter_provider=..., capture_content=...)`` as ``AnthropicInstrumentor``.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return _mcp_instruments

    def _instrument(self, **kwargs: Any) -> None:
        session = getattr(importlib.import_module(_SESSION_MODULE), _SESSION_CLASS)
        takes_meta = "meta" in inspect.signature(session.call_tool).parameters
        handler = TelemetryHandler.for_instrumentor(kwargs)
        wrapper = functools.partial(_call_tool, takes_meta=takes_meta, handler=handler)
        wrapt.wrap_function_wrapper(session, "call_tool", wrapper)
        self._methods = ["call_tool"]
        if not hasattr(session, "server_info"):  # mcp 1.x: the session forgets the server's name
            wrapt.wrap_function_wrapper(session, "initialize", _initialize)
            self._methods.append("initialize")
        self._session = session

    def _uninstrument(self, **kwargs: Any) -> None:
        session = getattr(self, "_session", None)
        if session is not None:
            for method in getattr(self, "_methods", ["call_tool"]):
                unwrap(session, method)
            self._session = None


def instrument_mcp(**kwargs: Any) -> McpInstrumentor:
    """Instrument the ``mcp`` client (idempotent); nothing happens when ``mcp`` is not installed. Keyword
    arguments go to ``McpInstrumentor.instrument``."""
    instrumentor = McpInstrumentor()
    if importlib.util.find_spec("mcp") is None:
        return instrumentor
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(**kwargs)
    return instrumentor


def uninstrument_mcp() -> None:
    instrumentor = McpInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
