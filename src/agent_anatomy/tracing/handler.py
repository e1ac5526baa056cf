"""``TelemetryHandler``: the tracing layer's one handle on telemetry, and the one place spans start.

It owns the tracer, the meter's instruments and the content decision (as opentelemetry-util-genai's
``TelemetryHandler`` does) and is passed down: the invocation types receive what they need from it rather
than looking anything up. ``get_handler()`` gives the handler of the installation ``configure()`` put in
force, built once per installation; ``AnthropicInstrumentor.instrument(tracer_provider=...)`` builds its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import Meter, MeterProvider
from opentelemetry.trace import Span, SpanKind, Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ..telemetry import Installation, installation
from ..version import __version__
from ._instruments import DurationTimer, Instruments, InvocationInstruments
from ._invocation import Invocation
from .ambient import with_agent, with_ambient

__all__ = ["InstrumentorHandler", "TelemetryHandler", "get_handler"]


class TelemetryHandler:
    """Tracer, instruments and content decision, fixed when built; ``start_span`` / ``start`` start every span."""

    __slots__ = ("_instruments", "_invocation_instruments", "capture_content", "latest", "meter", "tracer")

    def __init__(self, tracer: Tracer, meter: Meter, *, capture_content: bool, latest: bool) -> None:
        self.tracer = tracer
        self.meter = meter
        self.capture_content = capture_content
        """Whether prompts, completions, tool arguments and results may be written to spans."""
        self.latest = latest
        """Whether metrics follow the newest GenAI conventions (``OTEL_SEMCONV_STABILITY_OPT_IN``)."""
        self._instruments: Instruments | None = None
        self._invocation_instruments: InvocationInstruments | None = None

    @classmethod
    def from_installation(cls, setup: Installation) -> TelemetryHandler:
        return cls(setup.tracer, setup.meter, capture_content=setup.capture_content, latest=setup.genai_latest)

    @classmethod
    def from_providers(
        cls,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        capture_content: bool | None,
        fallback: TelemetryHandler,
    ) -> TelemetryHandler:
        """A handler on these providers, taking what is not given from ``fallback``."""
        scope = semconv.INSTRUMENTATION_SCOPE
        return cls(
            tracer_provider.get_tracer(scope, __version__) if tracer_provider else fallback.tracer,
            meter_provider.get_meter(scope, __version__) if meter_provider else fallback.meter,
            capture_content=fallback.capture_content if capture_content is None else capture_content,
            latest=fallback.latest,
        )

    @property
    def instruments(self) -> Instruments:
        """The LLM call metrics, created on first use."""
        instruments = self._instruments
        if instruments is None:
            instruments = self._instruments = Instruments(self.meter, self.latest)
        return instruments

    def records(self, setting: bool | None) -> bool:
        """Whether to record content, given a per-tool or per-call ``setting`` (None: the handler's decision)."""
        return self.capture_content if setting is None else setting

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
        invocation: type[Invocation] = Invocation,
    ) -> Invocation:
        """Start a span as an ``invocation`` (current now unless ``attach_now`` is false), timing its duration
        metric when its operation has one."""
        start_attributes = with_ambient(attributes or {}, parent)
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=start_attributes)
        return invocation(span, parent, attach_now=attach_now, timer=self.timer(start_attributes))

    def start_agent(
        self,
        name: str,
        *,
        provider: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        parent: Context | None = None,
        attach_now: bool = True,
    ) -> Invocation:
        """Start an ``invoke_agent {name}`` span (operation, agent name, provider, then ``attributes``), under
        which the spans of the agent's tools carry its name: the agent loops' and sessions' one builder."""
        agent_attributes: dict[str, AttributeValue] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_INVOKE_AGENT,
            semconv.GEN_AI_AGENT_NAME: name,
            semconv.GEN_AI_PROVIDER_NAME: provider,
            **(attributes or {}),
        }
        return self.start(
            semconv.span_name(semconv.OPERATION_INVOKE_AGENT, name),
            attributes=agent_attributes,
            parent=with_agent(name, parent),
            attach_now=attach_now,
        )

    def timer(self, attributes: Mapping[str, AttributeValue] | None) -> DurationTimer | None:
        """The duration metric of an agent, tool or workflow span, started now (newest conventions only)."""
        if not self.latest or not attributes:
            return None
        instruments = self._invocation_instruments
        if instruments is None:
            instruments = self._invocation_instruments = InvocationInstruments(self.meter)
        return instruments.timer(attributes)


_current: tuple[Installation, TelemetryHandler] | None = None


def get_handler() -> TelemetryHandler:
    """The handler of the installation in force, built once per ``configure()``."""
    global _current
    setup = installation()
    current = _current
    if current is not None and current[0] is setup:
        return current[1]
    handler = TelemetryHandler.from_installation(setup)
    _current = (setup, handler)
    return handler


class InstrumentorHandler:
    """The handler an instrumentor starts its spans with: the configured one, or one on the providers its
    ``instrument()`` was given (the rest taken from the configured one), built once per ``configure()``."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        capture_content: bool | None,
    ) -> None:
        given = (tracer_provider, meter_provider, capture_content)
        self._given = given if any(value is not None for value in given) else None
        self._own: tuple[TelemetryHandler, TelemetryHandler] | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> InstrumentorHandler:
        """From ``instrument()``'s keyword arguments (``tracer_provider``, ``meter_provider``, ``capture_content``)."""
        return cls(options.get("tracer_provider"), options.get("meter_provider"), options.get("capture_content"))

    def __call__(self) -> TelemetryHandler:
        handler = get_handler()
        if self._given is None:
            return handler
        own = self._own
        if own is None or own[0] is not handler:
            own = self._own = (handler, TelemetryHandler.from_providers(*self._given, fallback=handler))
        return own[1]
