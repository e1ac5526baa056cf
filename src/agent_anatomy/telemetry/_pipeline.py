"""The one span processor agent-anatomy adds to a TracerProvider, and bounded flush and shutdown.

Each provider gets a single ``AnatomySpanProcessor``; ``configure()`` swaps the processors inside it,
so configuring twice replaces the pipeline instead of adding a second one (no double export), and a
provider the application built keeps everything it had. Flush and shutdown run in a helper thread and
return at their deadline even when an exporter is stuck on a dead endpoint.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import ClassVar, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._endpoint import EndpointWatch

__all__ = ["AnatomySpanProcessor", "GuardedExporter", "processor_for", "reserve_exit_threads", "run_bounded"]

_logger = logging.getLogger(__name__)

_by_provider: weakref.WeakKeyDictionary[TracerProvider, AnatomySpanProcessor] = weakref.WeakKeyDictionary()
_by_provider_lock = threading.Lock()


class _ReservedThreads:
    """Daemon threads started in advance for the exit path, where Python 3.12+ refuses to start new ones.

    The bounded shutdown at exit waits for its work in helper threads; without these it could not run
    at all there, and the spans still buffered would be lost.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._idle = 0

    def reserve(self, count: int) -> None:
        """Have at least ``count`` threads waiting (the first ``configure()`` asks for them)."""
        with self._lock:
            missing = count - self._started
            self._started += max(missing, 0)
            self._idle += max(missing, 0)
        for _ in range(missing):
            threading.Thread(target=self._serve, name="agent-anatomy exit helper", daemon=True).start()

    def submit(self, job: Callable[[], None]) -> bool:
        """Hand ``job`` to an idle reserved thread; False when none is idle."""
        with self._lock:
            if self._idle == 0:
                return False
            self._idle -= 1
        self._jobs.put(job)
        return True

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            finally:
                with self._lock:
                    self._idle += 1


EXIT_HELPERS: Final = 4
"""Enough for a shutdown at exit: the span pipeline, an abort per exporter, the metrics."""
_reserved = _ReservedThreads()


def reserve_exit_threads() -> None:
    _reserved.reserve(EXIT_HELPERS)


class BackgroundJob:
    """One action in a daemon thread, so a caller can stop waiting for it without stopping it."""

    def __init__(self, action: Callable[[], object], what: str) -> None:
        self.what = what
        self._ok = False
        self._done = threading.Event()
        job = functools.partial(self._run, action)
        try:
            threading.Thread(target=job, name=f"agent-anatomy {what}", daemon=True).start()
        except RuntimeError:  # interpreter shutdown: no new thread on Python 3.12+
            if not _reserved.submit(job):
                job()  # none left: do it here, unbounded, rather than not at all

    def _run(self, action: Callable[[], object]) -> None:
        try:
            action()
            self._ok = True
        except Exception:
            _logger.warning("agent-anatomy: %s failed", self.what, exc_info=True)
        finally:
            self._done.set()

    def wait(self, timeout_s: float) -> bool:
        """True once the action has finished without raising; False if it failed or is still running."""
        self._done.wait(max(timeout_s, 0.0))
        return self._ok and self._done.is_set()

    @property
    def running(self) -> bool:
        return not self._done.is_set()


def run_bounded(action: Callable[[], object], timeout_s: float, what: str) -> bool:
    """Run ``action`` in a daemon thread; True if it finished without raising within ``timeout_s``."""
    job = BackgroundJob(action, what)
    ok = job.wait(timeout_s)
    if job.running:
        _logger.warning("agent-anatomy: %s did not finish within %.1f s; moving on without it", what, timeout_s)
    return ok


class GuardedExporter(SpanExporter):
    """Wraps an exporter so shutting it down twice is harmless and ``abort()`` can cut retries short.

    The same exporter object may be passed to two ``configure()`` calls in a row; the inner exporter
    is shut down only when the last guard around it is, so retiring the first call's pipeline does not
    kill the exporter the second one still uses.
    """

    # id -> (the exporter, guards around it). The entry holds the exporter itself, so its id cannot be
    # reused by another object while a guard still counts it (a count left by an exporter that was garbage
    # collected once kept a new exporter at the same address from ever being shut down).
    _users: ClassVar[dict[int, tuple[SpanExporter, int]]] = {}
    _users_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, inner: SpanExporter, watch: EndpointWatch | None = None) -> None:
        self.inner = inner
        self.watch = watch
        """For a network exporter: while its endpoint is known to be down, batches are dropped at once."""
        self._shut = False
        with self._users_lock:
            _, count = self._users.get(id(inner), (inner, 0))
            self._users[id(inner)] = (inner, count + 1)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut:
            return SpanExportResult.FAILURE
        if self.watch is None:
            return self.inner.export(spans)
        return self.watch.send(
            lambda: self.inner.export(spans), success=SpanExportResult.SUCCESS, failure=SpanExportResult.FAILURE
        )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._shut or self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        with self._users_lock:
            if self._shut:
                return
            self._shut = True
            _, count = self._users.pop(id(self.inner))
            remaining = count - 1
            if remaining:
                self._users[id(self.inner)] = (self.inner, remaining)
        if not remaining:
            self.inner.shutdown()

    abort = shutdown
    """Called when a bounded shutdown runs out of time: the OTLP exporters stop retrying and close."""


class AnatomySpanProcessor(SpanProcessor):
    """Delegates to a replaceable set of processors; the only processor we ever add to a provider."""

    def __init__(self) -> None:
        self._processors: tuple[SpanProcessor, ...] = ()
        self._exporters: tuple[GuardedExporter, ...] = ()
        self.shutdown_timeout_s = 5.0

    @property
    def processors(self) -> tuple[SpanProcessor, ...]:
        return self._processors

    def replace(
        self, processors: Sequence[SpanProcessor], exporters: Sequence[GuardedExporter]
    ) -> tuple[tuple[SpanProcessor, ...], tuple[GuardedExporter, ...]]:
        """Install a new set; return the old one, which the caller shuts down."""
        old = self._processors, self._exporters
        self._processors, self._exporters = tuple(processors), tuple(exporters)
        return old

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self._processors:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self._processors:
            processor.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        processors = self._processors
        return run_bounded(
            lambda: [p.force_flush(timeout_millis) for p in processors], timeout_millis / 1000, "span flush"
        )

    def shutdown(self) -> None:
        """Shut down the current set within ``shutdown_timeout_s``; also what provider.shutdown() calls."""
        old_processors, old_exporters = self.replace((), ())
        shutdown_pipeline(old_processors, old_exporters, self.shutdown_timeout_s)


def shutdown_pipeline(
    processors: Sequence[SpanProcessor], exporters: Sequence[GuardedExporter], timeout_s: float
) -> bool:
    """Shut processors down within ``timeout_s``; past half of it, abort the exporters' retries."""
    if not processors:
        return True
    deadline = time.monotonic() + timeout_s

    def shut_all() -> None:
        for processor in processors:
            processor.shutdown()

    job = BackgroundJob(shut_all, "span pipeline shutdown")
    job.wait(timeout_s / 2)
    if not job.running:
        return True
    for exporter in exporters:
        run_bounded(exporter.abort, deadline - time.monotonic(), "exporter abort")
    job.wait(deadline - time.monotonic())
    if job.running:
        _logger.warning("agent-anatomy: exporters did not shut down within %.1f s; unsent spans are dropped", timeout_s)
        return False
    return True


def processor_for(provider: TracerProvider) -> AnatomySpanProcessor:
    """The provider's AnatomySpanProcessor, added to it the first time it is asked for."""
    with _by_provider_lock:
        processor = _by_provider.get(provider)
        if processor is None:
            processor = AnatomySpanProcessor()
            provider.add_span_processor(processor)
            _by_provider[provider] = processor
        return processor
