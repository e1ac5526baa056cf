"""Child processes of the tests, always reaped: ``running()`` starts one and stops it however the test ends.

Every test that starts a long-lived process (the simulator's CLI, redis-server, prometheus, Phoenix, an
agent) does it through ``running()`` or a fixture built on it, so a skip, a failed assertion or an
exception before the test's own clean-up still stops the process, waits for it and closes its pipes.
``subprocess.run`` needs no help: it always waits, and kills on a timeout.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

StrPath = str | Path


@contextlib.contextmanager
def running(
    argv: Sequence[StrPath], *, stop: int = signal.SIGTERM, grace_s: float = 20.0, **popen: Any
) -> Iterator[subprocess.Popen[Any]]:
    """``subprocess.Popen(argv, **popen)`` for the block; on leaving it, however, the process is reaped.

    The child starts with Ctrl-C's default meaning even where the suite itself was started with SIGINT
    ignored (a shell's background job, as some CI runners start theirs): a test of Ctrl-C tests the program,
    not how the suite was launched.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and "preexec_fn" not in popen:
        popen["preexec_fn"] = _default_sigint
    process: subprocess.Popen[Any] = subprocess.Popen([str(arg) for arg in argv], **popen)
    try:
        yield process
    finally:
        reap(process, stop=stop, grace_s=grace_s)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def reap(process: subprocess.Popen[Any], *, stop: int = signal.SIGTERM, grace_s: float = 20.0) -> None:
    """Stop ``process`` if it still runs (``stop``, then SIGKILL after ``grace_s``), wait for it, close its pipes.

    Its output is drained meanwhile, so a child that writes as it exits is not blocked on a full pipe; what
    the test did not read by now it no longer wants. A grandchild that holds the pipes open (a browser's
    helpers, say) costs at most twice ``grace_s``.
    """
    if process.stdin is not None and process.stdin.closed:
        process.stdin = None  # communicate() would flush it
    try:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(stop)
        try:
            process.communicate(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.communicate(timeout=grace_s)
    finally:
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a stdin whose buffered bytes the child will never read
                    pipe.close()
        if process.returncode is None:
            process.kill()
            process.wait()
