"""``TelemetryHandler``: the tracing layer's one handle on telemetry, and the one place spans start.

It owns the tracer, the meter's instruments and the content decision (as opentelemetry-util-genai's
``TelemetryHandler`` does), with one ``start_*`` per span kind, and is passed down: the invocation types
receive what they need from it rather than looking anything up. A handler is resolved once, at a public
edge — when a decorator is applied, a lever is built, ``instrument()`` runs, ``span()`` is called — and
held. ``default_handler()`` is the process's: built on the installation every ``configure()`` rebinds, so
it follows configuration without a lookup per span. ``for_instrumentor()`` gives an instrumentor the
process's handler, or one on the providers its ``instrument()`` was given.
"""

from __future__ import annotations

import timeit
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar

from opentelemetry.context import Context
from opentelemetry.metrics import Meter, MeterProvider
from opentelemetry.trace import Span, SpanKind, Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ..telemetry import Installation, installation
from ._content import arguments_json, value_json
from ._instruments import DurationTimer, Instruments, InvocationInstruments
from ._invocation import FunctionCall, Invocation
from ._llm_call import LLMInvocation, api_call_context
from .ambient import with_agent, with_ambient
from .specs import NO_INPUT, SpanSpec

__all__ = ["BOUND_ARGUMENTS", "TelemetryHandler", "default_handler"]

BOUND_ARGUMENTS: Final = object()
"""``start_*``'s default ``raw_input``: record the call's arguments, bound to the function's signature."""
_BATCH_SPAN: Final = semconv.span_name(semconv.OPERATION_TOOL_BATCH, None)
_I = TypeVar("_I", bound=Invocation)


class TelemetryHandler:
    """Tracer, instruments and content decision of one installation; its ``start_*`` methods start every span.

    What it reads from the installation it keeps, until the installation says it was rebound: a span reads
    plain attributes, never the installation's settings again.
    """

    __slots__ = (
        "__weakref__",
        "_capture",
        "_fresh",
        "_instruments",
        "_invocation_instruments",
        "_latest",
        "_meter",
        "_setup",
        "_tracer",
    )

    def __init__(self, setup: Installation) -> None:
        self._setup = setup
        self._fresh = False
        self._instruments: Instruments | None = None
        self._invocation_instruments: InvocationInstruments | None = None
        setup.watch(self)

    @classmethod
    def on_providers(
        cls,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        *,
        capture_content: bool | None = None,
    ) -> TelemetryHandler:
        """A handler with these providers and content setting; what is not given follows ``configure()`` (the
        process's handler when nothing is)."""
        if tracer_provider is None and meter_provider is None and capture_content is None:
            return default_handler()
        setup = installation().derived(
            tracer_provider=tracer_provider, meter_provider=meter_provider, capture_content=capture_content
        )
        return cls(setup)

    @classmethod
    def for_instrumentor(cls, options: Mapping[str, Any]) -> TelemetryHandler:
        """The handler of an instrumentor, from ``instrument()``'s keyword arguments (``tracer_provider``,
        ``meter_provider``, ``capture_content``)."""
        return cls.on_providers(
            options.get("tracer_provider"),
            options.get("meter_provider"),
            capture_content=options.get("capture_content"),
        )

    def installation_changed(self) -> None:
        """Its installation was rebound (a ``configure()``): read it again before the next span."""
        self._fresh = False

    def _refresh(self) -> None:
        setup = self._setup
        self._tracer: Tracer = setup.tracer
        self._meter: Meter = setup.meter
        self._capture: bool = setup.capture_content
        self._latest: bool = setup.genai_latest
        if self._instruments is not None and (
            self._instruments.meter is not self._meter or self._instruments.latest != self._latest
        ):
            self._instruments = self._invocation_instruments = None
        self._fresh = True

    # --- what it decides ---------------------------------------------------------------------------------

    @property
    def tracer(self) -> Tracer:
        if not self._fresh:
            self._refresh()
        return self._tracer

    @property
    def meter(self) -> Meter:
        if not self._fresh:
            self._refresh()
        return self._meter

    @property
    def capture_content(self) -> bool:
        """Whether prompts, completions, tool arguments and results may be written to spans."""
        if not self._fresh:
            self._refresh()
        return self._capture

    @property
    def latest(self) -> bool:
        """Whether metrics follow the newest GenAI conventions (``OTEL_SEMCONV_STABILITY_OPT_IN``)."""
        if not self._fresh:
            self._refresh()
        return self._latest

    @property
    def instruments(self) -> Instruments:
        """The LLM call metrics on the installation's meter, created on first use (again after a ``configure()``
        that installed another meter)."""
        if not self._fresh:
            self._refresh()
        instruments = self._instruments
        if instruments is None:
            instruments = self._instruments = Instruments(self._meter, self._latest)
        return instruments

    def records(self, setting: bool | None) -> bool:
        """Whether to record content, given a per-tool or per-call ``setting`` (None: the handler's decision)."""
        return self.capture_content if setting is None else setting

    def timer(self, attributes: Mapping[str, AttributeValue] | None) -> DurationTimer | None:
        """The duration metric of an agent, tool or workflow span, started now (newest conventions only)."""
        if not attributes or not self.latest:
            return None
        instruments = self._invocation_instruments
        if instruments is None:
            instruments = self._invocation_instruments = InvocationInstruments(self._meter)
        return instruments.timer(attributes)

    # --- spans of any kind ------------------------------------------------------------------------------

    def start_span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, AttributeValue] | None = None,
        context: Context | None = None,
        start_time: int | None = None,
    ) -> Span:
        """Start a span with the ambient attributes (conversation, agent) its kind takes: every span starts here."""
        return self.tracer.start_span(
            name,
            context=context,
            kind=kind,
            attributes=with_ambient(attributes or {}, context),
            start_time=start_time,
        )

    def start(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, AttributeValue] | None = None,
        parent: Context | None = None,
        attach_now: bool = True,
    ) -> Invocation:
        """Start a span of no particular kind as an Invocation (``span()``'s): current now unless ``attach_now``
        is false, timing its duration metric when its operation has one."""
        return self._start(Invocation, name, kind, attributes, parent, attach_now)

    def _start(
        self,
        invocation: type[_I],
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue] | None,
        parent: Context | None,
        attach_now: bool,
    ) -> _I:
        start_attributes = with_ambient(attributes or {}, parent)
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=start_attributes)
        return invocation(span, parent, attach_now=attach_now, timer=self.timer(start_attributes))

    # --- the function kinds: tool, agent, workflow, step ---------------------------------------------------

    def start_tool(
        self,
        spec: SpanSpec,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        raw_input: object = BOUND_ARGUMENTS,
        call_id: str | None = None,
        input_hash: str | None = None,
        attach_now: bool = True,
    ) -> FunctionCall:
        """An ``execute_tool`` span (``tool_spec``'s), with the call's id and input hash when it has them.

        ``raw_input``, when given, is recorded as it is (the input the model sent) instead of ``args`` and
        ``kwargs`` bound to the tool's signature.
        """
        attributes: dict[str, AttributeValue] | None = None
        if call_id is not None or input_hash is not None:
            attributes = {}
            if call_id is not None:
                attributes[semconv.GEN_AI_TOOL_CALL_ID] = call_id
            if input_hash is not None:
                attributes[semconv.ANATOMY_TOOL_INPUT_HASH] = input_hash
        return self._start_function(spec, args, kwargs, raw_input, attributes, None, attach_now)

    def start_agent(
        self,
        spec: SpanSpec,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        raw_input: object = BOUND_ARGUMENTS,
        parent: Context | None = None,
        attach_now: bool = True,
    ) -> FunctionCall:
        """An ``invoke_agent`` span (``agent_spec``'s), under ``parent`` (None: the current context); the spans
        of its tools carry its name."""
        return self._start_function(spec, args, kwargs, raw_input, None, parent, attach_now)

    def start_workflow(
        self,
        spec: SpanSpec,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        attach_now: bool = True,
    ) -> FunctionCall:
        """An ``invoke_workflow`` span (``workflow_spec``'s)."""
        return self._start_function(spec, args, kwargs, BOUND_ARGUMENTS, None, None, attach_now)

    def start_step(
        self,
        spec: SpanSpec,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        attach_now: bool = True,
    ) -> FunctionCall:
        """A ``step`` span (``step_spec``'s)."""
        return self._start_function(spec, args, kwargs, BOUND_ARGUMENTS, None, None, attach_now)

    def start_permission(
        self, spec: SpanSpec, raw_input: object = NO_INPUT, *, parent: Context | None = None
    ) -> FunctionCall:
        """A ``check_permission`` span (``permission_spec``'s) under ``parent``: a permission callback's run."""
        return self._start_function(spec, (), None, raw_input, None, parent, False)

    def _start_function(
        self,
        spec: SpanSpec,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any] | None,
        raw_input: object,
        attributes: Mapping[str, AttributeValue] | None,
        parent: Context | None,
        attach_now: bool,
    ) -> FunctionCall:
        """Start the span of one call of ``spec``, recording its input if allowed; its output is recorded when it
        returns, if allowed."""
        if spec.agent_name:
            parent = with_agent(spec.agent_name, parent)
        call = self._start(
            FunctionCall,
            spec.name,
            spec.kind,
            {**spec.attributes, **attributes} if attributes else spec.attributes,
            parent,
            attach_now,
        )
        span = call.span
        if raw_input is not NO_INPUT and self.records(spec.record_args) and span.is_recording():
            recorded = (
                arguments_json(spec.signature, args, kwargs or {})
                if raw_input is BOUND_ARGUMENTS
                else value_json(raw_input)
            )
            span.set_attribute(spec.input_key, recorded)
        call.output_key = spec.output_key if self.records(spec.record_result) else None
        return call

    # --- the calls an agent makes ----------------------------------------------------------------------

    def start_llm_call(
        self,
        attributes: Mapping[str, AttributeValue],
        *,
        stream: bool,
        started: tuple[float, int] | None = None,
        parent: Context | None = None,
    ) -> LLMInvocation:
        """A ``chat {model}`` CLIENT span, whoever saw the call (the SDK's wrappers, a Claude Agent SDK session).

        ``started``: when the call began, as (``timeit.default_timer()``, ``time.time_ns()``), for a call seen
        only once it is under way; None: now. ``parent``: the context to start it in (None: the current one).
        """
        start = timeit.default_timer() if started is None else started[0]
        model = attributes.get(semconv.GEN_AI_REQUEST_MODEL)
        span = self.start_span(
            semconv.span_name(semconv.OPERATION_CHAT, model if isinstance(model, str) else None),
            kind=SpanKind.CLIENT,
            attributes=attributes,
            context=parent,
            start_time=None if started is None else started[1],
        )
        return LLMInvocation(
            span,
            self.instruments,
            start=start,
            metric_attributes=attributes,
            capture=self.capture_content,
            stream=stream,
        )

    def start_api_request(
        self, operation: str, attributes: Mapping[str, AttributeValue], invocation: type[Invocation] = Invocation
    ) -> Invocation:
        """The cheap CLIENT span of an API request that is not a model call (``count_tokens``, batches, models),
        current while the SDK's code runs under it."""
        model = attributes.get(semconv.GEN_AI_REQUEST_MODEL)
        span = self.start_span(
            semconv.span_name(operation, model if isinstance(model, str) else None),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        return invocation(span, api_call_context(span))

    # --- the levers' spans ------------------------------------------------------------------------------

    def start_tool_batch(self, *, attach_now: bool = True) -> Invocation:
        """A ``tool_batch`` span over one model turn's tool calls (the executor's); current now unless
        ``attach_now`` is false (a batch started while the turn's answer still streams)."""
        return self.start(_BATCH_SPAN, attach_now=attach_now)

    def start_route(self, step: str, alternatives: Sequence[str]) -> Invocation:
        """A ``route {step}`` span over one routed call and its attempts (the model router's)."""
        attributes: dict[str, AttributeValue] = {
            semconv.ANATOMY_ROUTE_STEP: step,
            semconv.ANATOMY_ROUTE_ALTERNATIVES: list(alternatives),
        }
        return self.start(semconv.span_name(semconv.OPERATION_ROUTE, step), attributes=attributes)

    def record_cache_lookup(
        self,
        spec: SpanSpec,
        outcome: Mapping[str, AttributeValue],
        *,
        key: str,
        key_hash: str,
        started_ns: int,
    ) -> None:
        """A ``cache_lookup`` span (``cache_lookup_spec``'s) made whole at once, a lookup having no children: from
        ``started_ns`` to now, with the key's hash and the lookup's ``outcome`` (hit or miss, age, time saved...),
        and the key's text when content capture is on."""
        attributes = {**spec.attributes, semconv.ANATOMY_CACHE_KEY_HASH: key_hash, **outcome}
        if self.capture_content:
            attributes[spec.input_key] = key
        self.start_span(spec.name, start_time=started_ns, attributes=attributes).end()


_default: Final = TelemetryHandler(installation())


def default_handler() -> TelemetryHandler:
    """The process's handler, which follows every ``configure()``: resolve it at a public edge and hold it."""
    return _default
