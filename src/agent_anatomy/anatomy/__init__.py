"""Anatomy layer: the latency anatomy of traces, read from spans alone (live, from files, or from Jaeger)."""

from ._anatomy import Anatomy, anatomy_for, last_anatomy, parse_duration
from .analysis import TraceAnalysis
from .batches import Batch, ToolCall
from .calls import LLMCall
from .critical_path import Segment
from .metrics import AnatomyMetricsProcessor
from .model import EventRecord, SpanRecord, TraceTree
from .phases import PHASES
from .whatif import ModelSpeed, Suggestion

__all__ = [
    "PHASES",
    "Anatomy",
    "AnatomyMetricsProcessor",
    "Batch",
    "EventRecord",
    "LLMCall",
    "ModelSpeed",
    "Segment",
    "SpanRecord",
    "Suggestion",
    "ToolCall",
    "TraceAnalysis",
    "TraceTree",
    "anatomy_for",
    "last_anatomy",
    "parse_duration",
]
