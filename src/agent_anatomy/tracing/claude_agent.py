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
  ``PostToolUseFailure`` hooks, added after the user's own; a subagent is an ``invoke_agent {type}`` span
  (``SubagentStart`` / ``SubagentStop``) beside the tool use that started it, with its tools and calls below
  (the CLI forwards no stream events of a subagent: its calls are read from its messages, without a
  first token).

The user's options are copied, never changed, and the hooks added answer with no opinion (``{}``). Wrapped:
``InternalClient.process_query`` (what ``query()`` runs; the one private name touched) and the public
``ClaudeSDKClient.connect`` / ``query`` / ``receive_messages`` / ``disconnect``, from one table.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import weakref
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any, Final

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap

from ._claude_session import ClaudeSession
from ._llm_call import warn_once
from ._package import _claude_agent_instruments
from .handler import TelemetryHandler

__all__ = ["ClaudeAgentInstrumentor", "instrument_claude_agent", "uninstrument_claude_agent"]


# --- the wrappers ----------------------------------------------------------------------------------------------


class _Sessions:
    """Built once per ``instrument()``: the handler sessions start their spans with, and each client's session."""

    def __init__(self, sdk: Any, handler: TelemetryHandler) -> None:
        self.sdk = sdk
        self._handler = handler
        self._clients: weakref.WeakKeyDictionary[Any, ClaudeSession] = weakref.WeakKeyDictionary()

    def new(self, *, whole: bool) -> ClaudeSession:
        return ClaudeSession(self._handler, self.sdk, whole=whole)

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
    """``ClaudeSDKClient.connect``: the CLI starts with the session's options (the user's object is put back)."""
    if not is_instrumentation_enabled():
        return await wrapped(*args, **kwargs)
    options = instance.options
    try:
        session = sessions.of_client(instance)
        instance.options = session.cli_options(options)
        prompt = kwargs.get("prompt", args[0] if args else None)
        if prompt is not None:
            session.begin()
    except Exception:
        warn_once("trace a Claude Agent SDK client")
        instance.options = options
        return await wrapped(*args, **kwargs)
    token = session.enter()
    try:
        return await wrapped(*args, **kwargs)
    finally:
        session.leave(token)
        instance.options = options


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
