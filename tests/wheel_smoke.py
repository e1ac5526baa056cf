"""The wheel as a user installs it: checked, installed into a clean virtualenv, and run there.

    python tests/wheel_smoke.py [DIST]      # DIST holds one wheel and one sdist (default: dist/, from make dist)

A file the code needs at run time but the wheel lacks fails here, as it would for a user: nothing is
installed editable, no development extra is present, and every command runs outside the repository.
Checks, in order:

1. the wheel carries ``py.typed``, the licence, project URLs, known classifiers and the version of
   ``agent_anatomy/version.py``, and every package file git tracks; the sdist carries every tracked file
   but the repository's housekeeping (``.ci/``, dot files), so the tests run from it;
2. installed bare, ``agent-anatomy --version`` answers and ``demo`` names the extra it lacks in one line;
3. with the ``sim`` extra, ``agent-anatomy demo`` and ``examples/quickstart.py`` run, write their traces,
   and ``agent-anatomy report`` reads them back.
"""

from __future__ import annotations

import argparse
import email.parser
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "agent_anatomy"


def fail(message: str) -> None:
    raise SystemExit(f"wheel smoke: {message}")


def version() -> str:
    text = (ROOT / "src" / PACKAGE / "version.py").read_text()
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if found is None:
        fail("src/agent_anatomy/version.py holds no __version__")
    return found.group(1)  # type: ignore[union-attr]


def tracked(folder: str = ".") -> set[str]:
    """The files git tracks under ``folder``, as paths from the repository's root."""
    listed = subprocess.run(["git", "ls-files", "-z", folder], cwd=ROOT, capture_output=True, text=True, check=True)
    return {path for path in listed.stdout.split("\0") if path}


def tracked_package_files() -> set[str]:
    """The package's files git tracks, as paths inside the wheel."""
    return {path.removeprefix("src/") for path in tracked(f"src/{PACKAGE}")}


def check_wheel(wheel: Path, expected_version: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    missing = sorted(tracked_package_files() - names)
    if missing:
        fail(f"{wheel.name} lacks package files git tracks: {', '.join(missing)}")
    if f"{PACKAGE}/py.typed" not in names:
        fail(f"{wheel.name} has no {PACKAGE}/py.typed")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        fail(f"{wheel.name} carries no licence file")
    if metadata["Version"] != expected_version:
        fail(f"{wheel.name} says version {metadata['Version']!r}; version.py says {expected_version!r}")
    if metadata["License-Expression"] != "Apache-2.0":
        fail(f"{wheel.name} has License-Expression {metadata['License-Expression']!r}")
    urls = metadata.get_all("Project-URL") or []
    if not urls:
        fail(f"{wheel.name} names no project URLs")
    import trove_classifiers

    classifiers = metadata.get_all("Classifier") or []
    unknown = [c for c in classifiers if c not in trove_classifiers.classifiers]
    if not classifiers or unknown:
        fail(f"{wheel.name} classifiers unknown to the index: {unknown or 'none given'}")
    print(f"  {wheel.name}: {len(names)} files, {len(urls)} project URLs, {len(classifiers)} classifiers")


def check_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    needed = {path for path in tracked() if not path.startswith(".")}  # all but the repository's housekeeping
    missing = sorted(needed - names)
    if missing:
        fail(f"{sdist.name} lacks {', '.join(missing)}")
    print(f"  {sdist.name}: {len(names)} files")


def run(argv: list[str], cwd: Path, *, expect: int = 0, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_", "PYTHON"))}
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    shown = " ".join(Path(a).name if os.sep in a else a for a in argv)
    print(f"  $ {shown}  ({time.monotonic() - started:.1f} s, exit {done.returncode})")
    if done.returncode != expect:
        fail(f"{shown} exited {done.returncode}, not {expect}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def smoke(wheel: Path, expected_version: str) -> None:
    with tempfile.TemporaryDirectory(prefix="agent-anatomy-wheel-") as folder:
        work = Path(folder)
        venv.create(work / "venv", with_pip=True)
        python, bin_dir = work / "venv" / "bin" / "python", work / "venv" / "bin"
        run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], work)

        print("installed bare (no extras):")
        shown = run([str(bin_dir / "agent-anatomy"), "--version"], work).stdout.strip()
        if shown != f"agent-anatomy {expected_version}":
            fail(f"--version printed {shown!r}")
        where = run([str(python), "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], work).stdout.strip()
        if not where.startswith(str(work / "venv")):
            fail(f"{PACKAGE} was imported from {where}, not from the virtualenv")
        refused = run([str(bin_dir / "agent-anatomy"), "demo", "--no-color"], work, expect=2).stderr
        errors = [line for line in refused.splitlines() if not line.startswith("agent-anatomy demo: loading")]
        if len(errors) != 1 or "pip install 'agent-anatomy[sim]'" not in errors[0]:
            fail(f"demo without the sim extra should say, in one line, how to install it; it said:\n{refused}")

        print("with the sim extra:")
        run([str(python), "-m", "pip", "install", "--quiet", f"{wheel}[sim]"], work)
        run([str(bin_dir / "agent-anatomy"), "demo", "--no-color", "--export", "jsonl:demo.jsonl"], work)
        report = run([str(bin_dir / "agent-anatomy"), "report", "demo.jsonl", "--no-color"], work).stdout
        if "What would save the most" not in report:
            fail(f"the report of the demo's traces gives no advice:\n{report}")
        run([str(bin_dir / "agent-anatomy"), "report", "demo.jsonl", "--format", "html", "--output", "demo.html"], work)
        page = (work / "demo.html").read_text(encoding="utf-8")
        if "anatomy-data" not in page or "getElementById('anatomy-data')" not in page:
            fail("the HTML report lacks its data or the script that draws it (a package file the wheel must carry)")
        quickstart = ROOT / "examples" / "quickstart.py"
        printed = run([str(python), str(quickstart), "--export", "jsonl:quickstart.jsonl"], work).stdout
        if "invoke_agent support" not in printed:
            fail(f"quickstart printed no agent span:\n{printed}")
        report = run([str(bin_dir / "agent-anatomy"), "report", "quickstart.jsonl", "--no-color"], work).stdout
        if "get_user_profile" not in report or "get_transaction_history" not in report:
            fail(f"the report of the quickstart's trace lacks its tools:\n{report}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", nargs="?", default=str(ROOT / "dist"), help="the folder make dist wrote")
    dist = Path(parser.parse_args().dist).resolve()
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"{dist} should hold one wheel and one sdist (make dist), not {[p.name for p in wheels + sdists]}")
    expected_version = version()
    started = time.monotonic()
    print("the archives:")
    check_wheel(wheels[0], expected_version)
    check_sdist(sdists[0])
    smoke(wheels[0], expected_version)
    print(f"wheel smoke: passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
