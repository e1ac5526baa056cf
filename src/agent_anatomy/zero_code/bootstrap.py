"""The traced side of ``agent-anatomy run``: what each Python process of a run does before the program starts.

``agent-anatomy run`` puts ``site/`` first on ``PYTHONPATH``, so every Python process of the run imports its
``sitecustomize`` at start-up, which calls ``start()``. The first process of a run gets a root span,
``invoke_agent {program}``, current for the whole program and ended at exit (with the exception, if one ended
the program); the processes it starts put their spans under that span, so a run is one trace. Every process
writes its spans to a file of its own in the run's folder, through a TracerProvider that ``configure()`` (the
program's own call too) adds to rather than replaces. Nothing here may break the program: a failure is one line
on stderr and the program runs untraced.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType, TracebackType
from typing import Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .. import semconv
from ..configuration import configure
from ..environment_variables import AGENT_ANATOMY_RUN_DIR, AGENT_ANATOMY_RUN_NAME, AGENT_ANATOMY_RUN_PARENT
from ..telemetry.jsonl import JsonlSpanExporter
from ..tracing import NO_INPUT, FunctionCall, agent_spec, default_handler

__all__ = ["EXIT_TIMEOUT_S", "start"]

EXIT_TIMEOUT_S: Final = 5.0
"""How long a process of the run may spend writing its last spans at exit."""

_TRACEPARENT: Final = "traceparent"


class _Run:
    """One process's part in the run: its provider, and the root span if it is the first process."""

    def __init__(self, folder: Path, name: str) -> None:
        self.provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}), shutdown_on_exit=False)
        self.processor = BatchSpanProcessor(JsonlSpanExporter(folder / f"{os.getpid()}.jsonl"))
        self.provider.add_span_processor(self.processor)
        self.root: FunctionCall | None = None
        self.failure: BaseException | None = None
        self._lock = threading.Lock()
        self._ended = False

    def begin(self, name: str) -> None:
        """Make our provider the process's, turn on every instrumentation, and open the run's span (or join the
        span of the process that started this one)."""
        trace.set_tracer_provider(self.provider)
        configure(metrics=False)  # the resource is our provider's: the service is the program
        parent_header = os.environ.get(AGENT_ANATOMY_RUN_PARENT)
        if parent_header:
            otel_context.attach(TraceContextTextMapPropagator().extract({_TRACEPARENT: parent_header}))
            return
        spec = agent_spec(name, provider=semconv.PROVIDER_ANTHROPIC, record_args=False, record_result=False)
        self.root = default_handler().start_agent(spec, raw_input=NO_INPUT, attach_now=False)
        otel_context.attach(self.root.context)  # never detached: the program runs inside it to the end
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, self.root.context)
        os.environ[AGENT_ANATOMY_RUN_PARENT] = carrier.get(_TRACEPARENT, "")

    def end(self) -> None:
        """End the run's span and write every span out, once, within ``EXIT_TIMEOUT_S``."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
        if self.root is not None:
            if self.failure is not None:
                self.root.fail(self.failure)
            else:
                self.root.stop()
        self.processor.force_flush(int(EXIT_TIMEOUT_S * 1000))
        self.processor.shutdown()  # type: ignore[no-untyped-call]


def _hook_exceptions(run: _Run) -> None:
    """Note the exception that ends the program (the run's span fails with it); the program's own hook still
    prints it."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, traceback: TracebackType | None) -> None:
        run.failure = exc
        previous(kind, exc, traceback)

    sys.excepthook = hook


def _exit_on_sigterm() -> None:
    """A terminated program ends as if it had called ``sys.exit``, so its spans are written; only where the
    program left SIGTERM's default, which would end it at once."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)


def start() -> bool:
    """Trace this process as part of an ``agent-anatomy run``, if it is one (``AGENT_ANATOMY_RUN_DIR`` set);
    True when it is traced."""
    folder = os.environ.get(AGENT_ANATOMY_RUN_DIR)
    if not folder:
        return False
    name = os.environ.get(AGENT_ANATOMY_RUN_NAME) or Path(sys.argv[0] if sys.argv and sys.argv[0] else "python").stem
    try:
        run = _Run(Path(folder), name)
        run.begin(name)
    except Exception as exc:  # the program runs on, untraced
        print(f"agent-anatomy run: this process is not traced: {exc}", file=sys.stderr)
        return False
    _hook_exceptions(run)
    _exit_on_sigterm()
    atexit.register(run.end)  # after configure()'s own, so it runs first (atexit is last in, first out)
    return True
