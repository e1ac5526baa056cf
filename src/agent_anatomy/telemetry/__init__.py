"""Setup layer: ``configure()``, exporters, and the in-process span recorder."""

from ._configure import Telemetry, active_telemetry, configure
from ._runtime import Installation, active_recorder, installation, last_trace, trace_spans
from ._settings import EXPORTER_CHOICES, PROTOCOL_CHOICES, SAMPLER_CHOICES, ExporterArg
from .jsonl import JsonlSpanExporter
from .recorder import SpanRecorder

__all__ = [
    "EXPORTER_CHOICES",
    "PROTOCOL_CHOICES",
    "SAMPLER_CHOICES",
    "ExporterArg",
    "Installation",
    "JsonlSpanExporter",
    "SpanRecorder",
    "Telemetry",
    "active_recorder",
    "active_telemetry",
    "configure",
    "installation",
    "last_trace",
    "trace_spans",
]
