"""What a span of each kind looks like, fixed before it starts: its name, kind and attributes, in one place each.

A ``SpanSpec`` is built once (when a function is decorated, when a tool is registered with an executor, when
an agent loop starts) by the one builder of its kind — ``tool_spec``, ``agent_spec``, ``workflow_spec``,
``step_spec`` — and started any number of times by the telemetry handler's ``start_*`` method of that kind.
Callers pass facts (a tool's name, its options); a call's own facts (its id, its input) go to ``start_*``.
Data only: nothing here starts a span.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from .. import semconv

__all__ = [
    "NO_INPUT",
    "SpanSpec",
    "ToolSpanOptions",
    "agent_spec",
    "cache_lookup_spec",
    "permission_spec",
    "step_spec",
    "tool_spec",
    "workflow_spec",
]

NO_INPUT: Final = object()
"""``start_*``'s ``raw_input`` for a span that records no input at all (an agent loop, a session)."""

_OTHER_CONTENT: Final = (semconv.ANATOMY_INPUT, semconv.ANATOMY_OUTPUT)
"""Where agents, workflows and steps record their input and output (tools have the conventions' own keys)."""


@dataclass(frozen=True, slots=True)
class SpanSpec:
    """What a traced function's (or a tool call's, an agent run's) spans look like."""

    name: str
    kind: SpanKind
    attributes: Mapping[str, AttributeValue]
    input_key: str
    output_key: str | None
    """None: the span records no output (a cache lookup's)."""
    record_args: bool | None = None
    """True: always record the input; False: never; None: when content capture is on."""
    record_result: bool | None = None
    signature: inspect.Signature | None = None
    """The function's, to record its arguments by name."""
    agent_name: str | None = None
    """Set on an agent's spec: the name its tools' spans carry as ``gen_ai.agent.name``."""


@dataclass(frozen=True, slots=True)
class ToolSpanOptions:
    """The options of ``@tool`` that shape its span; they hold wherever the tool runs."""

    tool_type: str = "function"
    record_args: bool | None = None
    """True: always record the arguments; False: never (even with content capture on); None: with capture."""
    record_result: bool | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)


DEFAULT_TOOL_OPTIONS: Final = ToolSpanOptions()


def tool_spec(
    name: str,
    *,
    description: str | None = None,
    side_effects: bool = False,
    options: ToolSpanOptions = DEFAULT_TOOL_OPTIONS,
    signature: inspect.Signature | None = None,
) -> SpanSpec:
    """The one definition of an ``execute_tool {name}`` span, whoever runs the tool: ``@tool``, an executor,
    an MCP client, a Claude Agent SDK session."""
    attributes: dict[str, AttributeValue] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_EXECUTE_TOOL,
        semconv.GEN_AI_TOOL_NAME: name,
        semconv.GEN_AI_TOOL_TYPE: options.tool_type,
    }
    if description:
        attributes[semconv.GEN_AI_TOOL_DESCRIPTION] = description
    if side_effects:
        attributes[semconv.ANATOMY_TOOL_SIDE_EFFECTS] = True
    attributes.update(options.attributes)
    return SpanSpec(
        name=semconv.span_name(semconv.OPERATION_EXECUTE_TOOL, name),
        kind=SpanKind.INTERNAL,
        attributes=attributes,
        input_key=semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
        output_key=semconv.GEN_AI_TOOL_CALL_RESULT,
        record_args=options.record_args,
        record_result=options.record_result,
        signature=signature,
    )


def _code_spec(
    operation: str,
    name: str,
    attributes: dict[str, AttributeValue],
    description: tuple[str, str | None],
    extra: Mapping[str, AttributeValue] | None,
    signature: inspect.Signature | None,
    record_args: bool | None,
    record_result: bool | None,
    agent_name: str | None = None,
) -> SpanSpec:
    """The spec of an agent's, a workflow's or a step's span: ``attributes``, then its description under the
    key ``description`` names (when it has one), then the caller's own; content as ``anatomy.input`` /
    ``anatomy.output``."""
    key, text = description
    if text:
        attributes[key] = text
    attributes.update(extra or {})
    return SpanSpec(
        name=semconv.span_name(operation, name),
        kind=SpanKind.INTERNAL,
        attributes=attributes,
        input_key=_OTHER_CONTENT[0],
        output_key=_OTHER_CONTENT[1],
        record_args=record_args,
        record_result=record_result,
        signature=signature,
        agent_name=agent_name,
    )


def agent_spec(
    name: str,
    *,
    provider: str,
    description: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    signature: inspect.Signature | None = None,
    record_args: bool | None = None,
    record_result: bool | None = None,
) -> SpanSpec:
    """The one definition of an ``invoke_agent {name}`` span (in-process, INTERNAL): ``@agent``, ``run_agent``,
    a Claude Agent SDK session and its subagents. The tools below it carry its name."""
    own: dict[str, AttributeValue] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_INVOKE_AGENT,
        semconv.GEN_AI_AGENT_NAME: name,
        semconv.GEN_AI_PROVIDER_NAME: provider,
    }
    described = (semconv.GEN_AI_AGENT_DESCRIPTION, description)
    operation = semconv.OPERATION_INVOKE_AGENT
    return _code_spec(operation, name, own, described, attributes, signature, record_args, record_result, name)


def workflow_spec(
    name: str,
    *,
    description: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    signature: inspect.Signature | None = None,
    record_args: bool | None = None,
    record_result: bool | None = None,
) -> SpanSpec:
    """The one definition of an ``invoke_workflow {name}`` span."""
    own: dict[str, AttributeValue] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_INVOKE_WORKFLOW,
        semconv.GEN_AI_WORKFLOW_NAME: name,
    }
    described = (semconv.ANATOMY_DESCRIPTION, description)
    operation = semconv.OPERATION_INVOKE_WORKFLOW
    return _code_spec(operation, name, own, described, attributes, signature, record_args, record_result)


def step_spec(
    name: str,
    *,
    step_type: str | None = None,
    description: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    signature: inspect.Signature | None = None,
    record_args: bool | None = None,
    record_result: bool | None = None,
) -> SpanSpec:
    """The one definition of a ``step {name}`` span. Steps are not a GenAI operation: no ``gen_ai.operation.name``."""
    own: dict[str, AttributeValue] = {semconv.ANATOMY_STEP_NAME: name}
    if step_type:
        own[semconv.ANATOMY_STEP_TYPE] = step_type
    described = (semconv.ANATOMY_DESCRIPTION, description)
    return _code_spec(semconv.OPERATION_STEP, name, own, described, attributes, signature, record_args, record_result)


def permission_spec(tool_name: str) -> SpanSpec:
    """The one definition of a ``check_permission {tool}`` span: a permission callback deciding whether a tool
    may run (its inputs and decision are content: recorded only with content capture)."""
    own: dict[str, AttributeValue] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_PERMISSION,
        semconv.GEN_AI_TOOL_NAME: tool_name,
    }
    return _code_spec(semconv.OPERATION_PERMISSION, tool_name, own, ("", None), None, None, None, None)


def cache_lookup_spec(name: str, *, function: str, backend: str, ttl_s: float) -> SpanSpec:
    """The one definition of a ``cache_lookup {name}`` span of a cached ``function`` (its qualified name and
    version); its input, recorded with content capture only, is the cache key's text."""
    return SpanSpec(
        name=semconv.span_name(semconv.OPERATION_CACHE_LOOKUP, name),
        kind=SpanKind.INTERNAL,
        attributes={
            semconv.ANATOMY_CACHE_FUNCTION: function,
            semconv.ANATOMY_CACHE_BACKEND: backend,
            semconv.ANATOMY_CACHE_TTL: ttl_s,
        },
        input_key=semconv.ANATOMY_CACHE_KEY,
        output_key=None,
    )
