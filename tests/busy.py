"""Run a command while busy-loop processes occupy every core: the suite as a loaded machine runs it.

``python tests/busy.py --runs 3 -- python -m pytest -q`` runs pytest three times in a row with one
busy loop per core (``--cores`` to choose), stops at the first failing run, and prints each run's time.
``make test-busy BUSY_RUNS=3`` does exactly that.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time


def _spin() -> None:
    while True:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="how many times to run the command (default 1)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="busy loops (default: one per core)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.cores)]
    for spinner in spinners:
        spinner.start()
    status = 0
    try:
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            status = subprocess.call(command)
            print(
                f"busy run {run}/{args.runs}: exit {status} in {time.monotonic() - started:.0f} s "
                f"with {args.cores} busy loop(s)",
                flush=True,
            )
            if status != 0:
                break
    finally:
        for spinner in spinners:
            spinner.terminate()
    return status


if __name__ == "__main__":
    sys.exit(main())
