"""Run every benchmark and write one table of results, with the machine, the versions and the date.

Each benchmark runs in a subprocess of its own (its output shown as it goes) and hands back JSON rows;
the suite writes them to ``benchmarks/results/latest.md`` and ``latest.json`` and a dated copy of each.
Every figure in the table is set against a baseline measured in the same run.

    python benchmarks/suite.py [--quick] [--only peers,levers,...] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# name -> (script, arguments, quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "peers": ("bench_peers.py", [], ["--calls", "50", "--rounds", "4"]),
    "decorators": ("bench_decorators.py", [], ["--calls", "2000", "--rounds", "5"]),
    "levers": ("bench_levers.py", [], ["--rounds", "5"]),
    "anatomy": ("bench_anatomy.py", [], ["--rounds", "2"]),
    "sim_ttft": ("bench_sim_ttft.py", [], ["--seconds", "3"]),
}
VERSIONS = ("agent-anatomy", "anthropic", "opentelemetry-sdk", "httpx2", "wrapt")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": {name: metadata.version(name) for name in VERSIONS},
    }


def run(name: str, quick: bool) -> dict[str, Any]:
    script, arguments, quick_arguments = BENCHMARKS[name]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        command = [sys.executable, str(HERE / script), *(quick_arguments if quick else arguments), "--json", str(out)]
        print(f"\n##### {name}: {' '.join(command[1:-2])}", flush=True)
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=HERE.parent, check=False)
        seconds = time.perf_counter() - started
        if completed.returncode != 0 or not out.exists():
            return {"rows": [], "extra": {}, "seconds": seconds, "failed": completed.returncode}
        payload: dict[str, Any] = json.loads(out.read_text())
        return payload | {"seconds": seconds}


def _cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(info: dict[str, Any], runs: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# agent-anatomy benchmark results",
        "",
        f"{info['date']} · {info['cpu']} · {info['cores']} cores · Python {info['python']} · "
        f"load average at start {', '.join(map(str, info['load_average']))}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in {**info["versions"], **info.get("peers", {})}.items()),
        "",
        "Every figure is a median over interleaved rounds against a baseline measured in the same run; "
        "'±' is half the interquartile range across rounds; 'ratio' is figure / baseline (for the peers: "
        "agent-anatomy's overhead / the peer's).",
    ]
    for name, result in runs.items():
        lines += ["", f"## {name} ({result['seconds']:.0f} s)"]
        if "failed" in result:
            lines += ["", f"**failed** (exit code {result['failed']})"]
            continue
        section = None
        for row in result["rows"]:
            if row["section"] != section:
                section = row["section"]
                lines += [
                    "",
                    f"### {section}",
                    "",
                    "| figure | value | unit | ± | baseline | ratio | target | met | note |",
                    "|---|---:|---|---:|---|---:|---|---|---|",
                ]
            cells = [
                row["name"],
                _cell(row["value"]),
                row["unit"],
                _cell(row["spread"]),
                row["baseline"],
                _cell(row["ratio"], 2),
                row["target"],
                _cell(row["ok"]),
                row["note"],
            ]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds: a smoke run, noisy figures")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {list(BENCHMARKS)}")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    options = parser.parse_args()
    chosen = [name.strip() for name in options.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    info = machine()
    started = time.perf_counter()
    runs = {name: run(name, options.quick) for name in chosen}
    info["peers"] = runs.get("peers", {}).get("extra", {}).get("versions", {})
    info["seconds"] = round(time.perf_counter() - started, 1)
    options.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    text = markdown(info, runs)
    payload = json.dumps({"machine": info, "runs": runs}, indent=2)
    for stem in ("latest", stamp):
        (options.out / f"{stem}.md").write_text(text)
        (options.out / f"{stem}.json").write_text(payload)
    print(f"\nwrote {options.out / 'latest.md'} and {options.out / (stamp + '.md')} in {info['seconds']:.0f} s")
    failed = [name for name, result in runs.items() if "failed" in result]
    if failed:
        sys.exit(f"benchmark(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
