"""The ``agent-anatomy`` command: ``demo``, ``report`` and ``sim``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence

from .errors import AgentAnatomyError, ConfigurationError
from .version import __version__


def _add_sim(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser(
        "sim",
        help="run the simulated Anthropic Messages API",
        description="Serve POST /v1/messages with seeded, realistic latency; point anthropic.Anthropic(base_url=...) "
        "at it. Binds 127.0.0.1 unless --host says otherwise.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    sim.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 picks a free one)")
    sim.add_argument("--profile", help="latency and fault profile (.toml, .yaml or .json)")
    sim.add_argument("--scenario", help="scripted tool-calling turns (.json or .toml)")
    sim.add_argument("--seed", type=int, help="seed of the latency draws (overrides the profile's)")
    sim.add_argument("--zero-latency", action="store_true", help="answer at once (for overhead benchmarks)")
    sim.set_defaults(run=_run_sim)


def _run_sim(args: argparse.Namespace) -> int:
    from .sim import SimServer, load_profile, load_scenario
    from .sim.profiles import SimProfile

    profile = load_profile(args.profile) if args.profile else SimProfile()
    if args.seed is not None:
        profile.seed = args.seed
    if args.zero_latency:
        profile = profile.with_zero_latency()
    scenario = load_scenario(args.scenario) if args.scenario else None
    server = SimServer(profile, scenario, host=args.host, port=args.port).start()
    exposure = "loopback only" if args.host in ("127.0.0.1", "localhost", "::1") else "reachable from the network"
    print(f"simulated Anthropic API on {server.base_url} ({exposure}); Ctrl-C to stop", flush=True)
    print(f"  client = anthropic.Anthropic(base_url={server.base_url!r}, api_key='sim')", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="run the seed's support agent naive and optimised, and show both latency anatomies",
        description="Runs on the embedded simulated Anthropic API (no API key) unless --real is given.",
    )
    demo.add_argument("--real", action="store_true", help="use the real Anthropic API (needs ANTHROPIC_API_KEY)")
    demo.add_argument("--export", choices=["otlp", "console"], help="also export the spans (otlp: to a collector)")
    demo.add_argument("--html", metavar="PATH", help="write both anatomies as one HTML page")
    demo.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    demo.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    # The first import of the anthropic SDK takes seconds on a busy machine: say what is happening first.
    print("agent-anatomy demo: loading the anthropic SDK and starting the simulated API...", flush=True)
    from .demo import run_demo

    run_demo(real=args.real, export=args.export, html_path=args.html, color=False if args.no_color else None)
    return 0


def _add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="print the latency anatomy of traces from a file, Jaeger or Phoenix",
        description="FILE: OTLP JSON, OTLP JSON Lines (the jsonl: exporter), Jaeger JSON or Phoenix span JSON. Or "
        "--jaeger URL with --trace-id, or with --service and --since for every trace in a time window. Or "
        "--phoenix URL with --trace-id (and --project).",
    )
    report.add_argument("file", nargs="?", help="a trace file")
    report.add_argument("--jaeger", metavar="URL", help="a Jaeger query service, e.g. http://localhost:16686")
    report.add_argument("--phoenix", metavar="URL", help="an Arize Phoenix server, e.g. http://localhost:6006")
    report.add_argument("--project", default="default", help="with --phoenix: the project (default: default)")
    report.add_argument("--trace-id", help="the trace to report (default: every trace in the file)")
    report.add_argument("--service", help="with --jaeger: report this service's traces")
    report.add_argument("--since", default="1h", help="with --service: how far back, e.g. 30m, 1h, 2d (default 1h)")
    report.add_argument("--limit", type=int, default=100, help="with --service: at most this many traces")
    report.add_argument("--format", choices=["text", "json", "html"], default="text")
    report.add_argument("--spans", action="store_true", help="with --format json: every span, with its phase")
    report.add_argument("--output", metavar="PATH", help="write there instead of to standard output")
    report.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    report.set_defaults(run=_run_report)


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        raise ConfigurationError(
            f"--since {text!r} is not a duration like 30m, 1h or 2d", setting="--since", value=text
        ) from None


_PROGRESS_MIN_BYTES = 20_000_000


def _progress_line(path: str) -> Callable[[str, int, int], None] | None:
    """A progress line on a terminal's stderr while a large file is read and analysed; None otherwise."""
    try:
        large = os.path.getsize(path) >= _PROGRESS_MIN_BYTES
    except OSError:
        return None
    if not (large and sys.stderr.isatty()):
        return None

    def show(what: str, done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{what} {path}: {done / max(total, 1):4.0%}{end}")
        sys.stderr.flush()

    return show


def _run_report(args: argparse.Namespace) -> int:
    from .anatomy import Anatomy

    if sum(source is not None for source in (args.file, args.jaeger, args.phoenix)) != 1:
        raise ConfigurationError(
            "report needs one source: a FILE, --jaeger URL or --phoenix URL", setting="report", value=None
        )
    if args.file is not None:
        anatomy = Anatomy.from_file(args.file, args.trace_id, progress=_progress_line(args.file))
    elif args.phoenix is not None:
        if args.trace_id is None:
            raise ConfigurationError("--phoenix needs --trace-id", setting="--phoenix", value=args.phoenix)
        anatomy = Anatomy.from_phoenix(args.phoenix, args.trace_id, project=args.project)
    elif args.trace_id is None and args.service is None:
        raise ConfigurationError(
            "--jaeger needs --trace-id, or --service (with --since)", setting="--jaeger", value=args.jaeger
        )
    else:
        anatomy = Anatomy.from_jaeger(
            args.jaeger, args.trace_id, service=args.service, since_s=_seconds(args.since), limit=args.limit
        )
    color = False if (args.no_color or args.output) else None
    rendered = anatomy.render(args.format, color=color, spans=args.spans)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as file:
                file.write(rendered)
        except OSError as exc:
            raise ConfigurationError(
                f"--output {args.output}: cannot write there: {exc.strerror}", setting="--output", value=args.output
            ) from exc
        print(f"wrote {args.format} anatomy of {len(anatomy)} trace(s) to {args.output}")
    else:
        sys.stdout.write(rendered if rendered.endswith("\n") else rendered + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-anatomy",
        description="Trace AI agents and show where their latency goes.",
    )
    parser.add_argument("--version", action="version", version=f"agent-anatomy {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_demo(commands)
    _add_report(commands)
    _add_sim(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except AgentAnatomyError as exc:
        print(f"agent-anatomy: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("agent-anatomy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
