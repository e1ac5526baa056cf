"""Whether an OTLP endpoint answers at all, so a missing collector costs one line and no waiting.

The OTLP exporters retry a refused connection for their whole timeout (10 s by default) on every
batch and log each attempt. An ``EndpointWatch`` notices instead, with a TCP connect from the export
thread (never the application's), that nothing listens there: it says so once, and exports are dropped
at once until a probe, at most every ``retry_after_s``, finds the endpoint listening again. An endpoint
that accepts connections but fails exports is left to the exporter and to the bounded shutdown.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Final, TypeVar
from urllib.parse import urlsplit

__all__ = ["EndpointWatch"]

_logger = logging.getLogger(__name__)
R = TypeVar("R")

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
PROBE_TIMEOUT_S: Final = 0.5
RETRY_AFTER_S: Final = 5.0


class EndpointWatch:
    """The reachability of one endpoint, shared by the span and metric exporters that send to it."""

    def __init__(self, url: str, *, retry_after_s: float = RETRY_AFTER_S) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        self.url = url
        self.host = parts.hostname or "localhost"
        self.port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 4317)
        self.retry_after_s = retry_after_s
        self.dropped = 0
        """Exports dropped while the endpoint was down (batches of spans, or of metrics)."""
        self._down = False
        self._next_probe = 0.0
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def listening(self) -> bool:
        """One TCP connect, bounded by ``PROBE_TIMEOUT_S``: is anything accepting connections there?"""
        try:
            with socket.create_connection((self.host, self.port), timeout=PROBE_TIMEOUT_S):
                return True
        except OSError:
            return False

    def check_in_background(self) -> None:
        """Probe once now, off the caller's thread, so a missing collector is reported at start-up."""
        threading.Thread(target=self._probe, name="agent-anatomy endpoint probe", daemon=True).start()

    def available(self) -> bool:
        """False while the endpoint is known to be down (the caller drops its export); probes when due."""
        with self._lock:
            if not self._down:
                return True
            if time.monotonic() < self._next_probe:
                self.dropped += 1
                return False
        return self._probe() or self._count_drop()

    def export_failed(self) -> None:
        """An export failed: find out whether it is because nothing listens there any more."""
        self._probe()

    def send(self, export: Callable[[], R], *, success: R, failure: R) -> R:
        """One export through the watch: ``failure`` at once while the endpoint is known down; else the
        export's own result, and a failed one checked (is it because nothing listens any more?)."""
        if not self.available():
            return failure
        result = export()
        if result is not success:
            self.export_failed()
        return result

    def _count_drop(self) -> bool:
        with self._lock:
            self.dropped += 1
        return False

    def _probe(self) -> bool:
        up = self.listening()
        with self._lock:
            was_down, self._down = self._down, not up
            if not up:
                self._next_probe = time.monotonic() + self.retry_after_s
            dropped = self.dropped
            if up and was_down:
                self.dropped = 0
        if not up and not was_down:
            _logger.warning(
                "agent-anatomy: nothing answers at the OTLP endpoint %s (%s); telemetry is dropped until it "
                "does (checked every %g s)",
                self.where,
                self.url,
                self.retry_after_s,
            )
        elif up and was_down:
            _logger.warning(
                "agent-anatomy: the OTLP endpoint %s answers again (%d export(s) dropped while it was down)",
                self.where,
                dropped,
            )
        return up
