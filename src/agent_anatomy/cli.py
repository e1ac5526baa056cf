"""The ``agent-anatomy`` command: ``sim`` (and, as they land, ``demo`` and ``report``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from ._version import __version__
from .errors import AgentAnatomyError


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-anatomy",
        description="Trace AI agents and show where their latency goes.",
    )
    parser.add_argument("--version", action="version", version=f"agent-anatomy {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
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


if __name__ == "__main__":
    raise SystemExit(main())
