"""A pytest plugin that fails the very test that leaves a child process or an open pipe behind, naming it.

Without it a leak surfaces later, as a ResourceWarning ("subprocess N is still running", "unclosed file")
in whichever test the garbage collector happens to run in, and ``filterwarnings = ["error"]`` fails that
bystander instead. Each test is checked once its own fixtures are torn down:

- every ``subprocess.Popen`` it created has been waited for and its pipes are closed;
- no other child of the pytest process (``os.fork``, ``multiprocessing``) appeared during it and still runs,
  but for the helpers ``multiprocessing`` keeps for the whole process (its resource tracker, its fork server).

Processes of session- or module-scoped fixtures are set up before the check starts and are left alone.
What leaked is killed, reaped and closed before the test fails, so nothing reaches the next test.
``tests/conftest.py`` loads this plugin; ``pytest -p tests._leak_guard`` loads it anywhere.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_PROC = Path("/proc")
_started: list[weakref.ref[subprocess.Popen[Any]]] = []
"""The Popen objects created since the current test's check began."""
_original_init = subprocess.Popen.__init__


def _recording_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    _started.append(weakref.ref(self))


def pytest_configure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _recording_init  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _original_init  # type: ignore[method-assign]


def _children() -> dict[int, str]:
    """The live children of this process by pid, with their command lines (empty where /proc is missing)."""
    me, found = os.getpid(), {}
    with contextlib.suppress(OSError):
        for entry in os.scandir(_PROC):
            if not entry.name.isdigit():
                continue
            try:
                stat = (_PROC / entry.name / "stat").read_bytes()
            except OSError:  # it ended while we looked
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...
            if int(fields[1]) == me:
                found[int(entry.name)] = _command_line(int(entry.name), stat)
    return found


def _command_line(pid: int, stat: bytes) -> str:
    try:
        argv = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        argv = []
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:  # a zombie has no command line left, only its name
        words = [stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode(errors="replace") + " (exited, not waited for)"]
    return _short(words)


def _short(words: list[str]) -> str:
    text = shlex.join(words)
    return text if len(text) <= 160 else text[:157] + "..."


def _process_wide_helpers() -> set[int]:
    """Helpers ``multiprocessing`` starts once and keeps until exit (its resource tracker and fork server)."""
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker

    pids = {
        getattr(multiprocessing.resource_tracker._resource_tracker, "_pid", None),
        getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None),
    }
    return {pid for pid in pids if isinstance(pid, int)}


def _leaks(before: dict[int, str]) -> list[str]:
    """What the test left behind, each said in a phrase; everything named is stopped and closed as it is found."""
    found: list[str] = []
    seen: set[int] = set()
    for ref in _started:
        process = ref()
        if process is None:
            continue
        seen.add(process.pid)
        command = _short([str(a) for a in process.args] if isinstance(process.args, list | tuple) else [process.args])
        if process.returncode is None:
            found.append(f"process {process.pid} ({command}) was never waited for")
            if process.poll() is None:
                process.kill()
            process.wait()
        for name in ("stdin", "stdout", "stderr"):
            pipe = getattr(process, name)
            if pipe is not None and not pipe.closed:
                found.append(f"the {name} pipe of process {process.pid} ({command}) is open")
                with contextlib.suppress(OSError):
                    pipe.close()
    helpers = _process_wide_helpers()
    for pid, command in _children().items():
        if pid in before or pid in seen or pid in helpers:
            continue
        found.append(f"child process {pid} ({command}) is still running")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return found


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Fails the test, at its teardown, if it left a child process running or a pipe to one open."""
    _started.clear()
    before = _children()
    yield
    leaks = _leaks(before)
    _started.clear()
    if leaks:
        pytest.fail(
            "this test left behind: "
            + "; ".join(leaks)
            + ". Start processes with tests._processes.running() or subprocess.run(), which always reap them",
            pytrace=False,
        )
