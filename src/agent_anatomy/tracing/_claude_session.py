"""One Claude Agent SDK session's spans, from what the SDK hands back: I/O-free, on the session's event loop.

``ClaudeSession`` takes the messages the SDK yields and the hooks the CLI calls, and starts and ends the
spans ``claude_agent.py`` describes: the agent per query (or per ``query()``), a chat per API call, an
``execute_tool`` per tool use, a subagent's own agent span. The wrappers only hand it what passes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import timeit
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import Token
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry.context import Context, attach, detach
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ._invocation import FunctionCall, Invocation
from ._llm_call import LLMInvocation, api_call_attributes, warn_once
from .handler import TelemetryHandler
from .specs import NO_INPUT, ToolSpanOptions, agent_spec, permission_spec, tool_spec

__all__ = ["ClaudeSession", "TranscriptMessage", "read_transcript", "transcript_messages"]

_HOOK_EVENTS: Final = ("PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStart", "SubagentStop")
_MCP_TOOL_PREFIX: Final = "mcp__"
_CLI_API: Final = "claude_code.messages"
"""``anatomy.llm.api`` of a call the CLI made (not one of the anthropic SDK's methods)."""


class _Fields(dict[str, Any]):
    """A decoded stream event read by attribute, as the SDK's typed events are (absent fields read None)."""

    def __getattr__(self, name: str) -> Any:
        value = self.get(name)
        return _Fields(value) if isinstance(value, dict) and not isinstance(value, _Fields) else value


def _now() -> tuple[float, int]:
    return timeit.default_timer(), time.time_ns()


def _server(options: object) -> tuple[str | None, int | None]:
    """Where the CLI sends its API calls: ``ANTHROPIC_BASE_URL`` of the options' env (the default otherwise)."""
    env = getattr(options, "env", None)
    url = env.get("ANTHROPIC_BASE_URL") if isinstance(env, Mapping) else None
    try:
        parts = urlsplit(url if isinstance(url, str) and url else "https://api.anthropic.com")
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None, None


@dataclasses.dataclass(frozen=True, slots=True)
class TranscriptMessage:
    """One API call's answer as a Claude Code transcript has it at its last record."""

    model: str | None
    usage: Mapping[str, Any]
    stop_reason: str | None
    written_ns: int | None
    """When that record was written (epoch ns): the call was over by then."""


def read_transcript(path: str) -> dict[str, TranscriptMessage]:
    """``transcript_messages`` of the transcript file at ``path``; nothing when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as transcript:
            return transcript_messages(transcript)
    except OSError:
        return {}


def transcript_messages(lines: Iterable[str]) -> dict[str, TranscriptMessage]:
    """Each answer in a Claude Code transcript (JSON lines) by message id, in the order they came, as its last
    record has it: what a subagent's calls really produced, which the messages the SDK hands on say only as
    they start, and (older CLIs) a call the SDK was never told of, a foreground subagent's last."""
    messages: dict[str, TranscriptMessage] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = record.get("message") if isinstance(record, dict) and record.get("type") == "assistant" else None
        if isinstance(message, dict) and isinstance(message.get("id"), str) and isinstance(message.get("usage"), dict):
            model, stop = message.get("model"), message.get("stop_reason")
            messages[message["id"]] = TranscriptMessage(
                model=model if isinstance(model, str) and model else None,
                usage=message["usage"],
                stop_reason=stop if isinstance(stop, str) else None,
                written_ns=_epoch_ns(record.get("timestamp")),
            )
    return messages


def _epoch_ns(timestamp: object) -> int | None:
    """A transcript's ISO 8601 timestamp (``2026-12-03T15:16:35.415Z``) in epoch ns; None if it is not one."""
    if not isinstance(timestamp, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return round(moment.timestamp() * 1e9) if moment.tzinfo is not None else None


def _when(epoch_ns: int | None) -> tuple[float, int]:
    """``_now()`` at an earlier moment given in epoch ns (now itself if unknown or not earlier)."""
    now = _now()
    if epoch_ns is None or epoch_ns >= now[1]:
        return now
    return now[0] - (now[1] - epoch_ns) / 1e9, epoch_ns


def _number(value: object, per: float = 1.0) -> float | None:
    """A reported figure (``duration_ms``, a cost) in our unit, or None when it is not a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value / per
    return None


class ClaudeSession:
    """One SDK session's spans: its agent span per query, its calls, tool uses and subagents. I/O-free; the
    wrappers report messages and the hooks report tool uses, all on the session's event loop."""

    def __init__(
        self,
        handler: TelemetryHandler,
        sdk: Any,
        *,
        whole: bool,
        read_transcript: Callable[[str], Mapping[str, TranscriptMessage]] = read_transcript,
    ) -> None:
        """``whole``: one agent span for all the session's turns (``query()``: the CLI may add a turn of its own
        after the result, to report a background task); else one per query (a client's). ``read_transcript``: a
        subagent transcript's answers by message id (the one read of a file, given in)."""
        self._handler = handler
        self._read_transcript = read_transcript
        self._transcripts: dict[str, str] = {}
        """A stopped subagent's transcript, by the tool use that started it, until its calls are settled."""
        self._stopped: dict[str, Context] = {}
        """A stopped subagent's context, by the tool use that started it: a call read from its transcript later
        goes below it."""
        self._told: dict[str, set[str]] = {}
        """The message ids of a subagent's calls that have a span, by the tool use that started it."""
        self._sdk = sdk
        self._whole = whole
        self._partial = False
        """Whether the user's code asked for partial messages (else they are held back from it)."""
        self._model: str | None = None
        self._server: tuple[str | None, int | None] = (None, None)
        self._agent: Invocation | None = None
        # Per agent of the session, by the tool use that started it (None: the main agent):
        self._ready: dict[str | None, tuple[float, int]] = {None: _now()}
        """When the agent last had all its next API call needs: the call starts there (for the main agent, the
        CLI's ``requesting`` status)."""
        self._calls: dict[str | None, LLMInvocation] = {}
        """Its call under way."""
        self._message_ids: dict[str | None, str] = {}
        """A subagent's call under way, by message id: the CLI forwards no stream events of subagents, only
        their messages, so their calls are read from those (no first token)."""
        self._parked: dict[str, list[tuple[str, LLMInvocation, tuple[float, int]]]] = {}
        """A subagent's calls that are over (message id, call, when it ended), left open until the subagent
        stops: its messages carry each call's usage as it started, its transcript the final one."""
        self._tools: dict[str, tuple[str, FunctionCall, str | None]] = {}
        """Tool uses under way: name, span, and the agent (key) that made them."""
        self._subagents: dict[str, Invocation] = {}
        self._subagent_of_tool: dict[str, str] = {}
        self._tool_of_subagent: dict[str, str] = {}
        self._totals: dict[str, float] = {}
        """The session's cost and API time as of its last result."""
        self._since: dict[str, float] = {}
        """The same when the agent span began: its share is the difference."""
        self._reported: dict[str, AttributeValue] = {}
        """What the results of the agent span's turns said, for its end."""
        self._failed: str | None = None
        self._ready_marked: Invocation | None = None
        """The agent span that has its ``anatomy.agent.ready`` event."""
        self.start_up: Invocation | None = None
        """A client's start-up span while the CLI starts (what its SDK MCP servers' first messages go under)."""

    # --- options and lifetime -----------------------------------------------------------------------------

    def cli_options(self, options: Any) -> Any:
        """A copy of the user's options with partial messages on and the session's hooks after the user's."""
        self._partial = bool(getattr(options, "include_partial_messages", False))
        model = getattr(options, "model", None)
        self._model = model if isinstance(model, str) and model else None
        self._server = _server(options)
        hooks = {event: list(matchers) for event, matchers in (options.hooks or {}).items()}
        for event in _HOOK_EVENTS:
            hooks.setdefault(event, []).append(self._sdk.HookMatcher(matcher=None, hooks=[self._hook]))
        changes: dict[str, Any] = {"hooks": hooks, "include_partial_messages": True}
        decide = getattr(options, "can_use_tool", None)
        if callable(decide):
            changes["can_use_tool"] = self._timed_permission(decide)
        return dataclasses.replace(options, **changes)

    def _timed_permission(
        self, decide: Callable[[str, Any, Any], Awaitable[Any]]
    ) -> Callable[[str, Any, Any], Awaitable[Any]]:
        """The user's permission callback, each run a ``check_permission`` span under the tool use it decides (or
        the agent): the time the CLI waits for it is the user's code, not the tool's. Its answer is untouched."""

        async def timed(tool_name: str, tool_input: Any, context: Any) -> Any:
            try:
                tool_use_id = getattr(context, "tool_use_id", None)
                entry = self._tools.get(tool_use_id) if isinstance(tool_use_id, str) else None
                parent = (
                    entry[1].context
                    if entry is not None
                    else self._context_of_agent(getattr(context, "agent_id", None))
                )
                check = self._handler.start_permission(permission_spec(tool_name), tool_input, parent=parent)
            except Exception:
                warn_once("trace a permission callback")
                return await decide(tool_name, tool_input, context)
            try:
                decision = await decide(tool_name, tool_input, context)
            except BaseException as exc:
                check.fail(exc)
                raise
            check.returned(getattr(decision, "behavior", None))
            return decision

        return timed

    def begin(self) -> None:
        """Start the agent span of a query, unless one is under way."""
        if self._agent is not None:
            return
        spec = agent_spec(
            semconv.CLAUDE_CODE_AGENT,
            provider=semconv.PROVIDER_ANTHROPIC,
            attributes={semconv.GEN_AI_REQUEST_MODEL: self._model} if self._model else None,
        )
        self._agent = self._handler.start_agent(spec, raw_input=NO_INPUT, attach_now=False)
        self._ready[None] = _now()
        self._since = dict(self._totals)

    def enter(self) -> Token[Context] | None:
        """Make the agent span current for one step of the SDK (pair with ``leave``)."""
        return self._agent.enter() if self._agent is not None else None

    @staticmethod
    def leave(token: Token[Context] | None) -> None:
        if token is not None:
            detach(token)

    def end(self, exc: BaseException | None = None) -> None:
        """The session's messages stopped (all read, closed early, failed, disconnected): everything open ends."""
        self._close_open()
        self._finish(exc)

    def _finish(self, exc: BaseException | None = None) -> None:
        agent, self._agent = self._agent, None
        reported, self._reported = self._reported, {}
        failed, self._failed = self._failed, None
        if agent is None:
            return
        if exc is not None:
            agent.fail(exc, reported)
        elif failed is not None:
            agent.stop_failed(failed, reported)
        else:
            agent.stop(reported)

    def _close_open(self, *, subagents: bool = True) -> None:
        """End what is open: all of it, or (``subagents`` false) the main agent's, as subagents that run in
        the background may outlive their turn."""
        for key in [key for key in self._calls if subagents or key is None]:
            self._calls.pop(key).end(semconv.STREAM_END_ABANDONED)
        for tool_use_id, (_, tool, key) in list(self._tools.items()):
            if subagents or key is None:
                del self._tools[tool_use_id]
                tool.stop()
        if subagents:
            self._settle_stopped(last=True)
            for subagent in self._subagents.values():
                subagent.stop()
            self._subagents.clear()
            self._message_ids.clear()
            self._told.clear()

    def on_interrupt(self) -> None:
        """The user interrupted the query: what was under way ends failed, ``interrupted``."""
        for call in self._calls.values():
            call.interrupt()
        self._calls.clear()
        for _, tool, _ in self._tools.values():
            tool.stop_failed(semconv.ERROR_INTERRUPTED)
        self._tools.clear()

    # --- messages -----------------------------------------------------------------------------------------

    def on_message(self, message: object) -> bool:
        """Take one message the SDK yields; whether the user's code gets it."""
        try:
            return self._take(message)
        except Exception:
            warn_once("read a Claude Agent SDK message")
            return not isinstance(message, self._sdk.StreamEvent) or self._partial

    def _take(self, message: object) -> bool:
        sdk = self._sdk
        if isinstance(message, sdk.StreamEvent):
            self._on_event(message.event, message.parent_tool_use_id)
            return self._partial
        if isinstance(message, sdk.SystemMessage):
            if message.subtype == "status":  # sent only with partial messages on
                if message.data.get("status") == "requesting":
                    self._ready[None] = _now()
                return self._partial
            if message.subtype == "init":
                self._on_init(message.data)
            return True
        if isinstance(message, sdk.AssistantMessage):
            if message.parent_tool_use_id is not None:
                self._on_subagent_message(message)
        elif isinstance(message, sdk.UserMessage):
            key = message.parent_tool_use_id
            self._on_tool_results(message.content)
            if key is not None:
                self._end_subagent_call(key)
            self._ready[key] = _now()
        elif isinstance(message, sdk.ResultMessage):
            self._on_result(message)
        return True

    def _on_init(self, data: Mapping[str, Any]) -> None:
        """A turn of the main agent starts: after a result, one the CLI starts itself (a background task's
        notification) is an agent span of its own."""
        self.begin()
        self._ready[None] = _now()
        model = data.get("model")
        if isinstance(model, str) and model:
            self._model = model
        session_id = data.get("session_id")
        agent = self._agent
        if agent is not None and agent.span.is_recording():
            if agent is not self._ready_marked:  # the CLI's start-up ends here (its first turn only)
                self._ready_marked = agent
                agent.span.add_event(semconv.EVENT_AGENT_READY, timestamp=self._ready[None][1])
            if isinstance(session_id, str):
                agent.span.set_attribute(semconv.GEN_AI_CONVERSATION_ID, session_id)
            if model:
                agent.span.set_attribute(semconv.GEN_AI_REQUEST_MODEL, model)

    def _on_event(self, event: Mapping[str, Any], key: str | None) -> None:
        now = timeit.default_timer()
        kind = event.get("type")
        if kind == "message_start":
            if key is None:
                self.begin()
            previous = self._calls.pop(key, None)
            if previous is not None:
                previous.end(semconv.STREAM_END_ABANDONED)
            message = event.get("message")
            self._calls[key] = self._start_call(message.get("model") if isinstance(message, Mapping) else None, key)
        call = self._calls.get(key)
        if call is None:
            return
        call.on_event(_Fields(event), now)
        if kind == "message_stop":
            del self._calls[key]
            call.end(semconv.STREAM_END_COMPLETED)
            self._ready[key] = _now()

    def _on_subagent_message(self, message: Any) -> None:
        """A piece of a subagent's answer (one content block): its first starts the call's span."""
        key = message.parent_tool_use_id
        message_id = message.message_id or ""
        told = self._told.setdefault(key, set())
        if self._message_ids.get(key) != message_id and message_id in told:
            return  # read from its transcript already: the SDK tells of it late
        told.add(message_id)
        if self._message_ids.get(key) != message_id:
            self._end_subagent_call(key)
            self._message_ids[key] = message_id
            self._calls[key] = self._start_call(message.model, key, headers=False)
        call = self._calls.get(key)
        if call is not None:
            call.on_response(
                {"id": message.message_id, "model": message.model, "usage": message.usage, "content": []}
                | ({"stop_reason": message.stop_reason} if message.stop_reason else {})
            )

    def _end_subagent_call(self, key: str) -> None:
        """A subagent's call ends when the subagent does something next (a tool use, a result, its stop); its span
        waits for the subagent's transcript (``_settle``)."""
        if key in self._message_ids and key in self._calls:
            ended = _now()
            self._parked.setdefault(key, []).append((self._message_ids[key], self._calls.pop(key), ended))
            self._ready[key] = ended

    def _settle(self, key: str, *, last: bool) -> None:
        """End a stopped subagent's calls, each when it ended, with its final usage from its transcript; one the
        transcript does not hold yet (the CLI writes it a moment after the stop) waits for a later look, unless
        this is the ``last``."""
        path = self._transcripts.get(key)
        messages = self._read_transcript(path) if path is not None else {}
        waiting = []
        for message_id, call, ended in self._parked.pop(key, []):
            final = messages.get(message_id)
            if final is None and not last and path is not None:
                waiting.append((message_id, call, ended))
                continue
            if final is not None:
                call.on_response({"id": message_id, "usage": dict(final.usage), "content": []})
            call.end(at=ended)
        self._untold_calls(key, messages)
        if waiting:
            self._parked[key] = waiting
        elif last or path is None:
            self._transcripts.pop(key, None)
            self._stopped.pop(key, None)

    def _untold_calls(self, key: str, messages: Mapping[str, TranscriptMessage]) -> None:
        """A stopped subagent's calls its transcript holds and the SDK never told of (older CLIs keep a
        foreground subagent's last answer to themselves): each from when the subagent was ready to when its
        transcript says it was written."""
        told = self._told.setdefault(key, set())
        for message_id, message in messages.items():
            if message_id in told:
                continue
            told.add(message_id)
            ready = self._ready.get(key)
            call = self._start_call(message.model, key, headers=False, parent=self._stopped.get(key))
            response: dict[str, Any] = {
                "id": message_id,
                "model": message.model,
                "usage": dict(message.usage),
                "content": [],
            }
            if message.stop_reason:
                response["stop_reason"] = message.stop_reason
            call.on_response(response)
            ended = _when(message.written_ns)
            if ready is not None and ended[0] < ready[0]:  # written before it could start: clocks apart
                ended = _now()
            call.end(at=ended)
            self._ready[key] = ended

    def _settle_stopped(self, *, last: bool) -> None:
        for key in list(self._transcripts if not last else self._parked):
            self._settle(key, last=last)

    def _start_call(
        self, model: object, key: str | None, *, headers: bool = True, parent: Context | None = None
    ) -> LLMInvocation:
        host, port = self._server
        attributes = api_call_attributes(
            {"model": model if isinstance(model, str) and model else self._model},
            operation=semconv.OPERATION_CHAT,
            api=_CLI_API,
            server_address=host,
            server_port=port,
        )
        attributes[semconv.GEN_AI_REQUEST_STREAM] = True
        started = self._ready.get(key) or _now()
        call = self._handler.start_llm_call(
            attributes, stream=True, started=started, parent=parent or self._context_of_tool_use(key)
        )
        if headers:
            call.on_headers()  # the stream opened: the time to it is the request's way out and the queue
        call.suspend()
        return call

    def _on_tool_results(self, content: object) -> None:
        """Tool uses whose result came back without a ``PostToolUse`` (denied, interrupted) end here."""
        if not isinstance(content, list):
            return
        for block in content:
            tool_use_id = getattr(block, "tool_use_id", None)
            entry = self._tools.pop(tool_use_id, None) if isinstance(tool_use_id, str) else None
            if entry is not None:
                _, call, _ = entry
                if getattr(block, "is_error", None):
                    call.returned_error(semconv.TOOL_ERROR, getattr(block, "content", None))
                else:
                    call.returned(getattr(block, "content", None))

    def _on_result(self, result: Any) -> None:
        """A turn's result: what it reports goes on the agent span, which it ends unless the span is the whole
        session's. Cost and API time are the session's so far (a client's queries add up): the span's share."""
        self._close_open(subagents=False)
        self._settle_stopped(last=False)
        if self._agent is None:
            return
        reported = self._reported
        turns = result.num_turns
        if isinstance(turns, int) and not isinstance(turns, bool):
            previous = reported.get(semconv.ANATOMY_AGENT_TURNS, 0)
            reported[semconv.ANATOMY_AGENT_TURNS] = turns + (previous if isinstance(previous, int) else 0)
        if isinstance(result.session_id, str):
            reported[semconv.GEN_AI_CONVERSATION_ID] = result.session_id
        if isinstance(result.stop_reason, str):
            reported[semconv.ANATOMY_AGENT_STOP_REASON] = result.stop_reason
        duration = _number(result.duration_ms, 1000)
        if duration is not None:
            previous = reported.get(semconv.ANATOMY_AGENT_REPORTED_DURATION, 0.0)
            reported[semconv.ANATOMY_AGENT_REPORTED_DURATION] = duration + (
                previous if isinstance(previous, float) else 0.0
            )
        for key, total in (
            (semconv.ANATOMY_AGENT_COST_USD, _number(result.total_cost_usd)),
            (semconv.ANATOMY_AGENT_API_TIME, _number(result.duration_api_ms, 1000)),
        ):
            if total is not None:
                reported[key] = max(total - self._since.get(key, 0.0), 0.0)
                self._totals[key] = total
        if result.is_error:
            self._failed = result.subtype or "error"
        if not self._whole:
            self._finish()

    # --- hooks ------------------------------------------------------------------------------------------------

    async def _hook(self, data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        """The hook added for every event in ``_HOOK_EVENTS``: it records, and has no opinion."""
        try:
            self.on_hook(data)
        except Exception:
            warn_once("read a Claude Agent SDK hook")
        return {}

    def on_hook(self, data: Mapping[str, Any]) -> None:
        """Take one hook's input (a subagent's stop brings its transcript, whose usage its calls end with)."""
        event = data.get("hook_event_name")
        if event == "PreToolUse":
            self._tool_started(data)
        elif event in ("PostToolUse", "PostToolUseFailure"):
            self._tool_ended(data, failed=event == "PostToolUseFailure")
        elif event == "SubagentStart":
            self._subagent_started(data)
        elif event == "SubagentStop":
            agent_id = str(data.get("agent_id"))
            launcher = self._tool_of_subagent.get(agent_id)
            if launcher is not None:
                self._end_subagent_call(launcher)
                path = data.get("agent_transcript_path")
                if isinstance(path, str) and path:
                    self._transcripts[launcher] = path
                    self._stopped[launcher] = self._context_of_tool_use(launcher)
                self._settle(launcher, last=False)
            subagent = self._subagents.pop(agent_id, None)
            if subagent is not None:
                subagent.stop()

    def _tool_started(self, data: Mapping[str, Any]) -> None:
        name, tool_use_id = str(data.get("tool_name")), data.get("tool_use_id")
        if not isinstance(tool_use_id, str) or self._agent is None:
            return
        kind = semconv.TOOL_TYPE_EXTENSION if name.startswith(_MCP_TOOL_PREFIX) else semconv.TOOL_TYPE_FUNCTION
        key = self._tool_of_subagent.get(str(data.get("agent_id")))
        if key is not None:
            self._end_subagent_call(key)  # the subagent's answer asked for this tool: its call is over
        token = attach(self._context_of_agent(data.get("agent_id")))
        try:
            call = self._handler.start_tool(
                tool_spec(name, options=ToolSpanOptions(tool_type=kind)),
                raw_input=data.get("tool_input"),
                call_id=tool_use_id,
                attach_now=False,
            )
        finally:
            detach(token)
        if call.span.is_recording():
            call.span.set_attribute(semconv.ANATOMY_TOOL_SCHEDULED_BY, semconv.SCHEDULER_CLAUDE_CODE)
        self._tools[tool_use_id] = (name, call, key)

    def _tool_ended(self, data: Mapping[str, Any], *, failed: bool) -> None:
        entry = self._tools.pop(str(data.get("tool_use_id")), None)
        if entry is None:
            return
        _, call, key = entry
        duration = _number(data.get("duration_ms"), 1000)
        if duration is not None and call.span.is_recording():
            call.span.set_attribute(semconv.ANATOMY_TOOL_REPORTED_DURATION, duration)
        if failed:
            call.returned_error(semconv.TOOL_ERROR, data.get("error"))
        else:
            call.returned(data.get("tool_response"))
        self._ready[key] = _now()

    def _subagent_started(self, data: Mapping[str, Any]) -> None:
        agent_id, agent_type = str(data.get("agent_id")), str(data.get("agent_type") or "subagent")
        launcher = next(
            (
                tool_use_id
                for tool_use_id, (name, _, _) in reversed(self._tools.items())
                if name in semconv.CLAUDE_CODE_SUBAGENT_TOOLS and tool_use_id not in self._subagent_of_tool
            ),
            None,
        )
        # Beside the tool use, under the agent that made it: the CLI may run the subagent in the background,
        # its tool use over at once, and a span that outlived its parent would be cut to it.
        parent = self._context_of_tool_use(self._tools[launcher][2] if launcher is not None else None)
        attributes: dict[str, AttributeValue] = {semconv.ANATOMY_AGENT_ID: agent_id}
        if launcher is not None:
            attributes[semconv.ANATOMY_AGENT_TOOL_CALL_ID] = launcher
        spec = agent_spec(agent_type, provider=semconv.PROVIDER_ANTHROPIC, attributes=attributes)
        self._subagents[agent_id] = self._handler.start_agent(spec, raw_input=NO_INPUT, parent=parent, attach_now=False)
        if launcher is not None:
            self._subagent_of_tool[launcher] = agent_id
            self._tool_of_subagent[agent_id] = launcher
            self._ready[launcher] = _now()

    # --- where spans go -----------------------------------------------------------------------------------------

    def context_for_mcp(self, server: str, message: Mapping[str, Any]) -> Context | None:
        """Where an in-process SDK MCP server's handling of ``message`` goes: a ``tools/call`` under the session's
        tool use of that tool (the latest under way), anything else under the agent; None when the session has
        neither (it is not this session's)."""
        params = message.get("params")
        if message.get("method") == "tools/call" and isinstance(params, Mapping):
            wanted = f"{_MCP_TOOL_PREFIX}{server}__{params.get('name')}"
            for name, call, _ in reversed(self._tools.values()):
                if name == wanted:
                    return call.context
            return None
        if self._agent is not None:
            return self._agent.context
        return self.start_up.context if self.start_up is not None else None

    def _context_of_agent(self, agent_id: object) -> Context:
        subagent = self._subagents.get(agent_id) if isinstance(agent_id, str) else None
        if subagent is not None:
            return subagent.context
        return self._agent.context if self._agent is not None else Context()

    def _context_of_tool_use(self, tool_use_id: str | None) -> Context:
        """Where a call made under a tool use (a subagent's) goes: its subagent, else the main agent."""
        agent_id = self._subagent_of_tool.get(tool_use_id) if tool_use_id is not None else None
        return self._context_of_agent(agent_id)
