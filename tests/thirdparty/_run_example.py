"""Runs a third-party example program unmodified, traced: ``python _run_example.py SPANS.jsonl EXAMPLE.py``.

What a user adds around code they did not write: ``configure()`` and one agent span around the run.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import agent_anatomy as aa

spans, example = sys.argv[1], Path(sys.argv[2])
handle = aa.configure(service_name=example.stem, exporter=f"jsonl:{spans}", metrics=False)


@aa.agent(name=example.stem)
def run() -> None:
    sys.argv = [str(example)]
    runpy.run_path(str(example), run_name="__main__")


try:
    run()
finally:
    handle.shutdown(timeout_s=5.0)
