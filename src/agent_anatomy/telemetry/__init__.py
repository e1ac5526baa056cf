"""Setup layer: the pipeline ``configure()`` puts in place (providers, exporters, the in-process recorder), its
settings from arguments and ``OTEL_*``, and the installation the tracing layer's handler is built on."""

from ._configure import DEFAULT_SHUTDOWN_TIMEOUT_S, ProcessorArg, Telemetry, active_telemetry, configure_pipeline
from ._runtime import Installation, active_recorder, installation, last_trace, metrics_placeholder, trace_spans
from ._settings import EXPORTER_CHOICES, PROTOCOL_CHOICES, SAMPLER_CHOICES, ExporterArg, Settings, resolve
from .jsonl import JsonlSpanExporter
from .recorder import SpanRecorder

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT_S",
    "EXPORTER_CHOICES",
    "PROTOCOL_CHOICES",
    "SAMPLER_CHOICES",
    "ExporterArg",
    "Installation",
    "JsonlSpanExporter",
    "ProcessorArg",
    "Settings",
    "SpanRecorder",
    "Telemetry",
    "active_recorder",
    "active_telemetry",
    "configure_pipeline",
    "installation",
    "last_trace",
    "metrics_placeholder",
    "resolve",
    "trace_spans",
]
