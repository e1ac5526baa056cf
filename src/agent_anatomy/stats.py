"""The one percentile every layer uses (the router's latency windows, the anatomy's many-trace figures)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

__all__ = ["percentile"]

N = TypeVar("N", int, float)


def percentile(ordered: Sequence[N], fraction: float) -> N | None:
    """The nearest-rank value at ``fraction`` (0..1) of already sorted values; None when there are none."""
    if not ordered:
        return None
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]
