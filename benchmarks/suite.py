"""Run every benchmark and write one table of results, with the machine, the versions and the date.

Each benchmark runs in a subprocess of its own (its output shown as it goes) and hands back JSON rows;
the suite writes them to ``benchmarks/results/latest.md`` and ``latest.json`` and a dated copy of each.
Every figure in the table is set against a baseline measured in the same run. A run of some benchmarks
(``--only``) keeps the latest results of the others, each with the date it was measured.

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
    "peers": ("bench_peers.py", [], ["--rounds", "2", "--scale", "0.25"]),
    "decorators": ("bench_decorators.py", [], ["--calls", "2000", "--rounds", "5"]),
    "levers": ("bench_levers.py", [], ["--rounds", "5"]),
    "anatomy": ("bench_anatomy.py", ["--scale"], ["--rounds", "2"]),
    "fleet": ("bench_fleet.py", [], ["--rounds", "2", "--traces", "100"]),
    "sim_ttft": ("bench_sim_ttft.py", [], ["--seconds", "3"]),
}
VERSIONS = ("agent-anatomy", "anthropic", "opentelemetry-sdk", "httpx2", "wrapt")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


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
        "date": _now(),
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
        started, date = time.perf_counter(), _now()
        completed = subprocess.run(command, cwd=HERE.parent, check=False)
        seconds = time.perf_counter() - started
        if completed.returncode != 0 or not out.exists():
            return {"rows": [], "extra": {}, "seconds": seconds, "date": date, "failed": completed.returncode}
        payload: dict[str, Any] = json.loads(out.read_text())
        return payload | {"seconds": seconds, "date": date}


def kept_runs(path: Path, ran: dict[str, dict[str, Any]], machine_info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The benchmarks this run measured, and from the previous results at ``path`` (when it was taken on
    this machine) those it did not, each dated; in the suite's order."""
    try:
        previous = json.loads(path.read_text())
        runs, info = previous["runs"], previous["machine"]
    except (OSError, ValueError, KeyError, TypeError):
        return ran
    if (info.get("cpu"), info.get("cores")) != (machine_info["cpu"], machine_info["cores"]):
        return ran
    merged = {}
    for name in BENCHMARKS:
        if name in ran:
            merged[name] = ran[name]
        elif isinstance(runs.get(name), dict) and runs[name].get("rows"):
            merged[name] = {"date": info.get("date", "an earlier run")} | runs[name]
            print(f"kept from {merged[name]['date']}: {name}")
    return merged


def _cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


PEER_COLUMNS = {
    "agent-anatomy": "agent-anatomy",
    "agent-anatomy-no-wire": "agent-anatomy, client's tracing off",
    "floor": "floor (1 bare span)",
    "sdk-builtin": "SDK built-in",
    "openllmetry": "OpenLLMetry",
    "openinference": "OpenInference",
    "otel-genai": "OTel GenAI",
    "openllmetry+sdk": "OpenLLMetry + SDK",
    "openinference+sdk": "OpenInference + SDK",
    "otel-genai+sdk": "OTel GenAI + SDK",
}


def peer_summary(rows: list[dict[str, Any]]) -> list[str]:
    """One line per transport and workload: every peer's overhead, and our ratios to the lightest and the floor."""
    sections: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        sections.setdefault(row["section"], {})[row["name"]] = row
    lines = [
        "| transport / workload | bare call | "
        + " | ".join(f"{title} +µs" for title in PEER_COLUMNS.values())
        + " | ours / lightest peer | ours / floor | targets met |",
        "|---|---:|" + "---:|" * len(PEER_COLUMNS) + "---:|---:|---|",
    ]
    for section, peers in sections.items():
        targets = peers.get("targets")
        if targets is None:
            continue
        cells = [
            f"{peers[name]['value']:+,.0f} ±{peers[name]['spread']:,.0f}" if name in peers else "—"
            for name in PEER_COLUMNS
        ]
        lines.append(
            f"| {section.removeprefix('anthropic ')} | {peers['agent-anatomy']['baseline'].removeprefix('bare ')} | "
            + " | ".join(cells)
            + f" | {_cell(targets['value'], 2)} | {_cell(targets['ratio'], 2)} | {targets['note']} |"
        )
    return lines


def lever_summary(runs: dict[str, dict[str, Any]]) -> list[str]:
    """The figures of every benchmark but the peers, one line each."""
    lines = ["| benchmark | figure | value | baseline | ratio | target | met |", "|---|---|---:|---|---:|---|---|"]
    for name, result in runs.items():
        for row in result.get("rows", []) if name != "peers" else []:
            lines.append(
                f"| {row['section']} | {row['name']} | {_cell(row['value'])} {row['unit']} | {row['baseline']} | "
                f"{_cell(row['ratio'], 2)} | {row['target']} | {_cell(row['ok'])} |".replace("\n", " ")
            )
    return lines


def target_lines(runs: dict[str, dict[str, Any]]) -> list[str]:
    """Every figure that has a target, with met or NOT MET, and how many were met: what ``make bench`` ends with."""
    lines = []
    met = 0
    rows = [row for result in runs.values() for row in result.get("rows", []) if row.get("ok") is not None]
    for row in rows:
        met += bool(row["ok"])
        figure = f"{row['section']}: {row['name']}".replace("\n", " ")
        lines.append(
            f"  {'met    ' if row['ok'] else 'NOT MET'}  {figure}  ({row['target']}; {_cell(row['ratio'], 2)})"
        )
    return [f"targets: {met} of {len(rows)} met", *lines]


def update_tables(path: Path, info: dict[str, Any], runs: dict[str, dict[str, Any]]) -> None:
    """Put the summaries between the performance page's ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` markers;
    a block with no results is left as it is."""
    text = path.read_text()
    levers = {name: result for name, result in runs.items() if name != "peers" and result.get("rows")}
    blocks: dict[str, tuple[list[str], list[str]]] = {}
    if levers:
        blocks["levers"] = (
            lever_summary(levers),
            sorted({result.get("date", info["date"]) for result in levers.values()}),
        )
    if runs.get("peers", {}).get("rows"):
        blocks["peers"] = (peer_summary(runs["peers"]["rows"]), [runs["peers"].get("date", info["date"])])
    for name, (lines, dates) in blocks.items():
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        if start not in text or end not in text:
            raise SystemExit(f"{path} has no {start} ... {end} block")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        note = f"*{when}, {info['cpu']}, {info['cores']} cores*"
        text = head + start + "\n" + note + "\n\n" + "\n".join(lines) + "\n" + end + tail
    path.write_text(text)


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
    if runs.get("peers", {}).get("rows"):
        lines += ["", "## Summary: instrumentation overhead per call (CPU µs over the bare call)", ""]
        lines += peer_summary(runs["peers"]["rows"])
    for name, result in runs.items():
        lines += ["", f"## {name} ({result.get('date', info['date'])}, {result['seconds']:.0f} s)"]
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
    parser.add_argument("--docs", action="store_true", help="also update the tables of docs/performance.md")
    parser.add_argument("--from-json", type=Path, default=None, help="render a previous run's JSON instead of running")
    options = parser.parse_args()
    chosen = [name.strip() for name in options.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    if options.from_json is not None:
        previous = json.loads(options.from_json.read_text())
        info, runs = previous["machine"], previous["runs"]
    else:
        info = machine()
        started = time.perf_counter()
        runs = {name: run(name, options.quick) for name in chosen}
        info["seconds"] = round(time.perf_counter() - started, 1)
        if not options.quick and set(chosen) != set(BENCHMARKS):
            runs = kept_runs(options.out / "latest.json", runs, info)
        info["peers"] = runs.get("peers", {}).get("extra", {}).get("versions", {})
    if options.docs:
        update_tables(HERE.parent / "docs" / "performance.md", info, runs)
    options.out.mkdir(parents=True, exist_ok=True)
    stamp = info["date"][:10]
    text = markdown(info, runs)
    payload = json.dumps({"machine": info, "runs": runs}, indent=2)
    for stem in ("latest", stamp):
        (options.out / f"{stem}.md").write_text(text)
        (options.out / f"{stem}.json").write_text(payload)
    print(f"\nwrote {options.out / 'latest.md'} and {options.out / (stamp + '.md')} in {info['seconds']:.0f} s")
    print("\n".join(target_lines(runs)))
    failed = [name for name, result in runs.items() if "failed" in result]
    if failed:
        sys.exit(f"benchmark(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
