"""Anatomy layer: the latency anatomy of traces, read from spans alone (live, from files, or from Jaeger).

Readers (``sources``) turn spans of any format into records; ``normalise`` says what each span is whoever
wrote it; the analysis (``analysis`` and the modules it runs) reads each trace; ``reporting`` builds the typed
report (``report``: frozen data that is exactly the JSON document); the renderers (``render*``) format it.

Each name is imported when first used (``agent_anatomy.lazy``): a report's worker imports the analysis alone.
"""

from typing import TYPE_CHECKING

from ..lazy import attach

if TYPE_CHECKING:
    from ._anatomy import Anatomy, anatomy_for, compared, last_anatomy, parse_duration
    from .analysis import TraceAnalysis
    from .batches import Batch, ToolCall
    from .calls import LLMCall
    from .critical_path import Segment
    from .document import from_json, json_schema, to_json
    from .metrics import AnatomyMetricsProcessor
    from .model import EventRecord, SpanRecord, TraceTree
    from .phases import PHASES
    from .report import SCHEMA, Report, TraceReport, TraceRow
    from .speeds import ModelSpeed
    from .whatif import Suggestion

__getattr__, __dir__ = attach(
    __name__,
    {
        "._anatomy": ["Anatomy", "anatomy_for", "compared", "last_anatomy", "parse_duration"],
        ".analysis": ["TraceAnalysis"],
        ".batches": ["Batch", "ToolCall"],
        ".calls": ["LLMCall"],
        ".critical_path": ["Segment"],
        ".document": ["from_json", "json_schema", "to_json"],
        ".metrics": ["AnatomyMetricsProcessor"],
        ".model": ["EventRecord", "SpanRecord", "TraceTree"],
        ".phases": ["PHASES"],
        ".report": ["SCHEMA", "Report", "TraceReport", "TraceRow"],
        ".speeds": ["ModelSpeed"],
        ".whatif": ["Suggestion"],
    },
)
__all__ = [
    "PHASES",
    "SCHEMA",
    "Anatomy",
    "AnatomyMetricsProcessor",
    "Batch",
    "EventRecord",
    "LLMCall",
    "ModelSpeed",
    "Report",
    "Segment",
    "SpanRecord",
    "Suggestion",
    "ToolCall",
    "TraceAnalysis",
    "TraceReport",
    "TraceRow",
    "TraceTree",
    "anatomy_for",
    "compared",
    "from_json",
    "json_schema",
    "last_anatomy",
    "parse_duration",
    "to_json",
]
