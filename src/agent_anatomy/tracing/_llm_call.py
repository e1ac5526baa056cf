"""One LLM call from request to last token: attributes, first-token timing, usage and metrics.

``LLMInvocation`` is the Invocation of a ``chat {model}`` span (the telemetry handler's ``start_llm_call``
starts it). The wrappers and stream proxies report to
it (headers arrived, an event arrived with its arrival time, the response, an end, an error); it
owns every attribute, event and metric. All synchronous and I/O-free, and no method raises: a
failure to extract something is logged once and the user's call goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import timeit
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.context import Context, create_key, get_value, set_value
from opentelemetry.trace import Span, get_current_span
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ._genai_content import (
    StreamedContent,
    field,
    input_messages_json,
    output_messages_json,
    system_json,
    tool_definitions_json,
)
from ._instruments import Instruments
from ._invocation import Invocation, fq_exception_type
from .usage import Usage

__all__ = [
    "LLMInvocation",
    "api_call_attributes",
    "APICall",
    "api_call_context",
    "api_error_type",
    "current_api_call",
    "request_attributes",
    "warn_once",
]

_logger = logging.getLogger(__name__)
_warned: set[str] = set()


_METRIC_KEYS: Final = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.SERVER_ADDRESS,
    semconv.SERVER_PORT,
)
"""Low-cardinality request attributes that metrics carry (never ids, never content)."""


_API_SPAN_KEY: Final = create_key("agent_anatomy.api_span")


class APICall:
    """What the context of an API call's span (``chat``, ``count_tokens``...) holds: the span, and how the SDK's
    own tracing is handed over to it for this call (``_sdk_tracing`` sets and reads the flags).

    ``writes_headers``: the call's client builds its requests the SDK's base way, so its trace headers can
    be written for it; ``propagation``: the SDK, told it has no span for the call, would have sent them.
    """

    __slots__ = ("propagation", "span", "writes_headers")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.writes_headers = False
        self.propagation = False


def api_call_context(span: Span) -> Context:
    """The parent context of an API call's span: it marks the span as ours."""
    return set_value(_API_SPAN_KEY, APICall(span))


def current_api_call(context: Context | None = None) -> APICall | None:
    """Our API call whose SDK code is running now, if the current span is its span.

    True only while the SDK method runs under the call (not in code the span merely encloses), so the
    SDK's own API-call span can defer to ours there and nowhere else.
    """
    call = get_value(_API_SPAN_KEY, context)
    return call if isinstance(call, APICall) and call.span is get_current_span(context) else None


def warn_once(where: str) -> None:
    """Log an instrumentation failure at WARNING the first time it happens at ``where``."""
    if where not in _warned:
        _warned.add(where)
        _logger.warning("agent-anatomy: could not %s; the call is unaffected", where, exc_info=True)


def api_call_attributes(
    kwargs: Mapping[str, Any],
    *,
    operation: str,
    api: str,
    server_address: str | None,
    server_port: int | None,
    provider: str = semconv.PROVIDER_ANTHROPIC,
) -> dict[str, AttributeValue]:
    """The start attributes every API call's span has: operation, provider, SDK method, model, server."""
    attributes: dict[str, AttributeValue] = {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_PROVIDER_NAME: provider,
        semconv.ANATOMY_LLM_API: api,
    }
    model = kwargs.get("model")
    if isinstance(model, str):
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    if server_address:
        attributes[semconv.SERVER_ADDRESS] = server_address
    if server_port:
        attributes[semconv.SERVER_PORT] = server_port
    return attributes


def request_attributes(
    kwargs: Mapping[str, Any],
    *,
    api: str,
    server_address: str | None,
    server_port: int | None,
    stream: bool,
    provider: str = semconv.PROVIDER_ANTHROPIC,
) -> dict[str, AttributeValue]:
    """A model call's start attributes, from its keyword arguments (never its content)."""
    attributes = api_call_attributes(
        kwargs,
        operation=semconv.OPERATION_CHAT,
        api=api,
        server_address=server_address,
        server_port=server_port,
        provider=provider,
    )
    if stream:
        attributes[semconv.GEN_AI_REQUEST_STREAM] = True
    extra_body = kwargs.get("extra_body")
    extra = extra_body if isinstance(extra_body, Mapping) else {}
    for key, name in _NUMERIC_PARAMETERS:
        value = kwargs.get(name, extra.get(name))
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[key] = value
    stop = kwargs.get("stop_sequences")
    if isinstance(stop, list | tuple) and stop and all(isinstance(s, str) for s in stop):
        attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    thinking = kwargs.get("thinking")
    if isinstance(thinking, Mapping):
        kind, budget = thinking.get("type"), thinking.get("budget_tokens")
        if isinstance(kind, str):
            attributes[semconv.ANATOMY_LLM_THINKING_TYPE] = kind
        if isinstance(budget, int) and not isinstance(budget, bool):
            attributes[semconv.ANATOMY_LLM_THINKING_BUDGET] = budget
    output_config = kwargs.get("output_config")
    effort = output_config.get("effort") if isinstance(output_config, Mapping) else None
    if isinstance(effort, str):
        attributes[semconv.ANATOMY_LLM_EFFORT] = effort
    for key, name in _STRING_PARAMETERS:
        value = kwargs.get(name, extra.get(name))
        if isinstance(value, str):
            attributes[key] = value
    diagnostics = kwargs.get("diagnostics", extra.get("diagnostics"))
    if isinstance(diagnostics, Mapping) and "previous_message_id" in diagnostics:
        attributes[semconv.ANATOMY_LLM_CACHE_DIAGNOSED] = True
    return attributes


_NUMERIC_PARAMETERS: Final = (
    (semconv.GEN_AI_REQUEST_MAX_TOKENS, "max_tokens"),
    (semconv.GEN_AI_REQUEST_TEMPERATURE, "temperature"),
    (semconv.GEN_AI_REQUEST_TOP_P, "top_p"),
    (semconv.GEN_AI_REQUEST_TOP_K, "top_k"),
)
"""Sampling parameters recorded when the call gives them, by (attribute, keyword argument): as arguments (SDKs
that still take them) or in ``extra_body`` (the newest SDK dropped them from its signature)."""

_STRING_PARAMETERS: Final = (
    (semconv.ANATOMY_LLM_REQUEST_SPEED, "speed"),
    (semconv.ANATOMY_LLM_REQUEST_SERVICE_TIER, "service_tier"),
)
"""The latency controls a call asks for, by (attribute, keyword argument), as arguments or in ``extra_body``."""

_REASONING_DELTAS: Final = frozenset({"thinking_delta", "signature_delta"})
_REASONING_BLOCKS: Final = frozenset({"thinking", "redacted_thinking"})


def api_error_type(exc: BaseException) -> str | None:
    """The API's own error type (``overloaded_error``...) for an API error, else None (the exception type)."""
    body = getattr(exc, "body", None)
    error = field(body, "error") if body is not None else None
    kind = field(error, "type") if error is not None else None
    if isinstance(kind, str) and kind:
        return kind
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return str(status)
    return None


class LLMInvocation(Invocation):
    """The lifecycle of one ``chat {model}`` span."""

    __slots__ = (
        "_cache_miss",
        "_capture",
        "_content",
        "_first_at",
        "_first_content",
        "_first_text_at",
        "_headers_at",
        "_instruments",
        "_last_at",
        "_metric_attributes",
        "_output_tokens",
        "_response_id",
        "_response_model",
        "_start",
        "_stop_reason",
        "_stream",
        "_thought",
        "_tool_blocks",
        "_usage",
        "wants_deltas",
    )

    def __init__(
        self,
        span: Span,
        instruments: Instruments,
        *,
        start: float,
        metric_attributes: Mapping[str, AttributeValue],
        capture: bool,
        stream: bool,
    ) -> None:
        """``metric_attributes``: the request attributes; the low-cardinality ones go on metrics at the end."""
        super().__init__(span, api_call_context(span))
        self._instruments = instruments
        self._start = start
        self._metric_attributes = metric_attributes
        self._capture = capture
        self._stream = stream
        self._headers_at: float | None = None
        self._first_at: float | None = None
        self._first_text_at: float | None = None
        self._first_content = semconv.FIRST_CONTENT_TEXT
        self._thought = False
        self._last_at: float | None = None
        self._response_id: str | None = None
        self._response_model: str | None = None
        self._stop_reason: str | None = None
        self._usage = Usage()
        self._cache_miss: object = None
        self._output_tokens: int | None = None
        self._content: StreamedContent | None = StreamedContent() if capture and stream else None
        self._tool_blocks: dict[int, tuple[str, str]] | None = None
        """Open ``tool_use`` blocks of a stream, by index: their id and tool name."""
        self.wants_deltas = True
        """False once content deltas carry nothing more for this call (first visible content seen, no content
        capture): stream proxies then skip ``on_event`` for them, the commonest event."""

    def record_request_content(self, kwargs: Mapping[str, Any]) -> None:
        """Prompt, system instructions and tool definitions, when content capture is on."""
        if not self._capture or not self.span.is_recording():
            return
        try:
            self.span.set_attribute(semconv.GEN_AI_INPUT_MESSAGES, input_messages_json(kwargs.get("messages")))
            if kwargs.get("system"):
                self.span.set_attribute(semconv.GEN_AI_SYSTEM_INSTRUCTIONS, system_json(kwargs["system"]))
            definitions = tool_definitions_json(kwargs.get("tools"))
            if definitions is not None:
                self.span.set_attribute(semconv.GEN_AI_TOOL_DEFINITIONS, definitions)
        except Exception:
            warn_once("record the prompt on the LLM span")

    # --- what the wrappers and proxies report -------------------------------------------------------

    def on_headers(self) -> None:
        self._headers_at = timeit.default_timer()

    def on_event(self, event: Any, now: float) -> None:
        """One stream event, stamped ``now`` right after it was read. Runs per event: kept short."""
        try:
            kind = event.type
            if kind == "content_block_delta":
                if self._first_at is None:
                    self._first_token(now)
                if self._first_text_at is None:
                    self._take_delta_kind(event.delta.type, now)
                if self._content is not None:
                    self._content.delta(event.index, event.delta)
            elif kind == "message_start":
                self._take_message(event.message)
            elif kind == "message_delta":
                stop_reason = getattr(event.delta, "stop_reason", None)
                if stop_reason:
                    self._stop_reason = stop_reason
                self._take_usage(event.usage)
            elif kind == "message_stop":
                self._last_at = now
            elif kind == "content_block_start":
                block = event.content_block
                if block.type in _REASONING_BLOCKS:
                    self._thought = True
                elif block.type == "tool_use":
                    if self._tool_blocks is None:
                        self._tool_blocks = {}
                    self._tool_blocks[event.index] = (block.id, block.name)
                if self._content is not None:
                    self._content.start(event.index, block)
            elif kind == "content_block_stop" and self._tool_blocks is not None:
                self._tool_block_done(event.index)
        except Exception:
            warn_once("read a stream event for the LLM span")

    def _tool_block_done(self, index: int) -> None:
        """A ``tool_use`` block is complete: its tool could start now, before the message ends."""
        block = self._tool_blocks.pop(index, None) if self._tool_blocks is not None else None
        if block is not None and self.span.is_recording():
            self.span.add_event(
                semconv.EVENT_TOOL_USE_READY,
                {semconv.GEN_AI_TOOL_CALL_ID: block[0], semconv.GEN_AI_TOOL_NAME: block[1]},
                timestamp=time.time_ns(),
            )

    def _first_token(self, now: float) -> None:
        self._first_at = now
        if self.span.is_recording():
            self.span.add_event(semconv.EVENT_FIRST_TOKEN, timestamp=time.time_ns())

    def _take_delta_kind(self, kind: str, now: float) -> None:
        """Reasoning deltas until the first visible one, whose arrival is the time to first text."""
        if kind in _REASONING_DELTAS:
            self._thought = True
            return
        self._first_text_at = now
        self._first_content = (
            semconv.FIRST_CONTENT_TOOL_USE if kind == "input_json_delta" else semconv.FIRST_CONTENT_TEXT
        )
        self.wants_deltas = self._content is not None

    def on_response(self, message: object) -> None:
        """A complete (non-streamed) message, as an SDK model or decoded JSON."""
        try:
            self._take_message(message)
            self._stop_reason = field(message, "stop_reason") or self._stop_reason
            if self._capture and self.span.is_recording():
                self.span.set_attribute(
                    semconv.GEN_AI_OUTPUT_MESSAGES, output_messages_json(field(message, "content"), self._stop_reason)
                )
        except Exception:
            warn_once("read the response for the LLM span")

    def _take_message(self, message: object) -> None:
        if message is None:
            return
        self._response_id = field(message, "id") or self._response_id
        self._response_model = field(message, "model") or self._response_model
        self._cache_miss = field(field(message, "diagnostics"), "cache_miss_reason") or self._cache_miss
        self._take_usage(field(message, "usage"))

    def _take_usage(self, usage: object) -> None:
        self._usage.take(usage)

    # --- ends ----------------------------------------------------------------------------------------

    def end(
        self,
        how: str | None = None,
        extra: Mapping[str, AttributeValue] | None = None,
        *,
        at: tuple[float, int] | None = None,
    ) -> None:
        """End without error; ``how`` is the stream-end value for streams (None for a plain call). ``at``: when it
        ended (monotonic seconds, epoch ns), if that was before now."""
        if self.finished:
            return
        now = at[0] if at is not None else timeit.default_timer()
        try:
            attributes = self._response_attributes(now, how)
            self._record_metrics(now, error=None)
        except Exception:
            warn_once("finish the LLM span's attributes")
            attributes = {}
        if extra:
            attributes.update(extra)
        self.stop(attributes, end_ns=at[1] if at is not None else None)

    def interrupt(self) -> None:
        """The user's interrupt cut the call short: it ends failed, ``interrupted``, with what it had received."""
        if self.finished:
            return
        now = timeit.default_timer()
        attributes: dict[str, AttributeValue] = {}
        try:
            attributes = self._response_attributes(now, semconv.STREAM_END_INTERRUPTED if self._stream else None)
            if self._stop_reason is None:
                attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [semconv.FINISH_REASON_ERROR]
            self._record_metrics(now, error=semconv.ERROR_INTERRUPTED)
        except Exception:
            warn_once("record the interrupt on the LLM span")
        self.stop_failed(semconv.ERROR_INTERRUPTED, attributes)

    def fail(
        self,
        exc: BaseException,
        attributes: Mapping[str, AttributeValue] | None = None,
        error_type: str | None = None,
    ) -> None:
        if self.finished:
            return
        if isinstance(exc, asyncio.CancelledError):  # the application stopped the call: not an error
            self.end(semconv.STREAM_END_CANCELLED if self._stream else None, {semconv.ANATOMY_LLM_CANCELLED: True})
            return
        now = timeit.default_timer()
        extra: dict[str, AttributeValue] = dict(attributes or {})
        kind = error_type or api_error_type(exc)
        try:
            extra.update(self._response_attributes(now, semconv.STREAM_END_ERROR if self._stream else None))
            if self._stream and self._stop_reason is None:
                extra[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [semconv.FINISH_REASON_ERROR]
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                extra[semconv.HTTP_RESPONSE_STATUS_CODE] = status
            self._record_metrics(now, error=kind or fq_exception_type(exc))
        except Exception:
            warn_once("record the failure on the LLM span")
        super().fail(exc, extra, kind)

    def abandon(self) -> None:
        """The stream was garbage collected before it ended."""
        self.end(semconv.STREAM_END_ABANDONED)

    def _response_attributes(self, now: float, how: str | None) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {}
        if how is not None:
            attributes[semconv.ANATOMY_STREAM_END] = how
        if self._response_id:
            attributes[semconv.GEN_AI_RESPONSE_ID] = self._response_id
        if self._response_model:
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = self._response_model
        if self._stop_reason:
            attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [self._stop_reason]
        attributes.update(self._usage.attributes())
        if self._cache_miss is not None:
            reason, missed = field(self._cache_miss, "type"), field(self._cache_miss, "cache_missed_input_tokens")
            if isinstance(reason, str):
                attributes[semconv.ANATOMY_LLM_CACHE_MISS_REASON] = reason
            if isinstance(missed, int):
                attributes[semconv.ANATOMY_LLM_CACHE_MISSED_TOKENS] = missed
        if self._headers_at is not None:
            attributes[semconv.ANATOMY_LLM_TIME_TO_HEADERS] = self._headers_at - self._start
        if self._first_at is not None:
            attributes.update(self._stream_times(self._first_at, self._last_at if self._last_at is not None else now))
        if self._content is not None and self.span.is_recording():
            attributes[semconv.GEN_AI_OUTPUT_MESSAGES] = output_messages_json(
                self._content.content(), self._stop_reason
            )
        return attributes

    def _stream_times(self, first: float, end: float) -> dict[str, AttributeValue]:
        """First chunk, thinking, first visible content and generation: the stream's time split in three."""
        text_at = self._first_text_at
        visible = text_at if text_at is not None else (end if self._thought else first)
        times: dict[str, AttributeValue] = {
            semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: first - self._start,
            semconv.ANATOMY_LLM_GENERATION_TIME: max(end - visible, 0.0),
        }
        if text_at is not None:
            times[semconv.ANATOMY_LLM_TIME_TO_FIRST_TEXT] = text_at - self._start
            times[semconv.ANATOMY_LLM_FIRST_CONTENT] = self._first_content
        if self._thought:
            times[semconv.ANATOMY_LLM_THINKING_TIME] = max(visible - first, 0.0)
        output = self._usage.output
        if output and end > first:
            times[semconv.ANATOMY_LLM_OUTPUT_TOKENS_PER_SECOND] = output / (end - first)
        return times

    def _record_metrics(self, now: float, error: str | None) -> None:
        if not self._instruments.recording:
            return
        request = self._metric_attributes
        metric_attributes = {key: request[key] for key in _METRIC_KEYS if key in request}
        if self._response_model:
            metric_attributes[semconv.GEN_AI_RESPONSE_MODEL] = self._response_model
        if error:
            metric_attributes[semconv.ERROR_TYPE] = error
        context = self.context
        instruments = self._instruments
        instruments.operation_duration.record(now - self._start, metric_attributes, context)
        if self._first_at is not None:
            instruments.time_to_first_chunk.record(self._first_at - self._start, metric_attributes, context)
        usage = self._usage
        if instruments.latest:
            self._record_latest_usage(instruments, metric_attributes)
            return
        if usage and instruments.token_usage is not None:
            instruments.token_usage.record(
                usage.input_total,
                {**metric_attributes, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_INPUT},
                context,
            )
            if usage.output is not None:
                instruments.token_usage.record(
                    usage.output,
                    {**metric_attributes, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_OUTPUT},
                    context,
                )

    def _record_latest_usage(self, instruments: Instruments, metric_attributes: dict[str, AttributeValue]) -> None:
        """The newest conventions: every call counts its tokens, a failed one too (0, modality ``unknown``,
        when it received no usage at all)."""
        usage = self._usage
        counts = usage.by_kind()
        modality = semconv.TOKEN_MODALITY_TEXT if usage else semconv.TOKEN_MODALITY_UNKNOWN
        counted = {k: v for k, v in metric_attributes.items() if k != semconv.ERROR_TYPE}
        counted[semconv.GEN_AI_TOKEN_MODALITY] = modality
        context = self.context
        for key, counter in instruments.usage.items():
            counter.add(counts[key], counted, context)
        for key, histogram in instruments.operation_tokens.items():
            histogram.record(counts[key], metric_attributes, context)
