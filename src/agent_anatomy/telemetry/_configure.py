"""``configure()``: providers, exporters and the recorder in one call, and the handle it returns."""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Mapping
from importlib.metadata import entry_points
from types import TracebackType
from typing import Final

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, TracerProvider

from ..errors import ConfigurationError
from . import _runtime
from ._exporters import build_metric_readers, build_span_pipeline, endpoint_watches
from ._pipeline import (
    AnatomySpanProcessor,
    BackgroundJob,
    GuardedExporter,
    processor_for,
    reserve_exit_threads,
    run_bounded,
    shutdown_pipeline,
)
from ._settings import ExporterArg, Settings, resolve
from .extensions import ANATOMY_METRICS, registered_processor
from .recorder import SpanRecorder

_INSTRUMENTOR_GROUP: Final = "opentelemetry_instrumentor"
_DISTRIBUTION: Final = "agent-anatomy"

__all__ = ["Telemetry", "active_telemetry", "configure"]

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_active: Telemetry | None = None
_owned_tracer_provider: SdkTracerProvider | None = None
_atexit_registered = False

DEFAULT_SHUTDOWN_TIMEOUT_S = 5.0


class Telemetry:
    """What ``configure()`` installed, with bounded ``force_flush()`` and ``shutdown()``.

    Usable as a context manager: ``with configure(...):`` shuts down on exit. Never raises from flush
    or shutdown; both return False when they ran out of time or an exporter failed.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        processor: AnatomySpanProcessor | None = None,
        recorder: SpanRecorder | None = None,
        memory_exporter: InMemorySpanExporter | None = None,
        metric_reader: InMemoryMetricReader | None = None,
        owned_meter_provider: SdkMeterProvider | None = None,
        shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.recorder = recorder
        self.memory_exporter = memory_exporter
        """The in-memory exporter when ``"memory"`` was among the exporters, for tests."""
        self.metric_reader = metric_reader
        """The in-memory metric reader when ``"memory"`` was among the exporters, for tests."""
        self.shutdown_timeout_s = shutdown_timeout_s
        self._processor = processor
        self._owned_meter_provider = owned_meter_provider
        self._shut_down = False

    @property
    def enabled(self) -> bool:
        """False when ``OTEL_SDK_DISABLED`` turned telemetry off."""
        return not self.settings.disabled

    @property
    def capture_content(self) -> bool:
        return self.settings.capture_content

    def finished_spans(self) -> list[object]:
        """Spans the memory exporter holds; ConfigurationError if ``"memory"`` was not configured."""
        if self.memory_exporter is None:
            raise ConfigurationError(
                "finished_spans() needs the memory exporter: configure(exporter='memory')",
                setting="exporter",
                value=[spec.kind for spec in self.settings.exporters],
            )
        return list(self.memory_exporter.get_finished_spans())

    def force_flush(self, timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S) -> bool:
        """Export what is buffered; returns within ``timeout_s`` even with a dead endpoint."""
        ok = True
        if self._processor is not None:
            ok = self._processor.force_flush(int(timeout_s * 1000))
        if self._owned_meter_provider is not None:
            provider = self._owned_meter_provider
            ok = run_bounded(lambda: provider.force_flush(int(timeout_s * 1000)), timeout_s, "metric flush") and ok
        return ok

    def shutdown(self, timeout_s: float | None = None) -> bool:
        """Flush and stop the exporters this handle installed, within ``timeout_s``. Idempotent."""
        timeout = self.shutdown_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        with _lock:
            if self._shut_down:
                return True
            self._shut_down = True
            old = self._processor.replace((), ()) if self._processor is not None else ((), ())
        metric_job = None
        if self._owned_meter_provider is not None:
            provider = self._owned_meter_provider
            metric_job = BackgroundJob(lambda: provider.shutdown(int(timeout * 1000)), "metric shutdown")
        ok = shutdown_pipeline(*old, timeout)
        if metric_job is not None:
            ok = metric_job.wait(deadline - time.monotonic()) and ok
        return ok

    def _retire(self, processors: tuple[SpanProcessor, ...], exporters: tuple[GuardedExporter, ...]) -> None:
        """Shut down a replaced pipeline in the background, so re-configuring never blocks on a dead exporter."""
        self._shut_down = True
        provider = self._owned_meter_provider
        timeout = self.shutdown_timeout_s

        def retire() -> None:
            shutdown_pipeline(processors, exporters, timeout)
            if provider is not None:
                run_bounded(lambda: provider.shutdown(int(timeout * 1000)), timeout, "metric shutdown")

        BackgroundJob(retire, "retire previous configuration")

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        kinds = ",".join(spec.kind for spec in self.settings.exporters) or "none"
        state = "disabled" if self.settings.disabled else ("shut down" if self._shut_down else "active")
        return f"<Telemetry {state} exporters={kinds} capture_content={self.settings.capture_content}>"


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
    anatomy_metrics: bool | None = None,
) -> Telemetry:
    """Set up tracing (and GenAI metrics) for agent-anatomy and the application, in one call.

    Arguments left as None come from the ``OTEL_*`` environment, then from the OTel SDK's defaults
    (OTLP over gRPC to localhost:4317). A TracerProvider the application already installed is kept and
    gets our processors; a second call replaces the first one's exporters rather than adding to them.
    With ``instrument=True`` (the default) the anthropic SDK is instrumented too, unless
    ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` lists ``anthropic``. ``anatomy_metrics=True`` (or
    ``AGENT_ANATOMY_METRICS=true``) records each finished trace's anatomy as metrics (the fleet view).
    ``OTEL_SDK_DISABLED=true`` makes this a no-op that returns a disabled handle. Invalid values raise
    ``ConfigurationError`` (a ``ValueError``) naming the setting and the accepted values.
    """
    global _active
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
    if tracer_provider is not None and not isinstance(tracer_provider, SdkTracerProvider):
        raise ConfigurationError(
            f"tracer_provider must be an opentelemetry.sdk.trace.TracerProvider, got {type(tracer_provider).__name__}",
            setting="tracer_provider",
            value=tracer_provider,
        )
    with _lock:
        previous = _active
        if settings.disabled:
            handle = _disabled_handle(settings, shutdown_timeout_s)
            retired: tuple[tuple[SpanProcessor, ...], tuple[GuardedExporter, ...]] = ((), ())
        else:
            handle, retired = _enabled_handle(settings, recorder, tracer_provider, meter_provider, shutdown_timeout_s)
        if previous is not None and not previous._shut_down:
            if previous._processor is not None and previous._processor is not handle._processor:
                retired = previous._processor.replace((), ())
            previous._retire(*retired)
        _active = handle
        _register_atexit()
    _instrument(settings)
    return handle


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
                _logger.debug("agent-anatomy: not instrumenting %s: %s", entry_point.name, conflict)
                continue
            instrumentor.instrument()
        except Exception:
            _logger.warning(
                "agent-anatomy: could not instrument %s; tracing goes on without it", entry_point.name, exc_info=True
            )


def _disabled_handle(settings: Settings, shutdown_timeout_s: float) -> Telemetry:
    _runtime.install(
        tracer_provider=NoOpTracerProvider(),
        meter_provider=NoOpMeterProvider(),
        recorder=None,
        capture_content=False,
    )
    return Telemetry(
        settings,
        tracer_provider=NoOpTracerProvider(),
        meter_provider=NoOpMeterProvider(),
        shutdown_timeout_s=shutdown_timeout_s,
    )


def _enabled_handle(
    settings: Settings,
    recorder_arg: bool | SpanRecorder,
    tracer_provider: SdkTracerProvider | None,
    meter_provider: MeterProvider | None,
    shutdown_timeout_s: float,
) -> tuple[Telemetry, tuple[tuple[SpanProcessor, ...], tuple[GuardedExporter, ...]]]:
    recorder = recorder_arg if isinstance(recorder_arg, SpanRecorder) else (SpanRecorder() if recorder_arg else None)
    resource = _resource(settings)
    if tracer_provider is not None:
        _warn_if_resource_ignored(settings, "the tracer_provider given to configure() keeps its own")
    provider = tracer_provider or _global_tracer_provider(settings, resource)
    if tracer_provider is None and provider is not _owned_tracer_provider and not settings.exporters_explicit:
        # The application's provider (opentelemetry-instrument's, say) exports already, by the same
        # OTEL_* variables; exporting again from them would send every span twice.
        _logger.info(
            "agent-anatomy: the application's TracerProvider exports its spans; agent-anatomy adds its "
            "recorder only (pass exporter= to configure() to export from agent-anatomy as well)"
        )
        settings = dataclasses.replace(settings, exporters=())
    watches = endpoint_watches(settings)
    for watch in set(watches.values()):
        watch.check_in_background()
    pipeline = build_span_pipeline(settings, recorder, watches)
    owned_meter_provider: SdkMeterProvider | None = None
    memory_reader: InMemoryMetricReader | None = None
    if meter_provider is None:
        meter_provider = metrics.get_meter_provider()
        # Readers only for a provider of our own: an application's SDK MeterProvider takes none after it is
        # made, and a reader never registered would start its export thread and warn on every collect.
        if not isinstance(meter_provider, SdkMeterProvider):
            readers, memory_reader = build_metric_readers(settings, watches)
            if readers:
                owned_meter_provider = SdkMeterProvider(
                    metric_readers=readers, resource=resource, shutdown_on_exit=False
                )
                if _is_unset(meter_provider):
                    metrics.set_meter_provider(owned_meter_provider)
                meter_provider = owned_meter_provider

    if settings.anatomy_metrics:  # it records on the meter provider: made once that is known
        pipeline.processors.append(registered_processor(ANATOMY_METRICS)(meter_provider))
    processor = processor_for(provider)
    processor.shutdown_timeout_s = shutdown_timeout_s
    retired = processor.replace(pipeline.processors, pipeline.exporters)

    _runtime.install(
        tracer_provider=provider,
        meter_provider=meter_provider,
        recorder=recorder,
        capture_content=settings.capture_content,
    )
    handle = Telemetry(
        settings,
        tracer_provider=provider,
        meter_provider=meter_provider,
        processor=processor,
        recorder=recorder,
        memory_exporter=pipeline.memory_exporter,
        metric_reader=memory_reader,
        owned_meter_provider=owned_meter_provider,
        shutdown_timeout_s=shutdown_timeout_s,
    )
    return handle, retired


def _resource(settings: Settings) -> Resource:
    attributes = dict(settings.resource_attributes)
    if settings.service_name:
        attributes[SERVICE_NAME] = settings.service_name
    return Resource.create(attributes)


def _is_unset(meter_provider: MeterProvider) -> bool:
    """True for the metrics API's placeholder, which stands in until the application sets a provider."""
    # The API exports no name for its proxy class, so it is recognised by its class name.
    return type(meter_provider).__name__ == "_ProxyMeterProvider"


def _global_tracer_provider(settings: Settings, resource: Resource) -> SdkTracerProvider:
    """The application's SDK provider if it set one, else ours (created once and made global)."""
    global _owned_tracer_provider
    current = trace.get_tracer_provider()
    if isinstance(current, SdkTracerProvider):
        if current is not _owned_tracer_provider:
            _warn_if_resource_ignored(settings, "the application already set a TracerProvider; it keeps its own")
        elif current is _owned_tracer_provider and current.resource.attributes != resource.attributes:
            _logger.warning(
                "agent-anatomy: the global TracerProvider can be set only once; the resource "
                "(service name) from the first configure() is kept"
            )
        return current
    provider = SdkTracerProvider(resource=resource, sampler=settings.sampler, shutdown_on_exit=False)
    if isinstance(current, ProxyTracerProvider):
        trace.set_tracer_provider(provider)
        _owned_tracer_provider = provider
    else:
        _logger.warning(
            "agent-anatomy: the global TracerProvider is a %s, which cannot take span processors; "
            "agent-anatomy spans go to a provider of its own",
            type(current).__name__,
        )
    return provider


def _warn_if_resource_ignored(settings: Settings, reason: str) -> None:
    if settings.service_name or settings.resource_attributes or settings.sampler:
        _logger.warning(
            "agent-anatomy: %s resource and sampler, so service_name, resource_attributes and sampler "
            "given to configure() are ignored",
            reason,
        )


def active_telemetry() -> Telemetry | None:
    """The handle of the latest ``configure()``, or None."""
    return _active


def _register_atexit() -> None:
    """Shut down at exit, bounded. Python 3.12+ refuse new threads there: the helpers are started now."""
    global _atexit_registered
    if not _atexit_registered:
        reserve_exit_threads()
        atexit.register(_shutdown_at_exit)
        _atexit_registered = True


def _shutdown_at_exit() -> None:
    handle = _active
    if handle is not None:
        handle.shutdown()
