"""The anthropic SDK's own examples, from its sdist (downloaded by pip at test time), run unmodified against the
simulator under ``agent-anatomy run``, as a user runs a program they did not write: every one exits 0 and gets a
report that adds up and advice, or the true reason there is none.

``message_threads.py`` is left out: its conversation assumes the model asks for the order number before it calls
the lookup tool, and the automatic scenario calls a declared tool on the first question (the API then refuses
the example's next message, a question sent before the tool result, as the simulator does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import pytest

from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.report import step_ms
from agent_anatomy.sim import SimServer
from agent_anatomy.sim.profiles import SimProfile

pytestmark = pytest.mark.slow
EXAMPLES = (
    "messages_stream.py",
    "tools.py",
    "tools_stream.py",
    "tools_runner.py",
    "mcp_tool_runner.py",
    "thinking.py",
    "structured_outputs.py",
    "structured_outputs_streaming.py",
    "fallbacks.py",
)
"""Plain, streamed, tool-using (by hand, the tool runner, MCP), thinking, structured and fallback requests: each
example is two Python processes, the program importing the SDK (2.5 s with anthropic 2.16): not all of them."""


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples directory of the installed anthropic's sdist."""
    where = tmp_path_factory.mktemp("sdist")
    download = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            str(where),
            f"anthropic=={anthropic.__version__}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if download.returncode != 0:
        if os.environ.get("AGENT_ANATOMY_REQUIRE_SDIST"):
            pytest.fail(f"pip download of the anthropic sdist failed: {download.stderr[-500:]}")
        pytest.skip(f"the anthropic sdist could not be downloaded: {download.stderr.strip()[-200:]}")
    [archive] = where.glob("anthropic-*.tar.gz")
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/examples/" in m.name]  # with the files they read
        tar.extractall(where, members=members, filter="data")
    [folder] = where.glob("anthropic-*/examples")
    return folder


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(SimProfile(seed=5)) as server:
        yield server


def _traced(example: Path, sim: SimServer, spans: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANTHROPIC_BASE_URL": sim.base_url, "ANTHROPIC_API_KEY": "sk-test-example"}
    run = [sys.executable, "-m", "agent_anatomy.cli", "run", "--spans", str(spans), "--format", "json"]
    return subprocess.run(
        [*run, "--output", str(spans.with_suffix(".anatomy.json")), "--", sys.executable, str(example)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=example.parent,
    )


@pytest.fixture(scope="module")
def runs(examples: Path, sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every example run at once (most of their time is the simulated API's latency): its spans file."""
    folder = tmp_path_factory.mktemp("runs")
    present = [name for name in EXAMPLES if (examples / name).exists()]
    with ThreadPoolExecutor(len(present) or 1) as pool:
        done = dict(
            zip(present, pool.map(lambda n: _traced(examples / n, sim, folder / f"{n}.jsonl"), present), strict=True)
        )
    for name, run in done.items():
        assert run.returncode == 0, f"{name}: {run.stderr[-3000:]}"
        assert "exited with 0, " in run.stderr.splitlines()[-1], f"{name}: the anatomy was written"
    return {name: folder / f"{name}.jsonl" for name in present}


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_sdk_example_gets_a_report_that_adds_up_and_advice(runs: dict[str, Path], name: str) -> None:
    if name not in runs:
        pytest.skip(f"anthropic {anthropic.__version__}'s sdist has no examples/{name}")
    anatomy = Anatomy.from_file(runs[name])
    assert len(anatomy) == 1, "one trace: the run"
    trace = anatomy.trace
    assert trace.llm_calls and sum(trace.phases.values()) == trace.wall_ns
    [report] = anatomy.report().traces
    assert sum(step_ms(s) or 0 for s in report.steps) == pytest.approx(report.wall_ms, abs=1 + 0.5 * len(report.steps))
    assert report.suggestions or report.nothing_to_suggest, "advice, or why there is none"
    printed = json.loads(runs[name].with_suffix(".anatomy.json").read_text())
    assert [t["wall_ms"] for t in printed["traces"]] == [report.wall_ms], "what run printed is this anatomy"
    # each of these uses a Sonnet model: Haiku, from the reference table, is at least considered
    if report.suggestions:
        assert all(s.evidence in ("proven", "measured", "reference") and s.basis for s in report.suggestions)
    streamed = all(c.streamed for c in trace.llm_calls)
    if not streamed:  # an unstreamed final answer: always told to stream it, on its estimate
        stream = next(s for s in report.suggestions if s.kind == "stream")
        # at the model's speed in this trace's streamed calls where it has some, else the reference table's
        assert stream.evidence in ("proven", "reference") and stream.saving_ms > 0
        assert all(isinstance(c.estimated_ttft_ms, float) for c in report.llm_calls if c.streamed is False)
