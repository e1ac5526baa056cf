"""Building span processors and metric readers from resolved ``Settings``.

Network and file exporters sit behind a BatchSpanProcessor, so exporting never runs on the
application's thread; ``console`` and ``memory`` export synchronously, so what they show is complete
the moment a span ends. The OTLP exporters are imported only when asked for (gRPC is slow to import).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import wrapt
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ._endpoint import EndpointWatch
from ._pipeline import GuardedExporter
from ._settings import ExporterSpec, Settings
from .jsonl import JsonlSpanExporter

__all__ = ["SpanPipeline", "build_metric_readers", "build_span_pipeline", "endpoint_watches"]


def endpoint_watches(settings: Settings) -> dict[str, EndpointWatch]:
    """One watch per OTLP endpoint (by URL), shared where spans and metrics go to the same collector."""
    if not settings.exports_otlp:
        return {}
    by_address: dict[tuple[str, int], EndpointWatch] = {}
    watches: dict[str, EndpointWatch] = {}
    for url in dict.fromkeys((settings.traces_endpoint, settings.metrics_endpoint)):
        watch = EndpointWatch(url)
        watches[url] = by_address.setdefault((watch.host, watch.port), watch)
    return watches


if TYPE_CHECKING:
    _MetricExporterProxy = wrapt.ObjectProxy[MetricExporter]
else:  # wrapt 1.x proxies are not subscriptable at run time
    _MetricExporterProxy = wrapt.ObjectProxy


class _WatchedMetricExporter(_MetricExporterProxy):
    """An OTLP metric exporter that drops its export at once while its endpoint is known to be down."""

    def __init__(self, inner: MetricExporter, watch: EndpointWatch) -> None:
        super().__init__(inner)
        self._self_watch = watch

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return self._self_watch.send(
            lambda: self.__wrapped__.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            success=MetricExportResult.SUCCESS,
            failure=MetricExportResult.FAILURE,
        )


@dataclass
class SpanPipeline:
    """The processors to install, the exporters behind them, and the memory exporter if one was asked for."""

    processors: list[SpanProcessor] = field(default_factory=list)
    exporters: list[GuardedExporter] = field(default_factory=list)
    memory_exporter: InMemorySpanExporter | None = None


def build_span_pipeline(
    settings: Settings, first: SpanProcessor | None, watches: Mapping[str, EndpointWatch] | None = None
) -> SpanPipeline:
    """One processor per exporter in ``settings``, after ``first`` (the recorder) when given."""
    pipeline = SpanPipeline()
    if first is not None:
        pipeline.processors.append(first)
    for spec in settings.exporters:
        exporter = _span_exporter(spec, settings)
        watch = (watches or {}).get(settings.traces_endpoint) if spec.kind == "otlp" else None
        guarded = GuardedExporter(exporter, watch)
        pipeline.exporters.append(guarded)
        if spec.kind == "memory":
            assert isinstance(exporter, InMemorySpanExporter)
            pipeline.memory_exporter = exporter
        if spec.kind in ("console", "memory"):
            pipeline.processors.append(SimpleSpanProcessor(guarded))
        else:
            pipeline.processors.append(
                BatchSpanProcessor(
                    guarded,
                    max_queue_size=settings.max_queue_size,
                    max_export_batch_size=settings.max_export_batch_size,
                )
            )
    return pipeline


def _span_exporter(spec: ExporterSpec, settings: Settings) -> SpanExporter:
    if spec.kind == "custom":
        assert spec.exporter is not None
        return spec.exporter
    if spec.kind == "console":
        return ConsoleSpanExporter(out=sys.stdout)
    if spec.kind == "memory":
        return InMemorySpanExporter()
    if spec.kind == "jsonl":
        assert spec.path is not None
        return JsonlSpanExporter(spec.path)
    return _otlp_span_exporter(settings)


def _otlp_kwargs(settings: Settings, endpoint: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"endpoint": endpoint}
    if settings.headers is not None:
        kwargs["headers"] = dict(settings.headers)
    return kwargs


def _otlp_span_exporter(settings: Settings) -> SpanExporter:
    kwargs = _otlp_kwargs(settings, settings.traces_endpoint)
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(**kwargs)


def build_metric_readers(
    settings: Settings, watches: Mapping[str, EndpointWatch] | None = None
) -> tuple[list[MetricReader], InMemoryMetricReader | None]:
    """Metric readers that follow the span exporters: OTLP, console and memory have a metrics twin."""
    readers: list[MetricReader] = []
    memory: InMemoryMetricReader | None = None
    if not settings.metrics:
        return readers, memory
    kinds = {spec.kind for spec in settings.exporters}
    if "otlp" in kinds:
        kwargs = _otlp_kwargs(settings, settings.metrics_endpoint)
        exporter: MetricExporter
        if settings.protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetrics,
            )

            exporter = GrpcMetrics(**kwargs)
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter as HttpMetrics,
            )

            exporter = HttpMetrics(**kwargs)
        watch = (watches or {}).get(settings.metrics_endpoint)
        if watch is not None:
            # The proxy is a MetricExporter to the reader (isinstance and every attribute pass through).
            exporter = cast(MetricExporter, _WatchedMetricExporter(exporter, watch))
        readers.append(PeriodicExportingMetricReader(exporter))
    if "console" in kinds:
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(out=sys.stdout)))
    if "memory" in kinds:
        memory = InMemoryMetricReader()
        readers.append(memory)
    return readers, memory
