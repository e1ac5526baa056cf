"""``configure()``: the one call that sets agent-anatomy up, wiring the layers together.

It resolves the settings (arguments, then ``OTEL_*``), has the setup layer put the pipeline in place with the
span processors of the layers above it (the fleet view's ``AnatomyMetricsProcessor``), and turns on this
distribution's instrumentations. The lower layers know nothing of the upper ones: this module, at the top of
the package, is where they meet.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, Final

from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.sampling import Sampler

from .anatomy.metrics import AnatomyMetricsProcessor
from .errors import ConfigurationError
from .telemetry import (
    DEFAULT_SHUTDOWN_TIMEOUT_S,
    ExporterArg,
    ProcessorArg,
    Settings,
    SpanRecorder,
    Telemetry,
    configure_pipeline,
    resolve,
)

__all__ = ["configure"]

_INSTRUMENTOR_GROUP: Final = "opentelemetry_instrumentor"
_DISTRIBUTION: Final = "agent-anatomy"

_logger = logging.getLogger(__name__)


def configure(
    service_name: str | None = None,
    exporter: ExporterArg | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    capture_content: bool | None = None,
    sampler: Sampler | str | None = None,
    *,
    sampler_arg: float | None = None,
    headers: Mapping[str, str] | str | None = None,
    resource_attributes: Mapping[str, str | bool | int | float] | None = None,
    metrics: bool | None = None,
    recorder: bool | SpanRecorder = True,
    tracer_provider: SdkTracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    max_queue_size: int | None = None,
    max_export_batch_size: int | None = None,
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
    instrument: bool = True,
    anatomy_metrics: bool | Mapping[str, Any] | None = None,
    span_processors: Sequence[ProcessorArg] = (),
) -> Telemetry:
    """Set up tracing (and GenAI metrics) for agent-anatomy and the application, in one call.

    Arguments left as None come from the ``OTEL_*`` environment, then from the OTel SDK's defaults
    (OTLP over gRPC to localhost:4317). A TracerProvider the application already installed is kept and
    gets our processors; a second call replaces the first one's exporters and processors rather than adding
    to them. With ``instrument=True`` (the default) the anthropic SDK is instrumented too, unless
    ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` lists ``anthropic``. ``anatomy_metrics=True`` (or
    ``AGENT_ANATOMY_METRICS=true``) records each finished trace's anatomy as metrics (the fleet view); a mapping
    gives the processor's options instead (``{"sample_ratio": 0.05}``: ``AnatomyMetricsProcessor``'s keyword
    arguments). ``span_processors`` go after the exporters: processors, or functions that make one given the
    meter provider. ``OTEL_SDK_DISABLED=true`` makes this a no-op that returns a disabled handle. Invalid values
    raise ``ConfigurationError`` (a ``ValueError``) naming the setting and the accepted values.
    """
    settings = resolve(
        service_name=service_name,
        exporter=exporter,
        endpoint=endpoint,
        protocol=protocol,
        capture_content=capture_content,
        sampler=sampler,
        sampler_arg=sampler_arg,
        headers=headers,
        resource_attributes=resource_attributes,
        metrics=metrics,
        max_queue_size=max_queue_size,
        max_export_batch_size=max_export_batch_size,
        instrument=instrument,
        anatomy_metrics=anatomy_metrics,
    )
    processors = list(span_processors)
    if settings.anatomy_metrics is not None:
        processors.append(_anatomy_processor(settings.anatomy_metrics))
    handle = configure_pipeline(
        settings,
        recorder=recorder,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        shutdown_timeout_s=shutdown_timeout_s,
        span_processors=processors,
    )
    _instrument(settings)
    return handle


def _anatomy_processor(options: Mapping[str, Any]) -> ProcessorArg:
    """The fleet view's processor with ``options``, made on the meter provider ``configure()`` settles on;
    options it does not take, or values it refuses, are a ConfigurationError now."""
    try:
        AnatomyMetricsProcessor.check_options(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"anatomy_metrics={dict(options)!r}: {exc}", setting="anatomy_metrics", value=options
        ) from None

    def make(meter_provider: MeterProvider) -> AnatomyMetricsProcessor:
        return AnatomyMetricsProcessor(meter_provider, **options)

    return make


def _instrument(settings: Settings) -> None:
    """Turn on this distribution's instrumentations, found as ``opentelemetry-instrument`` finds them: through
    the ``opentelemetry_instrumentor`` entry point, skipping those the environment disables and those whose
    library is not installed."""
    if not settings.instrument or settings.disabled:
        return
    disabled = {name.strip() for name in os.environ.get(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, "").split(",")}
    for entry_point in entry_points(group=_INSTRUMENTOR_GROUP):
        if entry_point.dist is None or entry_point.dist.name != _DISTRIBUTION or entry_point.name in disabled:
            continue
        try:
            instrumentor = entry_point.load()()
            if instrumentor.is_instrumented_by_opentelemetry:
                continue
            conflict = get_dependency_conflicts(instrumentor.instrumentation_dependencies())
            if conflict is not None:
                if getattr(conflict, "found", None):  # installed, at a version outside the range: say so
                    _logger.warning(
                        "agent-anatomy: %s is installed; agent-anatomy instruments %s: its calls are not traced",
                        conflict.found,
                        conflict.required,
                    )
                else:  # not installed: nothing to instrument
                    _logger.debug("agent-anatomy: not instrumenting %s: %s", entry_point.name, conflict)
                continue
            instrumentor.instrument()
        except Exception:
            _logger.warning(
                "agent-anatomy: could not instrument %s; tracing goes on without it", entry_point.name, exc_info=True
            )
