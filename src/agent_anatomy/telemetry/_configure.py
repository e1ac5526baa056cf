"""Providers, exporters and the recorder put in place from resolved settings, and the ``Telemetry`` handle.

``configure_pipeline`` is the setup layer's half of ``agent_anatomy.configure()``, which resolves the
settings, adds the span processors of the layers above (the fleet view's) and turns on the instrumentations.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType

from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
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
from ._settings import Settings
from .recorder import SpanRecorder

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT_S", "ProcessorArg", "Telemetry", "active_telemetry", "configure_pipeline"]

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_active: Telemetry | None = None
_owned_tracer_provider: SdkTracerProvider | None = None
_atexit_registered = False

DEFAULT_SHUTDOWN_TIMEOUT_S = 5.0

ProcessorArg = SpanProcessor | Callable[[MeterProvider], SpanProcessor]
"""A span processor for ``configure(span_processors=...)``, or a function that makes one given the meter
provider ``configure()`` settled on (for a processor that records metrics)."""


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


def configure_pipeline(
    settings: Settings,
    *,
    recorder: bool | SpanRecorder = True,
    tracer_provider: SdkTracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
    span_processors: Sequence[ProcessorArg] = (),
) -> Telemetry:
    """Put ``settings`` in force: the providers, the recorder, the exporters and ``span_processors`` after
    them; a previous call's pipeline (its processors too) is replaced and shut down, never added to."""
    global _active
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
            handle, retired = _enabled_handle(
                settings, recorder, tracer_provider, meter_provider, shutdown_timeout_s, span_processors
            )
        if previous is not None and not previous._shut_down:
            if previous._processor is not None and previous._processor is not handle._processor:
                retired = previous._processor.replace((), ())
            previous._retire(*retired)
        _active = handle
        _register_atexit()
    return handle


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
    span_processors: Sequence[ProcessorArg],
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
                # the metrics describe the service the spans do, also when the application's provider
                # (given, or set before) has a resource of its own
                owned_meter_provider = SdkMeterProvider(
                    metric_readers=readers,
                    resource=provider.resource if isinstance(provider, SdkTracerProvider) else resource,
                    shutdown_on_exit=False,
                )
                if _runtime.metrics_placeholder(meter_provider):
                    metrics.set_meter_provider(owned_meter_provider)
                meter_provider = owned_meter_provider

    for given in span_processors:  # a factory records on the meter provider: made once that is known
        pipeline.processors.append(given if isinstance(given, SpanProcessor) else given(meter_provider))
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
