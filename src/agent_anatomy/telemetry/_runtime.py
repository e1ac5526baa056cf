"""What spans are made with, as one object the tracing layer holds: the ``Installation``.

The process has one, which ``configure()`` rebinds in place, so a telemetry handler built on it (at
import, when a decorator is applied, when a lever is built) follows every ``configure()`` without looking
anything up at span time. Before ``configure()`` runs, the tracer and meter come from the global OTel
providers (so spans follow whatever provider the application sets) and content capture follows
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``. ``derived()`` gives an installation that fixes some
of these (an instrumentor's own providers) and takes the rest from the process's, as they change.
"""

from __future__ import annotations

import logging
import weakref
from typing import Protocol

from opentelemetry import metrics, trace
from opentelemetry.metrics import Meter, MeterProvider
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Tracer, TracerProvider

from .. import semconv
from ..errors import ConfigurationError, TraceNotFoundError
from ..version import __version__
from ._settings import capture_content_from_env, genai_latest_conventions
from .recorder import SpanRecorder

__all__ = [
    "Installation",
    "Watcher",
    "active_recorder",
    "install",
    "installation",
    "last_trace",
    "metrics_placeholder",
    "reset",
    "trace_spans",
]

_logger = logging.getLogger(__name__)


def metrics_placeholder(provider_or_meter: MeterProvider | Meter | None = None) -> bool:
    """True for the metrics API's placeholder (a provider, or a meter of it; None: the global provider), which
    stands in until the application sets a provider: what is recorded on it meanwhile goes nowhere."""
    if provider_or_meter is None:
        provider_or_meter = metrics.get_meter_provider()
    # The API exports no name for its proxy classes, so they are recognised by their class names.
    return type(provider_or_meter).__name__ in ("_ProxyMeterProvider", "_ProxyMeter")


class Watcher(Protocol):
    """What holds values read from an installation (a telemetry handler): told when they may have changed."""

    def installation_changed(self) -> None: ...


class Installation:
    """The providers, recorder and content setting spans are made with.

    A setting left None is the process installation's (``base``), or, on the process's own, the global
    provider or the environment's.
    """

    __slots__ = (
        "__weakref__",
        "_base",
        "_capture_content",
        "_genai_latest",
        "_meter",
        "_tracer",
        "_watchers",
        "meter_provider",
        "recorder",
        "tracer_provider",
    )

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        recorder: SpanRecorder | None = None,
        capture_content: bool | None = None,
        base: Installation | None = None,
    ) -> None:
        self._base = base
        self._watchers: weakref.WeakSet[Watcher] = weakref.WeakSet()
        self._bind(tracer_provider, meter_provider, recorder, capture_content)
        if base is not None:
            base.watch(self)

    def _bind(
        self,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        recorder: SpanRecorder | None,
        capture_content: bool | None,
    ) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.recorder = recorder
        self._capture_content = capture_content
        self._genai_latest: bool | None = None
        self._tracer: Tracer | None = None
        self._meter: Meter | None = None
        self.installation_changed()

    def watch(self, watcher: Watcher) -> None:
        """Tell ``watcher`` whenever this installation is rebound (or the one it takes settings from is)."""
        self._watchers.add(watcher)

    def installation_changed(self) -> None:
        for watcher in list(self._watchers):
            watcher.installation_changed()

    def derived(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool | None = None,
    ) -> Installation:
        """An installation with these settings, taking every other from this one as it is at span time."""
        return Installation(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            capture_content=capture_content,
            base=self,
        )

    @property
    def tracer(self) -> Tracer:
        """agent-anatomy's tracer on the installed provider (the global one unless ``configure()`` named one)."""
        tracer = self._tracer
        if tracer is None:
            if self.tracer_provider is None and self._base is not None:
                return self._base.tracer
            provider = self.tracer_provider or trace.get_tracer_provider()
            tracer = self._tracer = provider.get_tracer(semconv.INSTRUMENTATION_SCOPE, __version__)
        return tracer

    @property
    def meter(self) -> Meter:
        meter = self._meter
        if meter is None:
            if self.meter_provider is None and self._base is not None:
                return self._base.meter
            provider = self.meter_provider or metrics.get_meter_provider()
            meter = self._meter = provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__)
        return meter

    @property
    def capture_content(self) -> bool:
        """Whether prompts, completions, tool arguments and results may be written to spans."""
        capture = self._capture_content
        if capture is None:
            if self._base is not None:
                return self._base.capture_content
            try:
                capture = capture_content_from_env()
            except ConfigurationError as exc:
                _logger.warning("agent-anatomy: %s; content capture stays off", exc)
                capture = False
            self._capture_content = capture
        return capture

    @property
    def genai_latest(self) -> bool:
        """Whether metrics follow the newest GenAI conventions (``OTEL_SEMCONV_STABILITY_OPT_IN``)."""
        if self._base is not None:
            return self._base.genai_latest
        latest = self._genai_latest
        if latest is None:
            latest = self._genai_latest = genai_latest_conventions()
        return latest


_installation = Installation()


def install(
    *,
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    recorder: SpanRecorder | None,
    capture_content: bool | None,
) -> None:
    """Make these the providers, recorder and content setting that instrumentation uses from now on."""
    _installation._bind(tracer_provider, meter_provider, recorder, capture_content)


def installation() -> Installation:
    """The process's installation: one object for the life of the process, rebound by every ``configure()``."""
    return _installation


def reset() -> None:
    """Back to the state before any ``configure()``: global providers, content capture from the environment."""
    install(tracer_provider=None, meter_provider=None, recorder=None, capture_content=None)


def active_recorder() -> SpanRecorder:
    """The recorder ``configure()`` installed; TraceNotFoundError when there is none."""
    recorder = _installation.recorder
    if recorder is None:
        raise TraceNotFoundError(
            "no span recorder is installed: call agent_anatomy.configure() (with recorder=True, the default) "
            "before running the code you want to trace"
        )
    return recorder


def last_trace() -> list[ReadableSpan]:
    """The finished spans of the most recent trace in the installed recorder."""
    return active_recorder().last_trace()


def trace_spans(trace_id: int | str) -> list[ReadableSpan]:
    """The finished spans of one trace (int or hex id) in the installed recorder."""
    return active_recorder().trace_spans(trace_id)
