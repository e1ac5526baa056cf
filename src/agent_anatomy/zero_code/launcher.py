"""The launching side of ``agent-anatomy run``: start a program traced, wait for it, gather its spans.

The program gets ``site/`` first on ``PYTHONPATH`` and the run's folder in ``AGENT_ANATOMY_RUN_DIR``; each of its
Python processes writes a spans file there (see ``bootstrap``). While it runs, Ctrl-C is the program's to handle:
the terminal sends it to the program itself, and a SIGINT or SIGTERM sent to this process alone is passed on.
When it has ended, however it ended, the files are joined into one, in the order the spans were written.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Final

from ..environment_variables import AGENT_ANATOMY_RUN_DIR, AGENT_ANATOMY_RUN_NAME, AGENT_ANATOMY_RUN_PARENT
from ..errors import ConfigurationError

__all__ = ["SITE_DIR", "RunResult", "program_name", "run_program"]

SITE_DIR: Final = Path(__file__).with_name("site")
"""The folder whose ``sitecustomize`` traces each Python process of a run."""


@dataclass(frozen=True)
class RunResult:
    """How the program ended and where its spans are."""

    exit_code: int
    """The program's exit status as a shell gives it: 128 + N for a program ended by signal N."""
    spans: Path
    span_count: int


def program_name(command: Sequence[str]) -> str:
    """The run's name after the program: ``python agent.py`` → ``agent``, ``python -m pkg.cli`` → ``pkg.cli``."""
    words = list(command)
    if words and Path(words[0]).name.startswith("python"):
        rest = words[1:]
        while rest and rest[0].startswith("-") and rest[0] not in ("-m", "-c"):
            rest = rest[1:]
        if len(rest) >= 2 and rest[0] == "-m":
            return rest[1]
        if rest and rest[0] == "-c":
            return "python -c"
        if rest:
            return Path(rest[0]).stem
        return "python"
    return Path(words[0]).stem if words else "program"


def _environment(base: Mapping[str, str], folder: Path, name: str) -> dict[str, str]:
    env = {key: value for key, value in base.items() if key != AGENT_ANATOMY_RUN_PARENT}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(SITE_DIR), base.get("PYTHONPATH"))))
    env[AGENT_ANATOMY_RUN_DIR] = str(folder)
    env[AGENT_ANATOMY_RUN_NAME] = name
    return env


def _in_terminal_foreground() -> bool:
    """Whether a Ctrl-C typed now reaches the program without us (it shares our terminal's foreground group)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


@contextmanager
def _passing_signals_to(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """SIGINT and SIGTERM sent to us go to the program, which decides what they do; ours come back after."""

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and _in_terminal_foreground():
            return  # the terminal sent it to the program as well
        if process.poll() is None:
            process.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _join(folder: Path, into: Path) -> int:
    """Every process's spans file, first process first, into one; how many spans."""
    files = sorted(folder.glob("*.jsonl"), key=lambda path: path.stat().st_mtime_ns)
    lines = 0
    with into.open("w", encoding="utf-8") as out:
        for path in files:
            with path.open(encoding="utf-8") as spans:
                for line in spans:
                    if line.strip():
                        out.write(line if line.endswith("\n") else line + "\n")
                        lines += 1
    return lines


def run_program(command: Sequence[str], spans: str | os.PathLike[str] | None = None) -> RunResult:
    """Run ``command`` traced, to its end; its spans go to ``spans`` (a new temporary file when None).

    Raises ConfigurationError when the command cannot be started (not found, not executable).
    """
    if not command:
        raise ConfigurationError(
            "run needs a program to run: agent-anatomy run -- python app.py", setting="command", value=None
        )
    folder = Path(tempfile.mkdtemp(prefix="agent-anatomy-run-"))
    target = Path(spans) if spans is not None else folder.with_suffix(".jsonl")
    try:
        env = _environment(os.environ, folder, program_name(command))
        try:
            process = subprocess.Popen(list(command), env=env)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot start {command[0]!r}: {exc.strerror or exc}", setting="command", value=command[0]
            ) from None
        with _passing_signals_to(process):
            returncode = process.wait()
        try:
            count = _join(folder, target)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot write the spans to {target}: {exc.strerror}", setting="--spans", value=str(target)
            ) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    exit_code = 128 - returncode if returncode < 0 else returncode
    return RunResult(exit_code, target, count)
