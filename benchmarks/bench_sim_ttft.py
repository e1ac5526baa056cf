"""Time-to-first-token accuracy of the simulator under 200 concurrent streaming requests.

The simulator runs in its own process (``agent-anatomy sim``), as it would beside a load test; a
second process (raw asyncio sockets, the lightest client) opens the connections first, so that TCP
handshakes are not measured. Every stream has an injected TTFT between 200 and 500 ms and 50 tokens over
one second; the client measures the time from sending the request to reading the first
``content_block_delta`` and compares it with the injected value. Phases: one stream at a time (the
baseline), 200 streams held in flight (the target: within ±10 ms), and 200 requests sent in the same
instant (the worst case, reported for what it is).

    python benchmarks/bench_sim_ttft.py [--streams 200] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import time

from _results import Results, add_json_option, half_iqr

TOKENS = "50"
BODY = {
    "model": "claude-haiku-4-5",
    "max_tokens": 256,
    "stream": True,
    "messages": [{"role": "user", "content": "hello"}],
}


class Connection:
    """One keep-alive connection driven with raw asyncio streams: the lightest client there is, so the
    figures are the simulator's and not a client library's parsing under load."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self.reader, self.writer, self.port = reader, writer, port

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, port)

    def request(self, ttft_ms: float, stream: bool = True) -> bytes:
        body = json.dumps({**BODY, "stream": stream}).encode()
        headers = (
            f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
            f"x-api-key: bench\r\nx-sim-ttft-ms: {ttft_ms:.1f}\r\nx-sim-tokens: {TOKENS}\r\n"
            f"x-sim-generation-ms: 1000\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return headers.encode() + body

    async def stream(self, ttft_ms: float) -> float:
        """Send one streaming request; the error of its first content delta's arrival, in ms."""
        request = self.request(ttft_ms)
        sent = time.perf_counter()
        self.writer.write(request)
        buffer = b""
        first: float | None = None
        while not buffer.endswith(b"0\r\n\r\n") or b"message_stop" not in buffer:
            chunk = await self.reader.read(65536)
            if not chunk:
                raise ConnectionError("the simulator closed the connection")
            if first is None and b"content_block_delta" in chunk:
                first = time.perf_counter()
            buffer += chunk
        assert first is not None, "no content delta arrived"
        return (first - sent) * 1000 - ttft_ms


async def run(port: int, streams: int, seconds: float) -> dict[str, list[float]]:
    """Three phases on the same connections: one stream at a time (the baseline), ``streams`` held in
    flight for ``seconds`` (each worker starts its next stream as soon as one ends, the workers' first
    requests spread over a second), and one burst of ``streams`` requests sent at once (the worst case)."""
    rng = random.Random(1)
    errors: dict[str, list[float]] = {"sequential": [], "steady": [], "burst": []}
    connections = [await Connection.open(port) for _ in range(streams)]
    for _ in range(20):
        errors["sequential"].append(await connections[0].stream(rng.uniform(200, 500)))
    deadline = time.perf_counter() + seconds

    async def worker(connection: Connection, delay: float) -> None:
        await asyncio.sleep(delay)
        while time.perf_counter() < deadline:
            errors["steady"].append(await connection.stream(rng.uniform(200, 500)))

    await asyncio.gather(*(worker(c, i / streams) for i, c in enumerate(connections)))
    errors["burst"] = list(await asyncio.gather(*(c.stream(rng.uniform(200, 500)) for c in connections)))
    for connection in connections:
        connection.writer.close()
    return errors


def describe(label: str, values: list[float]) -> str:
    absolute = sorted(abs(v) for v in values)
    q = statistics.quantiles(values, n=100)
    within = sum(1 for v in absolute if v <= 10) / len(absolute)
    return (
        f"{label:<11} n={len(values):4d}  error ms: median {statistics.median(values):+6.2f}  p5 {q[4]:+6.2f}  "
        f"p95 {q[94]:+6.2f}  p99 {q[98]:+6.2f}  max|e| {absolute[-1]:6.2f}  within ±10 ms: {within:6.1%}"
    )


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows under the suite
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0, help="how long to hold the streams in flight")
    add_json_option(parser)
    options = parser.parse_args()
    results = Results()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "agent_anatomy.cli", "sim", "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        errors = asyncio.run(run(port, options.streams, options.seconds))
    finally:
        server.terminate()
        server.wait(10)
    for phase in ("sequential", "steady", "burst"):
        values = errors[phase]
        print(describe(phase, values))
        q = statistics.quantiles(values, n=100)
        within = sum(abs(v) <= 10 for v in values) / len(values)
        results.add(
            f"simulator TTFT accuracy ({options.streams} streams in flight)",
            f"{phase}: TTFT error, median",
            statistics.median(values),
            "ms",
            baseline="the requested TTFT",
            spread=half_iqr(values),
            target="steady: >= 99% within ±10 ms" if phase == "steady" else "",
            ok=within >= 0.99 if phase == "steady" else None,
            note=f"n={len(values)}; p99 {q[98]:+.1f} ms; within ±10 ms {within:.1%}",
        )
    steady = errors["steady"]
    print(
        json.dumps(
            {
                "streams": options.streams,
                "steady_within_10ms": sum(abs(v) <= 10 for v in steady) / len(steady),
                "steady_max_abs_error_ms": max(abs(v) for v in steady),
            }
        )
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
