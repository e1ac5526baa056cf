"""Per-model latency the router has observed: a sliding window of first-token times and durations."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from ..stats import percentile

__all__ = ["LatencyWindow", "ModelStats"]


@dataclass(frozen=True)
class ModelStats:
    """Percentiles over the last ``count`` calls to one model, in seconds (None before any call)."""

    count: int
    ttft_p50: float | None
    ttft_p95: float | None
    duration_p50: float | None
    duration_p95: float | None

    @property
    def speed_key(self) -> float | None:
        """What "fastest" means: median time to first token, else median duration."""
        return self.ttft_p50 if self.ttft_p50 is not None else self.duration_p50


class LatencyWindow:
    """The last ``size`` observations of one model; percentiles are computed once per new observation."""

    def __init__(self, size: int) -> None:
        self._ttft: deque[float] = deque(maxlen=size)
        self._duration: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._stats: ModelStats | None = ModelStats(0, None, None, None, None)

    def observe(self, ttft_s: float | None, duration_s: float) -> None:
        with self._lock:
            if ttft_s is not None:
                self._ttft.append(ttft_s)
            self._duration.append(duration_s)
            self._stats = None

    def stats(self) -> ModelStats:
        stats = self._stats
        if stats is None:
            with self._lock:
                ttft, duration = sorted(self._ttft), sorted(self._duration)
                stats = self._stats = ModelStats(
                    count=len(duration),
                    ttft_p50=percentile(ttft, 0.5),
                    ttft_p95=percentile(ttft, 0.95),
                    duration_p50=percentile(duration, 0.5),
                    duration_p95=percentile(duration, 0.95),
                )
        return stats
