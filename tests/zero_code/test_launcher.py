"""``agent-anatomy run``: unmodified programs traced from outside, one trace a run, the anatomy printed at exit
however the program ends, its exit status kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent_anatomy import semconv
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.sim import SimServer
from agent_anatomy.zero_code.launcher import program_name
from tests._processes import running

AGENT = """
import sys
import anthropic

client = anthropic.Anthropic(default_headers={"x-sim-ttft-ms": "20", "x-sim-tokens-per-s": "5000"})
tools = [{"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
messages = [{"role": "user", "content": "Where is my order?"}]
while True:
    reply = client.messages.create(model="claude-haiku-4-5", max_tokens=64, tools=tools, messages=messages)
    messages.append({"role": "assistant", "content": reply.content})
    if reply.stop_reason != "tool_use":
        break
    results = [{"type": "tool_result", "tool_use_id": b.id, "content": "shipped"}
               for b in reply.content if b.type == "tool_use"]
    messages.append({"role": "user", "content": results})
print("ANSWER", reply.content[0].text[:20])
"""


def _program(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def _env(sim: SimServer, **extra: str) -> dict[str, str]:
    return {**os.environ, "ANTHROPIC_BASE_URL": sim.base_url, "ANTHROPIC_API_KEY": "sk-test", **extra}


def _run(
    sim: SimServer, tmp_path: Path, *command: str, options: tuple[str, ...] = (), **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_anatomy.cli", "run", "--no-color", *options, "--", *command],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(sim, **extra),
        cwd=tmp_path,
    )


def _spans(path: Path) -> list[dict]:
    return [span for line in path.read_text().splitlines() for span in _otlp_spans(json.loads(line))]


def _otlp_spans(document: dict) -> list[dict]:
    return [
        span for resource in document["resourceSpans"] for scope in resource["scopeSpans"] for span in scope["spans"]
    ]


def test_an_unmodified_agent_is_one_trace_and_its_anatomy_is_printed(sim: SimServer, tmp_path: Path) -> None:
    program = _program(tmp_path, "support", AGENT)
    spans = tmp_path / "run.jsonl"
    done = _run(sim, tmp_path, sys.executable, str(program), options=("--spans", str(spans)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ANSWER "), "the program's own output, untouched, on its stdout"
    assert "Latency anatomy" in done.stderr and "Where the time went" in done.stderr
    assert "exited with 0, " in done.stderr.splitlines()[-1]
    recorded = _spans(spans)
    assert len({span["traceId"] for span in recorded}) == 1, "the run is one trace"
    [root] = [span for span in recorded if not span.get("parentSpanId")]
    assert root["name"] == "invoke_agent support"
    chats = [span for span in recorded if span["name"] == "chat claude-haiku-4-5"]
    assert len(chats) == 2 and all(span["parentSpanId"] == root["spanId"] for span in chats)
    anatomy = Anatomy.from_file(spans)
    assert len(anatomy) == 1 and len(anatomy.trace.llm_calls) == 2
    [report] = anatomy.report().traces
    assert report.suggestions or report.nothing_to_suggest


@pytest.mark.parametrize(
    ("ending", "status", "error"),
    [("raise RuntimeError('no stock')", 1, "RuntimeError"), ("raise SystemExit(3)", 3, None)],
)
def test_the_exit_status_is_the_programs_and_a_crash_fails_the_run(
    sim: SimServer, tmp_path: Path, ending: str, status: int, error: str | None
) -> None:
    program = _program(tmp_path, "crashing", AGENT + ending + "\n")
    spans = tmp_path / "run.jsonl"
    done = _run(sim, tmp_path, sys.executable, str(program), options=("--spans", str(spans), "--format", "json"))
    assert done.returncode == status, done.stderr
    document = json.loads(done.stderr[done.stderr.index("{\n") : done.stderr.rindex("}") + 1])
    [trace] = document["traces"]
    assert len(trace["llm_calls"]) == 2, "the calls before the end are all there"
    [root] = [span for span in _spans(spans) if not span.get("parentSpanId")]
    attributes = {a["key"]: a["value"].get("stringValue") for a in root.get("attributes", [])}
    assert attributes.get(semconv.ERROR_TYPE) == error


def test_ctrl_c_ends_the_program_and_the_anatomy_is_still_printed(sim: SimServer, tmp_path: Path) -> None:
    program = _program(tmp_path, "waiting", AGENT + "import time\nprint('READY', flush=True)\ntime.sleep(60)\n")
    argv = [sys.executable, "-m", "agent_anatomy.cli", "run", "--no-color", "--", sys.executable, str(program)]
    # a session of its own: no terminal, so the SIGINT sent to the launcher alone is passed on to the program
    with running(
        argv,
        env=_env(sim),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as launcher:
        assert launcher.stdout is not None and launcher.stderr is not None
        for line in launcher.stdout:
            if line.startswith("READY"):
                break
        launcher.send_signal(signal.SIGINT)
        stderr = launcher.stderr.read()
        assert launcher.wait(60) == 130, stderr
    assert "KeyboardInterrupt" in stderr and "Latency anatomy" in stderr
    assert "exited with 130" in stderr


def test_a_python_child_process_joins_the_runs_trace(sim: SimServer, tmp_path: Path) -> None:
    child = _program(tmp_path, "worker", AGENT)
    parent = _program(
        tmp_path,
        "parent",
        f"import subprocess, sys\nsubprocess.run([sys.executable, {str(child)!r}], check=True)\n",
    )
    spans = tmp_path / "run.jsonl"
    done = _run(sim, tmp_path, sys.executable, str(parent), options=("--spans", str(spans)))
    assert done.returncode == 0, done.stderr
    recorded = _spans(spans)
    assert len({span["traceId"] for span in recorded}) == 1
    [root] = [span for span in recorded if not span.get("parentSpanId")]
    assert root["name"] == "invoke_agent parent"
    assert sum(span["name"].startswith("chat ") for span in recorded) == 2, "the worker's calls, in the run's trace"


def test_the_programs_own_configure_keeps_its_exporter(sim: SimServer, tmp_path: Path) -> None:
    program = _program(
        tmp_path,
        "configured",
        "import agent_anatomy as aa\nhandle = aa.configure(exporter='jsonl:own.jsonl', metrics=False)\n"
        + AGENT
        + "handle.shutdown()\n",
    )
    spans = tmp_path / "run.jsonl"
    done = _run(sim, tmp_path, sys.executable, str(program), options=("--spans", str(spans)))
    assert done.returncode == 0, done.stderr
    own = [span["name"] for span in _spans(tmp_path / "own.jsonl")]
    assert own.count("chat claude-haiku-4-5") == 2, "the program's exporter got its spans"
    assert [span["name"] for span in _spans(spans)].count("chat claude-haiku-4-5") == 2, "and so did the run"


def test_a_sitecustomize_of_the_users_still_runs(sim: SimServer, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import builtins\nbuiltins.MARKED = 'yes'\n")
    program = _program(tmp_path, "marked", "print('MARKED', MARKED)\n")
    done = _run(sim, tmp_path, sys.executable, str(program), PYTHONPATH=str(site))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "MARKED yes\n"


def test_programs_that_cannot_start_or_write_no_spans(sim: SimServer, tmp_path: Path) -> None:
    missing = _run(sim, tmp_path, "no-such-program-here")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "agent-anatomy: error: cannot start 'no-such-program-here': No such file or directory"
    ]
    silent = _run(sim, tmp_path, "sh", "-c", "exit 4")
    assert silent.returncode == 4
    assert "wrote no spans" in silent.stderr and "Traceback" not in silent.stderr


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["python", "app.py", "--flag"], "app"),
        (["/usr/bin/python3.12", "-u", "-m", "pkg.cli", "x"], "pkg.cli"),
        (["python3", "-c", "print(1)"], "python -c"),
        (["./run-agent.sh"], "run-agent"),
    ],
)
def test_the_run_is_named_after_the_program(command: list[str], name: str) -> None:
    assert program_name(command) == name
