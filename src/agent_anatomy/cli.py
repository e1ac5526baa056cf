"""The ``agent-anatomy`` command: ``demo``, ``report``, ``list``, ``compare``, ``check`` and ``sim``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Final, TextIO

from .anatomy.formatting import DEFAULT_WIDTH, count
from .errors import AgentAnatomyError, ConfigurationError
from .version import __version__

if TYPE_CHECKING:
    from .anatomy import Anatomy


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
    sim.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="FILE",
        help="scripted tool turns and answers (.json or .toml); repeatable: a request names one with the "
        "x-sim-scenario header, and the first answers requests that name none (default: the seed article's "
        "support agent, and the automatic scenario for agents it does not know)",
    )
    sim.add_argument("--seed", type=int, help="seed of the latency draws (overrides the profile's)")
    sim.add_argument("--zero-latency", action="store_true", help="answer at once (for overhead benchmarks)")
    sim.set_defaults(run=_run_sim)


def _run_sim(args: argparse.Namespace) -> int:
    from .sim import SimServer, load_profile
    from .sim.profiles import SimProfile
    from .sim.scenarios import load_scenarios

    profile = load_profile(args.profile) if args.profile else SimProfile()
    if args.seed is not None:
        profile.seed = args.seed
    if args.zero_latency:
        profile = profile.with_zero_latency()
    scenarios = {name: scenario for path in args.scenario for name, scenario in load_scenarios(path).items()}
    default = next(iter(scenarios.values()), None)
    server = SimServer(profile, default, scenarios=scenarios, host=args.host, port=args.port).start()
    exposure = "loopback only" if args.host in ("127.0.0.1", "localhost", "::1") else "reachable from the network"
    print(f"simulated Anthropic API on {server.base_url} ({exposure}); Ctrl-C to stop", flush=True)
    print(f"  client = anthropic.Anthropic(base_url={server.base_url!r}, api_key='sim')", flush=True)
    if scenarios:
        print(f"  scenarios (x-sim-scenario): {', '.join(scenarios)}", flush=True)
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
    demo.add_argument(
        "--export",
        type=_demo_export,
        metavar="{otlp,console,jsonl:PATH}",
        help="also export the spans (otlp: to a collector; jsonl:PATH: to a file that report reads)",
    )
    demo.add_argument("--html", metavar="PATH", help="write both anatomies as one HTML page")
    demo.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    demo.set_defaults(run=_run_demo)


def _demo_export(value: str) -> str:
    if value in ("otlp", "console") or (value.startswith("jsonl:") and value != "jsonl:"):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not otlp, console or jsonl:PATH")


def _run_demo(args: argparse.Namespace) -> int:
    # The first import of the anthropic SDK takes seconds on a busy machine: say what is happening first.
    print("agent-anatomy demo: loading the anthropic SDK and starting the simulated API...", flush=True)
    from .demo import run_demo

    run_demo(real=args.real, export=args.export, html_path=args.html, color=False if args.no_color else None)
    return 0


def _add_source(command: argparse.ArgumentParser, *, trace_id: bool = True) -> None:
    """The trace source options every reading command takes: a FILE, or Jaeger, or Phoenix."""
    command.add_argument("file", nargs="?", help="a trace file")
    command.add_argument("--jaeger", metavar="URL", help="a Jaeger query service, e.g. http://localhost:16686")
    command.add_argument("--phoenix", metavar="URL", help="an Arize Phoenix server, e.g. http://localhost:6006")
    command.add_argument("--project", default="default", help="with --phoenix: the project (default: default)")
    if trace_id:
        command.add_argument("--trace-id", help="the trace to read (default: every trace in the file)")
    command.add_argument("--service", help="with --jaeger: this service's traces")
    command.add_argument("--since", default="1h", help="with --service: how far back, e.g. 30m, 1h, 2d (default 1h)")
    command.add_argument("--limit", type=int, default=100, help="with --service: at most this many traces")


def _add_output(command: argparse.ArgumentParser, *, instead_of: str = "standard output") -> None:
    """How a report is written: its format, where, and whether in colour."""
    command.add_argument("--format", choices=["text", "json", "html"], default="text")
    command.add_argument("--output", metavar="PATH", help=f"write there instead of to {instead_of}")
    command.add_argument("--no-color", action="store_true", help="plain text even on a terminal")


_SOURCES: Final = (
    "FILE: OTLP JSON, OTLP JSON Lines (the jsonl: exporter), Jaeger JSON or Phoenix span JSON. Or --jaeger URL with "
    "--trace-id, or with --service and --since for every trace in a time window. Or --phoenix URL with --trace-id "
    "(and --project)."
)


def _add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report", help="print the latency anatomy of traces from a file, Jaeger or Phoenix", description=_SOURCES
    )
    _add_source(report)
    _add_output(report)
    report.add_argument("--spans", action="store_true", help="with --format json: every span, with its phase")
    report.add_argument(
        "--each",
        type=int,
        default=5,
        metavar="N",
        help="with several traces, the text report shows the anatomy of the N slowest one by one (default 5; 0: none)",
    )
    report.add_argument(
        "--speeds",
        metavar="FILE|URL",
        help="models' speeds measured elsewhere, for the what-ifs of models these traces do not stream: a file "
        "--write-speeds wrote, or the fleet view's Prometheus, prometheus+http://HOST:9090 (?window=6h)",
    )
    report.add_argument(
        "--write-speeds",
        metavar="FILE",
        help="also write each model's median first-token time and output speed over these traces to FILE",
    )
    report.set_defaults(run=_run_report)


def _add_list(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser(
        "list",
        help="list the traces in a file (id, service, start, wall time, LLM calls, first token)",
        description=_SOURCES,
    )
    _add_source(listing, trace_id=False)
    listing.add_argument("--format", choices=["text", "json"], default="text")
    listing.set_defaults(run=_run_list)


def _add_compare(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = commands.add_parser(
        "compare",
        help="compare two sets of traces: p50/p95 per phase, and what changed on the critical path",
        description="BEFORE and AFTER are each a trace file (PATH, or PATH#TRACE_ID for one of its traces), "
        "jaeger+http://HOST:16686/trace/TRACE_ID, jaeger+http://HOST:16686/search?service=NAME&lookback=1h&limit=100 "
        "or phoenix+http://HOST:6006/trace/TRACE_ID?project=NAME. With one trace on each side the two anatomies are "
        "lined up step by step; with several, the typical trace of each side is.",
    )
    compare.add_argument("before", help="the traces before the change")
    compare.add_argument("after", help="the traces after it")
    _add_output(compare)
    compare.set_defaults(run=_run_compare)


def _add_check(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        help="check traces against a latency budget (exit 1 when a limit is missed)",
        description="Checks every trace of the source against the limits of a TOML budget file (see docs/anatomy.md): "
        "exit 0 when all are met, 1 when one is missed or cannot be measured, 2 on bad input. " + _SOURCES,
    )
    _add_source(check)
    check.add_argument("--budget", metavar="TOML", required=True, help="the budget file")
    check.add_argument("--junit", metavar="PATH", help="also write the verdicts as JUnit XML, one test per limit")
    check.set_defaults(run=_run_check)


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="run a program unmodified, traced, and print its latency anatomy when it exits",
        description="Runs COMMAND (agent-anatomy run -- python app.py ARGS) with every instrumentation agent-anatomy "
        "has turned on in each of its Python processes (the anthropic SDK, MCP, the Claude Agent SDK), the whole run "
        "one trace under one invoke_agent span, and prints its anatomy to standard error when it ends, also on an "
        "exception or Ctrl-C. The exit status is the program's. The program's own configure() and exporters keep "
        "working beside it.",
    )
    _add_output(run, instead_of="standard error")
    run.add_argument("--html", metavar="PATH", help="also write the HTML anatomy there")
    run.add_argument("--spans", metavar="PATH", help="keep the run's spans there (OTLP JSON Lines; report reads it)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the program and its arguments, after --")
    run.set_defaults(run=_run_run)


def _run_run(args: argparse.Namespace) -> int:
    from .anatomy import Anatomy
    from .zero_code import run_program

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    result = run_program(command, args.spans)
    try:
        if result.span_count == 0:
            print(
                f"agent-anatomy run: {command[0]} wrote no spans (no Python process of it started, or each was "
                "ended by SIGKILL or os._exit)",
                file=sys.stderr,
            )
            return result.exit_code
        try:
            anatomy = Anatomy.from_file(result.spans)
            if args.html:
                _write(args.html, anatomy.render("html"), "--html")
            color = False if (args.no_color or args.output) else None
            rendered = anatomy.render_parts(args.format, color=color, width=DEFAULT_WIDTH if args.output else None)
            if args.output:
                _write(args.output, rendered)
            else:
                _put(sys.stderr, rendered)
        except AgentAnatomyError as exc:  # the program's exit status stays the answer
            print(f"agent-anatomy run: no anatomy: {exc}", file=sys.stderr)
            return result.exit_code
        kept = f"; its spans are in {result.spans}" if args.spans else ""
        wrote = [f"the {args.format} anatomy to {args.output}"] if args.output else []
        wrote += [f"the HTML anatomy to {args.html}"] if args.html else []
        print(
            f"agent-anatomy run: {' '.join(command)} exited with {result.exit_code}, "
            f"{count(result.span_count, 'span')}{kept}" + (f"; wrote {' and '.join(wrote)}" if wrote else ""),
            file=sys.stderr,
        )
        return result.exit_code
    finally:
        if args.spans is None:
            result.spans.unlink(missing_ok=True)


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


def _source_name(args: argparse.Namespace) -> str:
    if args.file is not None:
        return str(args.file)
    if args.phoenix is not None:
        return f"Phoenix at {args.phoenix}"
    return f"Jaeger at {args.jaeger}"


def _anatomy_from(args: argparse.Namespace, *, reports: bool = True) -> Anatomy:
    """The traces the source options name (one source: a FILE, --jaeger or --phoenix). ``reports=False``: a
    large file's traces keep their figures and rows only (``Anatomy.from_file``), for what shows a few."""
    from .anatomy import Anatomy, parse_duration
    from .anatomy.speeds import speeds_from

    trace_id = getattr(args, "trace_id", None)
    if sum(source is not None for source in (args.file, args.jaeger, args.phoenix)) != 1:
        raise ConfigurationError(
            f"{args.command} needs one source: a FILE, --jaeger URL or --phoenix URL", setting=args.command, value=None
        )
    speeds = speeds_from(args.speeds) if getattr(args, "speeds", None) else None
    if args.file is not None:
        return Anatomy.from_file(
            args.file, trace_id, progress=_progress_line(args.file), speeds=speeds, reports=reports
        )
    if args.phoenix is not None:
        if trace_id is None:
            raise ConfigurationError("--phoenix needs --trace-id", setting="--phoenix", value=args.phoenix)
        return Anatomy.from_phoenix(args.phoenix, trace_id, project=args.project, speeds=speeds)
    if trace_id is None and args.service is None:
        raise ConfigurationError(
            "--jaeger needs --trace-id, or --service (with --since)", setting="--jaeger", value=args.jaeger
        )
    return Anatomy.from_jaeger(
        args.jaeger,
        trace_id,
        service=args.service,
        since_s=parse_duration(args.since),
        limit=args.limit,
        speeds=speeds,
    )


def _write(path: str, text: str | Iterable[str], option: str = "--output") -> None:
    try:
        with open(path, "w", encoding="utf-8") as file:
            _put(file, [text] if isinstance(text, str) else text, newline=False)
    except OSError as exc:
        raise ConfigurationError(
            f"{option} {path}: cannot write there: {exc.strerror}", setting=option, value=path
        ) from exc


def _put(out: TextIO, parts: Iterable[str], *, newline: bool = True) -> None:
    """Each piece written as it comes (a large report's JSON, a trace at a time); ``newline``: end with one."""
    last = ""
    for part in parts:
        out.write(part)
        last = part or last
    if newline and not last.endswith("\n"):
        out.write("\n")


def _run_report(args: argparse.Namespace) -> int:
    anatomy = _anatomy_from(args, reports=args.format == "json")
    color = False if (args.no_color or args.output) else None
    # a file is not a terminal: the width of one that does not say its size, as the docs say
    width = DEFAULT_WIDTH if args.output else None
    rendered = anatomy.render_parts(args.format, color=color, spans=args.spans, width=width, each=args.each)
    if args.write_speeds:
        from .anatomy.speeds import speeds_document

        measured = speeds_document(anatomy.speeds)
        _write(args.write_speeds, json.dumps(measured, indent=2) + "\n", "--write-speeds")
        print(f"wrote the speeds of {count(len(measured['models']), 'model')} to {args.write_speeds}", file=sys.stderr)
    if args.output:
        _write(args.output, rendered)
        print(f"wrote the {args.format} anatomy of {count(len(anatomy), 'trace')} to {args.output}")
    else:
        _put(sys.stdout, rendered)
    return 0


def _run_list(args: argparse.Namespace) -> int:
    from .anatomy.document import to_json
    from .anatomy.render_text import list_text

    rows = _anatomy_from(args, reports=False).rows()
    if args.format == "json":
        print(json.dumps({"traces": to_json(rows)}, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(list_text(rows, _source_name(args)))
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    from .anatomy import Anatomy, compared

    before, after = Anatomy.from_source(args.before), Anatomy.from_source(args.after)
    color = False if (args.no_color or args.output) else None
    rendered = compared(before, after, args.before, args.after, args.format, color=color)
    if args.output:
        _write(args.output, rendered)
        print(f"wrote the {args.format} comparison to {args.output}")
    else:
        sys.stdout.write(rendered)
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from .anatomy.budget import Budget, check
    from .anatomy.render_budget import budget_lines, junit_xml
    from .anatomy.render_text import finish

    budget = Budget.load(args.budget)  # a bad budget is refused before any trace is read
    documents = _anatomy_from(args).trace_reports()
    verdicts = check(budget, documents)
    traces = f"{count(len(documents), 'trace')} from {_source_name(args)}"
    sys.stdout.write(finish(budget_lines(verdicts, args.budget, traces), None))
    if args.junit:
        _write(args.junit, junit_xml(verdicts, args.budget), "--junit")
    return 0 if all(v.passed for v in verdicts) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-anatomy",
        description="Trace AI agents and show where their latency goes.",
    )
    parser.add_argument("--version", action="version", version=f"agent-anatomy {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    _add_demo(commands)
    _add_run(commands)
    _add_report(commands)
    _add_list(commands)
    _add_compare(commands)
    _add_check(commands)
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
