"""What a span is, whoever wrote it: the spans of known instrumentations mapped onto the anatomy's concepts.

Readers give ``SpanRecord``s with each instrumentation's own attribute names; the analysis asks one
question of each span, its *role* (an LLM call, a tool call, an agent, a retrieval, a cache lookup...),
and, for an LLM call, its facts (model, streamed or not, time to first token, tokens). Both answers come
from the tables below, the one place that knows OpenLLMetry, OpenInference, the OpenTelemetry project's own
instrumentation, the anthropic SDK's own tracing, the Claude Code CLI's and the GenAI conventions old and new;
what an attribute means may depend on the instrumentation scope that wrote it. A role is one of the
``OPERATION_*`` names in ``semconv`` (``chat`` for any LLM call, ``retrieval`` for retrievals and embeddings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .. import semconv

__all__ = [
    "FIRST_CHUNK_IS_FIRST_EVENT",
    "ROLE_RULES",
    "STREAM_ONLY_WHEN_TRUE",
    "error_of",
    "LLMFacts",
    "llm_facts",
    "measured_rank",
    "model_name",
    "records_enclosing_agent",
    "role_of",
    "seconds_to_ns",
    "streamed",
    "tool_name",
]

_LLM: Final = semconv.OPERATION_CHAT
_TOOL: Final = semconv.OPERATION_EXECUTE_TOOL
_AGENT: Final = semconv.OPERATION_INVOKE_AGENT
_WORKFLOW: Final = semconv.OPERATION_INVOKE_WORKFLOW
_RETRIEVAL: Final = semconv.OPERATION_RETRIEVAL

ROLE_RULES: Final[tuple[tuple[str, str, str, str], ...]] = (
    # (attribute, its value, the role, who writes it) — the first rule that matches wins
    (semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_CHAT, _LLM, "GenAI conventions, agent-anatomy, anthropic SDK"),
    (semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_TEXT_COMPLETION, _LLM, "GenAI conventions"),
    (semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_GENERATE_CONTENT, _LLM, "GenAI conventions"),
    (semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_EMBEDDINGS, _RETRIEVAL, "GenAI conventions"),
    (semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_RETRIEVAL, _RETRIEVAL, "GenAI conventions"),
    (semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_EXECUTE_TOOL, _TOOL, "GenAI conventions, agent-anatomy"),
    (semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_INVOKE_AGENT, _AGENT, "GenAI conventions, agent-anatomy"),
    (semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_INVOKE_WORKFLOW, _WORKFLOW, "GenAI conventions, agent-anatomy"),
    (semconv.OPENINFERENCE_SPAN_KIND, "LLM", _LLM, "OpenInference"),
    (semconv.OPENINFERENCE_SPAN_KIND, "TOOL", _TOOL, "OpenInference"),
    (semconv.OPENINFERENCE_SPAN_KIND, "AGENT", _AGENT, "OpenInference"),
    (semconv.OPENINFERENCE_SPAN_KIND, "CHAIN", _WORKFLOW, "OpenInference"),
    (semconv.OPENINFERENCE_SPAN_KIND, "RETRIEVER", _RETRIEVAL, "OpenInference"),
    (semconv.OPENINFERENCE_SPAN_KIND, "EMBEDDING", _RETRIEVAL, "OpenInference"),
    (semconv.OPENINFERENCE_SPAN_KIND, "RERANKER", _RETRIEVAL, "OpenInference"),
    (semconv.TRACELOOP_SPAN_KIND, "tool", _TOOL, "OpenLLMetry (Traceloop)"),
    (semconv.TRACELOOP_SPAN_KIND, "agent", _AGENT, "OpenLLMetry (Traceloop)"),
    (semconv.TRACELOOP_SPAN_KIND, "workflow", _WORKFLOW, "OpenLLMetry (Traceloop)"),
    (semconv.TRACELOOP_LLM_REQUEST_TYPE, "chat", _LLM, "OpenLLMetry (Traceloop)"),
    (semconv.TRACELOOP_LLM_REQUEST_TYPE, "completion", _LLM, "OpenLLMetry (Traceloop)"),
    (semconv.TRACELOOP_LLM_REQUEST_TYPE, "embedding", _RETRIEVAL, "OpenLLMetry (Traceloop)"),
    (semconv.CLAUDE_CODE_SPAN_TYPE, semconv.CLAUDE_CODE_LLM_REQUEST, _LLM, "Claude Code CLI 2.1.142"),
    (semconv.CLAUDE_CODE_SPAN_TYPE, semconv.CLAUDE_CODE_INTERACTION_TYPE, _AGENT, "Claude Code CLI 2.1.142"),
    (semconv.CLAUDE_CODE_SPAN_TYPE, semconv.CLAUDE_CODE_TOOL_TYPE, _TOOL, "Claude Code CLI 2.1.142"),
)
_BY_ATTRIBUTE: Final[dict[str, dict[str, str]]] = {}
for _attribute, _value, _role, _ in ROLE_RULES:
    _BY_ATTRIBUTE.setdefault(_attribute, {}).setdefault(_value, _role)

_OWN_OPERATIONS: Final = frozenset(
    {
        semconv.OPERATION_CHAT,
        semconv.OPERATION_EXECUTE_TOOL,
        semconv.OPERATION_INVOKE_AGENT,
        semconv.OPERATION_INVOKE_WORKFLOW,
        semconv.OPERATION_STEP,
        semconv.OPERATION_TOOL_BATCH,
        semconv.OPERATION_CACHE_LOOKUP,
        semconv.OPERATION_ROUTE,
    }
)
"""Operations agent-anatomy's own spans name themselves by, as the first word of the span name."""

MODEL_ATTRIBUTES: Final = (
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.OPENINFERENCE_LLM_MODEL_NAME,
)
OUTPUT_TOKEN_ATTRIBUTES: Final = (
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_USAGE_COMPLETION_TOKENS,
    semconv.OPENINFERENCE_LLM_TOKEN_COUNT_COMPLETION,
)
INPUT_TOKEN_ATTRIBUTES: Final = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_PROMPT_TOKENS,
    semconv.OPENINFERENCE_LLM_TOKEN_COUNT_PROMPT,
)
TOOL_NAME_ATTRIBUTES: Final = (
    semconv.GEN_AI_TOOL_NAME,
    semconv.OPENINFERENCE_TOOL_NAME,
    semconv.TRACELOOP_ENTITY_NAME,
    semconv.CLAUDE_CODE_TOOL_NAME,
)


def role_of(name: str, attributes: Mapping[str, Any]) -> str | None:
    """The span's role (an ``OPERATION_*`` name), or None for a span the anatomy knows nothing of."""
    operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
    if isinstance(operation, str) and operation in _OWN_OPERATIONS:
        return operation
    for attribute, roles in _BY_ATTRIBUTE.items():
        value = attributes.get(attribute)
        if isinstance(value, str) and (role := roles.get(value)) is not None:
            return role
    if isinstance(operation, str) and operation:
        return operation  # an operation this table does not know: kept, so nothing is lost
    first = name.split(" ", 1)[0]
    return first if first in _OWN_OPERATIONS else None


def _first(attributes: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for key in names:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def tool_name(name: str, attributes: Mapping[str, Any]) -> str:
    found = _first(attributes, TOOL_NAME_ATTRIBUTES)
    return str(found) if found else name.removeprefix(f"{semconv.OPERATION_EXECUTE_TOOL} ")


@dataclass(frozen=True, slots=True)
class LLMFacts:
    """What the trace says of one LLM call, whoever recorded it; None where it did not say."""

    model: str | None
    streamed: bool | None
    """None: the trace does not say (OpenLLMetry marks ``create(stream=True)`` but not ``messages.stream()``)."""
    ttft_ns: int | None
    output_tokens: int | None
    response_id: str | None
    thinking_ns: int | None = None
    """Reasoning streamed before the visible answer (ours record it; None where the trace does not say)."""
    input_tokens: int | None = None
    """All of the prompt, cache reads and writes included."""
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    speed: str | None = None
    """The inference speed that served the call (``fast``), else the one it asked for; None: not recorded."""
    cache_miss: str | None = None
    """Why the call's prompt cache missed the previous call's prefix, as the API said; None: it did not say."""
    cache_missed_tokens: int | None = None
    first_content: str | None = None
    """``text`` or ``tool_use``: what the call's first visible content was (ours record it; None elsewhere)."""


def seconds_to_ns(value: object) -> int | None:
    """A non-negative number of seconds as nanoseconds; None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return round(value * 1e9)
    return None


FIRST_CHUNK_IS_FIRST_EVENT: Final = frozenset({semconv.SCOPE_OTEL_GENAI_ANTHROPIC})
"""Instrumentations (by scope) whose ``gen_ai.response.time_to_first_chunk`` runs to the first stream event of
any kind (``message_start``, milliseconds after the request), long before the first token. Not taken as a
time to first token: the call reads "not recorded" rather than booking the wait as generation.
opentelemetry-instrumentation-genai-anthropic: seen in 1.3b0, its newest, and the same stream wrapper in every
release before it; a release that measures the first token would need its version here."""
STREAM_ONLY_WHEN_TRUE: Final = frozenset({semconv.SCOPE_OTEL_GENAI_ANTHROPIC})
"""Instrumentations (by scope) that write ``gen_ai.request.stream`` only on a streamed call: on their spans its
absence means the call did not stream."""
_MEASURED_BEST: Final = {semconv.INSTRUMENTATION_SCOPE: 0, semconv.SCOPE_ANTHROPIC_SDK: 1}
"""Which record of a call measured it best, lowest first: ours (the first token on the raw event stream), the
SDK's own; every other instrumentation after them."""


def measured_rank(scope: str | None) -> int:
    """Where a record written by ``scope`` comes when the records of one call are merged (lower: better)."""
    return _MEASURED_BEST.get(scope or "", len(_MEASURED_BEST))


def streamed(attributes: Mapping[str, Any], scope: str | None = None) -> bool | None:
    """Whether the call streamed: True, False, or None where its instrumentation does not say."""
    if any(attributes.get(k) is True for k in semconv.STREAMING_ATTRIBUTES):
        return True
    if attributes.get(semconv.GEN_AI_REQUEST_STREAM) is False:
        return False
    if scope in STREAM_ONLY_WHEN_TRUE:
        return False
    parameters = attributes.get(semconv.OPENINFERENCE_LLM_INVOCATION_PARAMETERS)
    if isinstance(parameters, str):  # OpenInference: the call's own keyword arguments
        try:
            return json.loads(parameters).get("stream") is True
        except (ValueError, AttributeError):
            return None
    if semconv.ANTHROPIC_REQUEST_ID in attributes:  # the SDK's own span marks every streamed call
        return False
    if semconv.ANATOMY_LLM_API in attributes:  # ours mark every streamed call too
        return False
    return None


def records_enclosing_agent(name: str) -> bool:
    """Whether an agent span is a second record of the agent span above it, not an agent of its own: the
    Claude Code CLI's ``claude_code.interaction`` under the Agent SDK session's ``invoke_agent``."""
    return name == semconv.CLAUDE_CODE_INTERACTION


def llm_facts(attributes: Mapping[str, Any], scope: str | None = None) -> LLMFacts:
    """An LLM span's facts, as its instrumentation (``scope``) means them. A time to the
    first stream event is not taken as a time to first token: the Claude Code CLI's ``ttft_ms``, and
    ``gen_ai.response.time_to_first_chunk`` from the instrumentations of ``FIRST_CHUNK_IS_FIRST_EVENT``."""
    model = _first(attributes, MODEL_ATTRIBUTES)
    tokens = _first(attributes, OUTPUT_TOKEN_ATTRIBUTES)
    prompt = _first(attributes, INPUT_TOKEN_ATTRIBUTES)
    cache_read = attributes.get(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
    if scope == semconv.SCOPE_CLAUDE_CODE and tokens is None:
        tokens, prompt, cache_read = _claude_code_usage(attributes)
    response_id = attributes.get(semconv.GEN_AI_RESPONSE_ID)
    if response_id is not None and response_id == attributes.get(semconv.CLAUDE_CODE_REQUEST_ID):
        response_id = None  # the CLI's request id: another record of the call knows the message id instead
    ttft = seconds_to_ns(attributes.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
    if ttft is not None and scope in FIRST_CHUNK_IS_FIRST_EVENT:
        ttft = None
    return LLMFacts(
        model=model_name(model),
        streamed=True if ttft is not None else streamed(attributes, scope),
        ttft_ns=ttft,
        output_tokens=_count(tokens),
        response_id=str(response_id) if response_id else None,
        thinking_ns=seconds_to_ns(attributes.get(semconv.ANATOMY_LLM_THINKING_TIME)),
        input_tokens=_count(prompt),
        cache_read_tokens=_count(cache_read),
        cache_write_tokens=_count(attributes.get(semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS)),
        speed=_text(attributes.get(semconv.ANATOMY_LLM_SPEED, attributes.get(semconv.ANATOMY_LLM_REQUEST_SPEED))),
        cache_miss=_text(attributes.get(semconv.ANATOMY_LLM_CACHE_MISS_REASON)),
        cache_missed_tokens=_count(attributes.get(semconv.ANATOMY_LLM_CACHE_MISSED_TOKENS)),
        first_content=_text(attributes.get(semconv.ANATOMY_LLM_FIRST_CONTENT)),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _claude_code_usage(attributes: Mapping[str, Any]) -> tuple[int | None, int | None, int | None]:
    """Output, input (the conventions' total: the cache's reads and writes included) and cache-read tokens of a
    Claude Code CLI call that writes only its own usage names (older releases)."""
    output = _count(attributes.get(semconv.CLAUDE_CODE_OUTPUT_TOKENS))
    parts = [
        _count(attributes.get(name))
        for name in (
            semconv.CLAUDE_CODE_INPUT_TOKENS,
            semconv.CLAUDE_CODE_CACHE_READ_TOKENS,
            semconv.CLAUDE_CODE_CACHE_CREATION_TOKENS,
        )
    ]
    prompt = sum(part for part in parts if part is not None) if parts[0] is not None else None
    return output, prompt, parts[1]


def model_name(value: Any) -> str | None:
    """The model an LLM span names, without a label of the client's own: the Claude Code CLI writes
    ``claude-opus-4-7[1m]`` for the model it asked for with a million-token context, and the request named
    ``claude-opus-4-7``."""
    if not value:
        return None
    name = str(value)
    if name.endswith("]") and "[" in name:
        name = name[: name.rindex("[")]
    return name or None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def error_of(status: str, attributes: Mapping[str, Any], events: Iterable[Any]) -> str | None:
    """What a failed span says went wrong, briefly (``KeyError``, ``529``); None for a span that did not fail.

    ``error.type`` (the GenAI conventions, ours), else the type of the exception it recorded, else ``error``.
    """
    if status != "ERROR":
        return None
    kind = attributes.get(semconv.ERROR_TYPE)
    if kind is None:
        kind = next(
            (e.attributes.get(semconv.EXCEPTION_TYPE) for e in events if e.name == semconv.EVENT_EXCEPTION), None
        )
    return str(kind).rsplit(".", 1)[-1] if kind else "error"
