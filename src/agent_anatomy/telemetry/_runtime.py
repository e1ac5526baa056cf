"""What the layers above read from setup: the tracer, the meter, content capture and the recorder.

``configure()`` installs these; before it runs, the tracer and meter come from the global OTel
providers (so spans follow whatever provider the application sets) and content capture follows
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``. Lookups are a global read on the hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from opentelemetry import metrics, trace
from opentelemetry.metrics import Meter, MeterProvider
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Tracer, TracerProvider

from .. import semconv
from .._version import __version__
from ..errors import ConfigurationError, TraceNotFoundError
from ._settings import Settings, capture_content_from_env, genai_latest_conventions
from .recorder import SpanRecorder

_logger = logging.getLogger(__name__)

_tracer_provider: TracerProvider | None = None
_meter_provider: MeterProvider | None = None
_recorder: SpanRecorder | None = None
_capture_content: bool | None = None
_tracer: Tracer | None = None
_meter: Meter | None = None
_configure_hooks: list[Callable[[Settings], None]] = []
_genai_latest: bool | None = None


def install(
    *,
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    recorder: SpanRecorder | None,
    capture_content: bool | None,
) -> None:
    """Make these the providers, recorder and content setting that instrumentation uses from now on."""
    global _tracer_provider, _meter_provider, _recorder, _capture_content, _tracer, _meter, _genai_latest
    _tracer_provider, _meter_provider = tracer_provider, meter_provider
    _recorder, _capture_content = recorder, capture_content
    _tracer = _meter = None
    _genai_latest = None


def genai_latest() -> bool:
    """Whether metrics follow the newest GenAI conventions (``OTEL_SEMCONV_STABILITY_OPT_IN``), read once per
    ``configure()``: every agent, tool and workflow span asks."""
    global _genai_latest
    if _genai_latest is None:
        _genai_latest = genai_latest_conventions()
    return _genai_latest


def register_configure_hook(hook: Callable[[Settings], None]) -> None:
    """Have ``configure()`` call ``hook(settings)`` after it installed everything (upper layers register here)."""
    if hook not in _configure_hooks:
        _configure_hooks.append(hook)


def run_configure_hooks(settings: Settings) -> None:
    """Call every registered hook; one that raises is logged and never breaks ``configure()``."""
    for hook in list(_configure_hooks):
        try:
            hook(settings)
        except Exception:
            _logger.warning("agent-anatomy: configure hook %r failed", hook, exc_info=True)


def reset() -> None:
    """Back to the state before any ``configure()``: global providers, content capture from the environment."""
    install(tracer_provider=None, meter_provider=None, recorder=None, capture_content=None)


def get_tracer() -> Tracer:
    """agent-anatomy's tracer on the configured provider (the global one until ``configure()`` names another)."""
    global _tracer
    tracer = _tracer
    if tracer is None:
        provider = _tracer_provider or trace.get_tracer_provider()
        tracer = _tracer = provider.get_tracer(semconv.INSTRUMENTATION_SCOPE, __version__)
    return tracer


def get_meter() -> Meter:
    """agent-anatomy's meter on the configured provider (the global one until ``configure()`` names another)."""
    global _meter
    meter = _meter
    if meter is None:
        provider = _meter_provider or metrics.get_meter_provider()
        meter = _meter = provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__)
    return meter


def capture_content() -> bool:
    """Whether prompts, completions, tool arguments and results may be written to spans."""
    global _capture_content
    capture = _capture_content
    if capture is None:
        try:
            capture = capture_content_from_env()
        except ConfigurationError as exc:
            _logger.warning("agent-anatomy: %s; content capture stays off", exc)
            capture = False
        _capture_content = capture
    return capture


def active_recorder() -> SpanRecorder:
    """The recorder ``configure()`` installed; TraceNotFoundError when there is none."""
    recorder = _recorder
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
