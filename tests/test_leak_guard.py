"""The leak guard fails the test that leaves a process or a pipe behind, not a bystander; ``running()`` reaps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests._processes import running

ROOT = Path(__file__).resolve().parents[1]

LEAKY = """
import os
import subprocess
import sys

import pytest

KEPT = []  # what a leaking test still references (a fixture, a traceback's frame), so no __del__ warns in it


def test_leaves_a_process_running():
    KEPT.append(subprocess.Popen(["sleep", "301"]))


def test_leaves_a_pipe_open():
    process = subprocess.Popen([sys.executable, "-c", "print('pipe-leaker')"], stdout=subprocess.PIPE)
    process.wait()
    KEPT.append(process)


def test_skips_after_starting_a_process():
    agent = subprocess.Popen(["sleep", "302"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # kept by the skip
    pytest.skip("prometheus is not installed")
    agent.communicate()


def test_spawns_a_child_without_popen_and_forgets_it():
    os.posix_spawnp("sleep", ["sleep", "303"], os.environ)


def test_a_bystander_afterwards():
    import gc

    KEPT.clear()
    gc.collect()  # where the leaks' ResourceWarnings would surface without the guard


def test_cleans_up_after_itself():
    subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
    process = subprocess.Popen(["sleep", "304"], stdout=subprocess.PIPE)
    process.kill()
    process.communicate()
"""


@dataclass
class Outcome:
    returncode: int
    output: str
    results: dict[str, dict[str, str]]
    """Per test of the leaky file: its JUnit elements (error, skipped, failure) and their texts."""


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    folder = tmp_path_factory.mktemp("leaky")
    (folder / "test_leaky.py").write_text(textwrap.dedent(LEAKY))
    junit = folder / "junit.xml"
    plugins = ["-p", "tests._leak_guard", "-p", "no:cacheprovider", "-p", "no:asyncio"]
    argv = [*plugins, "-W", "error", f"--junitxml={junit}"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *argv],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    results = {
        case.attrib["name"]: {child.tag: f"{child.attrib.get('message', '')}\n{child.text or ''}" for child in case}
        for case in ElementTree.parse(junit).iter("testcase")
    }
    return Outcome(done.returncode, done.stdout + done.stderr, results)


def test_the_leaking_test_fails_and_names_the_process(outcome: Outcome) -> None:
    assert outcome.returncode == 1, outcome.output
    error = outcome.results["test_leaves_a_process_running"]["error"]
    assert "this test left behind: process" in error and "(sleep 301) was never waited for" in error, error


def test_an_open_pipe_is_named_with_its_process(outcome: Outcome) -> None:
    error = outcome.results["test_leaves_a_pipe_open"]["error"]
    assert "the stdout pipe of process" in error and "pipe-leaker" in error, error
    assert "never waited" not in error, "the process was waited for; only its pipe leaked"


def test_a_test_that_skips_is_still_caught(outcome: Outcome) -> None:
    result = outcome.results["test_skips_after_starting_a_process"]
    assert "prometheus is not installed" in result["skipped"]
    assert "(sleep 302) was never waited for" in result["error"]
    assert "the stdout pipe" in result["error"] and "the stderr pipe" in result["error"], result


def test_a_child_not_started_by_popen_is_caught(outcome: Outcome) -> None:
    error = outcome.results["test_spawns_a_child_without_popen_and_forgets_it"]["error"]
    assert "child process" in error and "(sleep 303) is still running" in error, error


def test_bystanders_pass_and_nothing_is_left(outcome: Outcome) -> None:
    assert outcome.results["test_a_bystander_afterwards"] == {}, "passed"
    assert outcome.results["test_cleans_up_after_itself"] == {}, "passed"
    assert "ResourceWarning" not in outcome.output
    assert sum("error" in result for result in outcome.results.values()) == 4
    assert not _sleepers(), "the guard killed what leaked"


def _sleepers() -> list[str]:
    """Command lines of the leaky file's ``sleep 30N`` processes still alive anywhere."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if words[:1] == [b"sleep"] and words[1:2] in ([b"301"], [b"302"], [b"303"], [b"304"]):
            found.append(b" ".join(words).decode())
    return found


def test_running_reaps_a_process_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), running(["sleep", "305"], stdout=subprocess.PIPE) as process:
        raise RuntimeError("an assertion before the test's own clean-up")
    assert process.returncode is not None and process.stdout is not None and process.stdout.closed


def test_running_stops_with_the_signal_asked_and_keeps_the_exit_status() -> None:
    script = textwrap.dedent(
        """
        import signal, sys, time
        signal.signal(signal.SIGINT, lambda *_: sys.exit(7))
        print("up", flush=True)
        time.sleep(60)
        """
    )
    with running([sys.executable, "-c", script], stop=signal.SIGINT, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None and process.stdout.readline() == "up\n"
    assert process.returncode == 7
