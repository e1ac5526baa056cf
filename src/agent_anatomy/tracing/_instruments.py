"""The GenAI metrics, each instrument created once per meter, with the conventions' buckets.

By default the conventions as released in opentelemetry-util-genai 1.3b0 (``gen_ai.client.token.usage``);
with ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` the newest: usage counters per token
kind with ``gen_ai.token.modality``, per-call token histograms, and the durations of agents, tools and
workflows. The two client duration histograms are the same in both.
"""

from __future__ import annotations

import timeit
from collections.abc import Mapping
from typing import Final

from opentelemetry.metrics import Counter, Histogram, Meter, NoOpMeter

from .. import semconv
from ..telemetry import metrics_placeholder

__all__ = ["DurationTimer", "Instruments", "InvocationInstruments"]

DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

USAGE_COUNTERS: Final = (
    ("input", semconv.METRIC_INFERENCE_USAGE_INPUT_TOKENS, "Input tokens used, cached ones included"),
    ("output", semconv.METRIC_INFERENCE_USAGE_OUTPUT_TOKENS, "Output tokens used, reasoning ones included"),
    ("cache_read", semconv.METRIC_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS, "Input tokens read from the cache"),
    ("cache_write", semconv.METRIC_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS, "Input tokens written to the cache"),
    ("reasoning", semconv.METRIC_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS, "Output tokens spent reasoning"),
)
"""(usage key, metric name, description): the newest conventions' token counters."""


def _duration(meter: Meter, name: str, description: str) -> Histogram:
    return meter.create_histogram(
        name=name, description=description, unit="s", explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS)
    )


def _tokens(meter: Meter, name: str, description: str) -> Histogram:
    return meter.create_histogram(
        name=name, description=description, unit="{token}", explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS)
    )


class Instruments:
    """An LLM call's metrics: the two client durations, and token usage by the chosen conventions."""

    def __init__(self, meter: Meter, latest: bool) -> None:
        self.meter = meter
        self.latest = latest
        self._recording = not isinstance(meter, NoOpMeter)
        self._awaiting_provider = self._recording and metrics_placeholder(meter)
        """The meter is the metrics API's placeholder's: until the application sets a provider, what it records
        goes nowhere."""
        self.operation_duration = _duration(
            meter, semconv.METRIC_CLIENT_OPERATION_DURATION, "Duration of GenAI client operation"
        )
        self.time_to_first_chunk = _duration(
            meter,
            semconv.METRIC_CLIENT_TIME_TO_FIRST_CHUNK,
            "Time from the request to the first chunk of the response stream",
        )
        self.token_usage: Histogram | None = None
        self.usage: dict[str, Counter] = {}
        self.operation_tokens: dict[str, Histogram] = {}
        if not self.latest:
            self.token_usage = _tokens(
                meter, semconv.METRIC_CLIENT_TOKEN_USAGE, "Number of input and output tokens used by GenAI clients"
            )
            return
        for key, name, description in USAGE_COUNTERS:
            self.usage[key] = meter.create_counter(name=name, description=description, unit="{token}")
        self.operation_tokens = {
            "input": _tokens(meter, semconv.METRIC_INFERENCE_OPERATION_INPUT_TOKENS, "Input tokens per call"),
            "output": _tokens(meter, semconv.METRIC_INFERENCE_OPERATION_OUTPUT_TOKENS, "Output tokens per call"),
        }

    @property
    def recording(self) -> bool:
        """False while nothing would keep what an LLM call records: metrics off (a no-op meter), or no provider
        set yet behind the placeholder's meter. The call then records none at all, and saves building its
        metric attributes (about 10 µs a call)."""
        if self._awaiting_provider:
            if metrics_placeholder():
                return False
            self._awaiting_provider = False  # a provider was set: the placeholder's instruments now forward to it
        return self._recording


_DURATIONS: Final = {
    semconv.OPERATION_INVOKE_AGENT: (semconv.METRIC_INVOKE_AGENT_DURATION, "Duration of an agent invocation"),
    semconv.OPERATION_EXECUTE_TOOL: (semconv.METRIC_EXECUTE_TOOL_DURATION, "Duration of a tool execution"),
    semconv.OPERATION_INVOKE_WORKFLOW: (semconv.METRIC_WORKFLOW_DURATION, "Duration of a GenAI workflow"),
}
_DURATION_KEYS: Final = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_AGENT_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_TOOL_NAME,
    semconv.GEN_AI_TOOL_TYPE,
    semconv.GEN_AI_WORKFLOW_NAME,
)
"""Low-cardinality span attributes the duration metrics carry (never ids, never content)."""


class InvocationInstruments:
    """The newest conventions' agent, tool and workflow durations (none under the default conventions)."""

    def __init__(self, meter: Meter) -> None:
        self.histograms = {op: _duration(meter, name, text) for op, (name, text) in _DURATIONS.items()}

    def timer(self, attributes: Mapping[str, object]) -> DurationTimer | None:
        """What a span with these start attributes records its duration in, started now; None if nothing."""
        histogram = self.histograms.get(str(attributes.get(semconv.GEN_AI_OPERATION_NAME)))
        if histogram is None:
            return None
        return histogram, {key: attributes[key] for key in _DURATION_KEYS if key in attributes}, timeit.default_timer()


DurationTimer = tuple[Histogram, Mapping[str, object], float]
"""A duration metric being timed: the histogram, its attributes, the start (``timeit.default_timer``)."""
