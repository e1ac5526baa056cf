"""``ClaudeAgentInstrumentor``: a Claude Agent SDK session as spans: the agent, each API call, each tool use.

The Python SDK drives the Claude Code CLI over JSON on stdio; the CLI calls the Messages API and runs the
tools. What the SDK hands back is enough for the anatomy:

- each ``query()`` (all its turns: the CLI may add one to report a background task), and each
  ``ClaudeSDKClient.query()`` until its result, is an ``invoke_agent claude-code`` span. It is current
  while the SDK starts the CLI, so the CLI's own traces (``TRACEPARENT``) join it, and the results give
  the session id, the turns, the cost and the API time the CLI counted;
- each API call the CLI makes is a ``chat {model}`` span built from the raw stream events it forwards
  (partial messages are turned on for the CLI and held back from the user's code unless it asked for
  them). It starts when the CLI says it is requesting; its first token is the first content delta, its
  usage the final ``message_delta``'s;
- each tool use is an ``execute_tool {tool}`` span from the CLI's ``PreToolUse`` / ``PostToolUse`` /
  ``PostToolUseFailure`` hooks, added after the user's own, marked as scheduled by the CLI (no advice on how
  it runs them); a subagent is an ``invoke_agent {type}`` span (``SubagentStart`` / ``SubagentStop``) beside
  the tool use that started it, with its tools and calls below (the CLI forwards no stream events of a
  subagent: its calls are read from its messages, without a first token, and end with the usage its
  transcript gives when it stops);
- the user's permission callback (``can_use_tool``) runs as a ``check_permission {tool}`` span: a phase of
  its own, not the tool's time;
- an in-process SDK MCP server's messages carry the trace context of the tool use that called it (or of the
  agent), so the ``mcp`` package's own server spans join the session's trace below that tool use;
- a ``ClaudeSDKClient.connect()`` without a prompt is a ``step claude-code start-up`` span (the CLI starting);
  ``interrupt()`` ends the call and tool uses under way failed, ``interrupted``.

The user's options are copied, never changed, and the hooks added answer with no opinion (``{}``). Wrapped:
``InternalClient.process_query`` (what ``query()`` runs) and ``Query._handle_sdk_mcp_request`` (where an SDK
MCP server's messages go in): the two private names touched; and the public ``ClaudeSDKClient.connect`` /
``query`` / ``receive_messages`` / ``interrupt`` / ``disconnect``, from one table.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import weakref
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any, Final

import wrapt
from opentelemetry.context import Context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.propagate import inject

from .. import semconv
from ._claude_session import ClaudeSession
from ._llm_call import warn_once
from ._package import _claude_agent_instruments
from .handler import TelemetryHandler
from .specs import step_spec

__all__ = ["ClaudeAgentInstrumentor", "instrument_claude_agent", "uninstrument_claude_agent"]


# --- the wrappers ----------------------------------------------------------------------------------------------


class _Sessions:
    """Built once per ``instrument()``: the handler sessions start their spans with, and each client's session."""

    def __init__(self, sdk: Any, handler: TelemetryHandler) -> None:
        self.sdk = sdk
        self.handler = handler
        self._clients: weakref.WeakKeyDictionary[Any, ClaudeSession] = weakref.WeakKeyDictionary()
        self._live: weakref.WeakSet[ClaudeSession] = weakref.WeakSet()
        self._order = 0

    def new(self, *, whole: bool) -> ClaudeSession:
        session = ClaudeSession(self.handler, self.sdk, whole=whole)
        self._live.add(session)
        return session

    def context_for_mcp(self, server: str, message: dict[str, Any]) -> Context | None:
        """The trace context an SDK MCP server's message belongs in: the first session that claims it."""
        for session in list(self._live):
            context = session.context_for_mcp(server, message)
            if context is not None:
                return context
        return None

    def of_client(self, client: Any) -> ClaudeSession:
        session = self._clients.get(client)
        if session is None:
            session = self._clients[client] = self.new(whole=False)
        return session

    def client_session(self, client: Any) -> ClaudeSession | None:
        return self._clients.get(client)


async def _traced(messages: AsyncIterator[Any], session: ClaudeSession, *, owned: bool) -> AsyncIterator[Any]:
    """The SDK's messages as they were, less the partial ones the user did not ask for; each step of the SDK
    runs with the agent span current (so the tasks it starts, its hooks among them, and the CLI's
    ``TRACEPARENT`` carry it). ``owned``: the messages are the whole session's (``query()``), so their end,
    early or not, ends it; a client's stream may be left after a result while its session goes on."""
    try:
        while True:
            token = session.enter()
            try:
                message = await messages.__anext__()
            except StopAsyncIteration:
                break
            finally:
                session.leave(token)
            if session.on_message(message):
                yield message
    except GeneratorExit:
        if owned:
            session.end()
        raise
    except BaseException as exc:
        session.end(exc)
        raise
    else:
        if owned:
            session.end()
    finally:
        close = getattr(messages, "aclose", None)
        if close is not None:
            await close()


def _process_query(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, sessions: _Sessions
) -> Any:
    """``query()``: one session, its agent span from the first message to the result."""
    if not is_instrumentation_enabled():
        return wrapped(*args, **kwargs)
    try:
        session = sessions.new(whole=True)
        options = kwargs["options"] if "options" in kwargs else args[1]
        if "options" in kwargs:
            kwargs = {**kwargs, "options": session.cli_options(options)}
        else:
            args = (args[0], session.cli_options(options), *args[2:])
        session.begin()
    except Exception:
        warn_once("trace a Claude Agent SDK query")
        return wrapped(*args, **kwargs)
    return _traced(wrapped(*args, **kwargs), session, owned=True)


async def _connect(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, sessions: _Sessions
) -> Any:
    """``ClaudeSDKClient.connect``: the CLI starts with the session's options (the user's object is put back).
    With a prompt the query's agent span holds the start-up; without, it is a step span of its own (never
    current: the CLI's own traces go with the queries, as without it)."""
    if not is_instrumentation_enabled():
        return await wrapped(*args, **kwargs)
    options = instance.options
    start_up = None
    try:
        session = sessions.of_client(instance)
        instance.options = session.cli_options(options)
        prompt = kwargs.get("prompt", args[0] if args else None)
        if prompt is not None:
            session.begin()
        else:
            start_up = sessions.handler.start_step(step_spec(semconv.CLAUDE_CODE_START_UP), attach_now=False)
            session.start_up = start_up
    except Exception:
        warn_once("trace a Claude Agent SDK client")
        instance.options = options
        return await wrapped(*args, **kwargs)
    token = session.enter()
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        if start_up is not None:
            start_up.fail(exc)
        raise
    finally:
        session.leave(token)
        session.start_up = None
        instance.options = options
    if start_up is not None:
        start_up.stop()
    return result


async def _client_query(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, sessions: _Sessions
) -> Any:
    """``ClaudeSDKClient.query``: a new agent span, unless one is waiting for its result."""
    session = sessions.client_session(instance)
    if session is not None and is_instrumentation_enabled():
        session.begin()
    return await wrapped(*args, **kwargs)


def _receive_messages(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, sessions: _Sessions
) -> Any:
    session = sessions.client_session(instance)
    if session is None:
        return wrapped(*args, **kwargs)
    return _traced(wrapped(*args, **kwargs), session, owned=False)


async def _interrupt(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, sessions: _Sessions
) -> Any:
    """``ClaudeSDKClient.interrupt``: what the query had under way is cut, and its spans say so."""
    session = sessions.client_session(instance)
    if session is not None and is_instrumentation_enabled():
        try:
            session.on_interrupt()
        except Exception:
            warn_once("record a Claude Agent SDK interrupt")
    return await wrapped(*args, **kwargs)


async def _sdk_mcp_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, sessions: _Sessions
) -> Any:
    """An in-process SDK MCP server's message, given the trace context of the tool use (or the agent) it
    belongs to in ``params._meta``, as an MCP client sends it: the ``mcp`` package's server spans continue it.
    A message that carries trace context already, or has none to get, goes as it came."""
    server = args[0] if args else kwargs.get("server_name")
    message = args[1] if len(args) > 1 else kwargs.get("message")
    try:
        if is_instrumentation_enabled() and isinstance(server, str) and isinstance(message, dict):
            context = sessions.context_for_mcp(server, message)
            params = message.get("params", {})
            if context is not None and isinstance(params, dict):
                meta = dict(params.get("_meta") or {})
                if semconv.MCP_META_TRACEPARENT not in meta:
                    inject(meta, context=context)
                    carried = {**message, "params": {**params, "_meta": meta}}
                    if len(args) > 1:
                        args = (args[0], carried, *args[2:])
                    else:
                        kwargs = {**kwargs, "message": carried}
    except Exception:
        warn_once("carry the trace into an SDK MCP server")
    return await wrapped(*args, **kwargs)


async def _disconnect(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, sessions: _Sessions
) -> Any:
    session = sessions.client_session(instance)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        if session is not None:
            session.end()


_WRAPPED: Final = (
    ("claude_agent_sdk._internal.client", "InternalClient", "process_query", _process_query),
    ("claude_agent_sdk.client", "ClaudeSDKClient", "connect", _connect),
    ("claude_agent_sdk.client", "ClaudeSDKClient", "query", _client_query),
    ("claude_agent_sdk.client", "ClaudeSDKClient", "receive_messages", _receive_messages),
    ("claude_agent_sdk.client", "ClaudeSDKClient", "interrupt", _interrupt),
    ("claude_agent_sdk._internal.query", "Query", "_handle_sdk_mcp_request", _sdk_mcp_request),
    ("claude_agent_sdk.client", "ClaudeSDKClient", "disconnect", _disconnect),
)
"""(module, class, method, wrapper): every method the instrumentor wraps."""


class ClaudeAgentInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments ``claude-agent-sdk``: ``query()`` and ``ClaudeSDKClient`` (idempotent, reversible).

    ``instrument(tracer_provider=..., meter_provider=..., capture_content=...)`` as ``AnthropicInstrumentor``.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return _claude_agent_instruments

    def _instrument(self, **kwargs: Any) -> None:
        sessions = _Sessions(importlib.import_module("claude_agent_sdk"), TelemetryHandler.for_instrumentor(kwargs))
        for module, cls, method, wrapper in _WRAPPED:
            wrapt.wrap_function_wrapper(module, f"{cls}.{method}", functools.partial(wrapper, sessions=sessions))

    def _uninstrument(self, **kwargs: Any) -> None:
        for module, cls, method, _ in _WRAPPED:
            unwrap(getattr(importlib.import_module(module), cls), method)


def instrument_claude_agent(**kwargs: Any) -> ClaudeAgentInstrumentor:
    """Instrument ``claude-agent-sdk`` (idempotent); nothing happens when it is not installed."""
    instrumentor = ClaudeAgentInstrumentor()
    if importlib.util.find_spec("claude_agent_sdk") is None:
        return instrumentor
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(**kwargs)
    return instrumentor


def uninstrument_claude_agent() -> None:
    instrumentor = ClaudeAgentInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
