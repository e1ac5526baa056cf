"""The GenAI client metrics, each histogram created once per meter, with the conventions' buckets."""

from __future__ import annotations

from typing import Final

from opentelemetry.metrics import Histogram, Meter

from .. import semconv

__all__ = ["Instruments"]

DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip


class Instruments:
    """``gen_ai.client.operation.duration``, ``...time_to_first_chunk`` and ``gen_ai.client.token.usage``."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.operation_duration: Histogram = meter.create_histogram(
            name=semconv.METRIC_CLIENT_OPERATION_DURATION,
            description="Duration of GenAI client operation",
            unit="s",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.time_to_first_chunk: Histogram = meter.create_histogram(
            name=semconv.METRIC_CLIENT_TIME_TO_FIRST_CHUNK,
            description="Time from the request to the first chunk of the response stream",
            unit="s",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.token_usage: Histogram = meter.create_histogram(
            name=semconv.METRIC_CLIENT_TOKEN_USAGE,
            description="Number of input and output tokens used by GenAI clients",
            unit="{token}",
            explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
        )
