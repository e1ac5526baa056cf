"""Reports over trace files of any size: index the file, then analyse it trace by trace on every core.

A JSON Lines file (the ``jsonl:`` exporter's, an OTel Collector's) is first indexed: one pass over its
bytes finds each line's trace id, so a trace's spans can be read back alone. One trace is then read and
analysed without touching the rest (``--trace-id`` on a file of thousands). A report over all of them
runs in two passes over the traces, in worker processes: the first learns each model's observed speed
(the routing what-ifs compare against every trace) and keeps each trace's records in a temporary file, as
``marshal`` writes them (loading them back costs a third of parsing the lines again), the second loads them,
analyses each trace fully and keeps its
report (``StoredTrace``: the ``TraceReport`` as compressed JSON, moved to a spill file, with the figures a
summary needs and its row in a table of traces), so memory holds the index and the figures, never every
span at once.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import marshal
import multiprocessing
import multiprocessing.context
import os
import re
import struct
import sys
import tempfile
import threading
import types
import weakref
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .. import codec
from ..errors import SourceError
from .analysis import analyse_trace
from .calls import llm_calls
from .document import from_json, to_json
from .model import EventRecord, SpanRecord, TraceTree
from .report import TraceReport, TraceRow
from .reporting import TraceFigures, figures_of, row_of, trace_report
from .sources import (
    PROGRESS_ANALYSING,
    PROGRESS_EVERY_LINES,
    PROGRESS_READING,
    Progress,
    normalised_trace_id,
    records_from_lines,
)
from .speeds import ModelSpeed, SpeedSample, speed_samples, speeds_from_samples
from .whatif import judged

__all__ = ["StoredTrace", "TraceIndex", "Workers", "index_file", "stored_traces"]

_TRACE_ID: Final = re.compile(rb'"traceId"\s*:\s*"([^"]*)"')
_OTHER: Final = re.compile(rb'"(traceID|trace_id)"')
"""Jaeger's and Phoenix's spellings: a line holding those is not OTLP alone."""
_CHUNK: Final = 200
"""Traces per task handed to a worker."""
_BLOCK_BYTES: Final = 4_000_000
"""Lines read at a time while indexing."""
_LENGTH: Final = struct.Struct("<Q")
"""The length of a trace's kept records, before them."""


@dataclass
class TraceIndex:
    """Where each trace's lines are in one JSON Lines file: trace id -> offset, length, offset, length...

    Kept as arrays of integers: the index of 5,000 traces of 32 spans takes a few MB.
    """

    path: str
    lines: dict[str, array[int]]

    def read(self, trace_id: str) -> list[SpanRecord]:
        """The spans of one trace, read from its lines alone."""
        places = self.lines[trace_id]
        offsets = places[::2]
        with open(self.path, "rb") as file:
            chunks = []
            for offset, length in zip(offsets, places[1::2], strict=True):
                file.seek(offset)
                chunks.append(file.read(length))
        try:
            records = records_from_lines(self.path, chunks)
        except SourceError:  # said again with the lines' numbers, counted only now
            records_from_lines(self.path, chunks, _line_numbers(self.path, offsets))
            raise
        return [r for r in records if r.trace_id == trace_id]


def _line_numbers(path: str, offsets: Iterable[int]) -> list[int]:
    """The number (from 1) of the line at each byte offset of the file, the offsets in file order, as the index
    holds them; counted by reading up to each."""
    numbers = []
    with open(path, "rb") as file:
        counted = line = 0
        for offset in offsets:
            while counted < offset and (block := file.read(min(_BLOCK_BYTES, offset - counted))):
                line += block.count(b"\n")
                counted += len(block)
            numbers.append(line + 1)
    return numbers


def index_file(path: str | os.PathLike[str], progress: Progress | None = None) -> TraceIndex | None:
    """The file's trace index, or None when it is not JSON Lines with a trace id on every line."""
    source = os.fspath(path)
    lines: dict[str, array[int]] = {}
    total = os.path.getsize(source)
    offset = 0
    ids: dict[bytes, str | None] = {}  # each trace id as the file spells it, checked once
    with open(source, "rb") as file:
        number = 0
        while block := file.readlines(_BLOCK_BYTES):
            if _OTHER.search(b"".join(block)):  # one search a block, not one a line
                return None
            for line in block:
                number += 1
                matches = _TRACE_ID.findall(line)
                if len(matches) == 1 and line.count(b'"spanId"') == 1:  # the jsonl: exporter's lines, a span each
                    raw = matches[0]
                    trace_id = ids[raw] if raw in ids else ids.setdefault(raw, normalised_trace_id(raw))
                    if trace_id is None:
                        return None
                    places = lines.get(trace_id)
                    if places is None:
                        places = lines[trace_id] = array("Q")
                    places.append(offset)
                    places.append(len(line))
                elif line.strip():
                    found = {normalised_trace_id(m) for m in matches}
                    # Only lines of OTLP spans, each with its trace id; anything else is read the ordinary way.
                    if not found or None in found or len(matches) != line.count(b'"spanId"'):
                        return None
                    for each in found:
                        lines.setdefault(str(each), array("Q")).extend((offset, len(line)))
                offset += len(line)
                if progress is not None and number % PROGRESS_EVERY_LINES == 0:
                    progress(PROGRESS_READING, offset, total)
    if progress is not None:
        progress(PROGRESS_READING, total, total)
    return TraceIndex(source, lines) if lines else None


@dataclass(frozen=True)
class StoredTrace:
    """One trace of a large report: its figures and row in memory, its report as compressed JSON."""

    figures: TraceFigures
    row: TraceRow
    report_zjson: bytes
    """The trace's ``TraceReport`` (without spans) as compressed JSON text; moved to a ``Spill`` file once it
    reaches the main process (then empty). Empty too when reports were not kept (``stored_traces``)."""
    spilled: tuple[Spill, int, int] | None = None
    """Where the report was moved to: the spill file, offset and length."""

    @property
    def has_report(self) -> bool:
        return self.spilled is not None or bool(self.report_zjson)

    @property
    def report_json(self) -> str:
        """The report's JSON text, as the document holds it (compact)."""
        if self.spilled is not None:
            spill, offset, length = self.spilled
            return zlib.decompress(spill.read(offset, length)).decode()
        return zlib.decompress(self.report_zjson).decode()

    def report(self) -> TraceReport:
        report: TraceReport = from_json(TraceReport, codec.loads(self.report_json))
        return report


class Spill:
    """A temporary file holding the traces' report entries, so memory does not grow with their number."""

    def __init__(self) -> None:
        # Open as long as the report lives: closed (and so deleted) with it, never left for the collector.
        self._file = tempfile.TemporaryFile()  # noqa: SIM115
        self._lock = threading.Lock()
        weakref.finalize(self, self._file.close)

    def put(self, trace: StoredTrace) -> StoredTrace:
        if not trace.report_zjson:
            return trace
        with self._lock:
            offset = self._file.seek(0, os.SEEK_END)
            self._file.write(trace.report_zjson)
        return dataclasses.replace(trace, report_zjson=b"", spilled=(self, offset, len(trace.report_zjson)))

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            self._file.seek(offset)
            return self._file.read(length)


def _chunks(index: TraceIndex, size: int) -> Iterator[TraceIndex]:
    """The index cut into parts of ``size`` traces: what one worker task is given (not the whole index)."""
    ids = list(index.lines)
    for start in range(0, len(ids), size):
        yield TraceIndex(index.path, {trace_id: index.lines[trace_id] for trace_id in ids[start : start + size]})


def _samples_of(index: TraceIndex, keep: str) -> tuple[list[SpeedSample], bool]:
    """First pass: what these traces' LLM calls say of the models' speeds. Each trace's records are kept in the
    file ``keep`` as they were read, for the second pass to load instead of parsing the lines again (a third of
    the cost); the flag says whether they were (not when the file cannot be written: the second pass reads the
    lines again)."""
    found: list[SpeedSample] = []
    file = None
    with contextlib.suppress(OSError):
        file = open(keep, "wb")  # noqa: SIM115  # closed below; a failed write lets go of it early
    try:
        for trace_id in index.lines:
            records = index.read(trace_id)
            if file is not None:
                try:
                    file.write(_packed(records))
                except OSError:
                    file.close()
                    file = None
            found.extend(speed_samples(llm_calls(TraceTree(trace_id, records))[0]))
    finally:
        if file is not None:
            file.close()
    return found, file is not None


def _packed(records: list[SpanRecord]) -> bytes:
    """A trace's records as plain values, written by ``marshal`` (or None, if one holds a value it cannot), after
    their length: ``marshal.load`` from a file reads it a few bytes at a time, 8x slower than from bytes."""
    packed = [
        (
            r.trace_id,
            r.span_id,
            r.parent_id,
            r.name,
            r.start_ns,
            r.end_ns,
            r.attributes,
            tuple((e.name, e.time_ns, e.attributes) for e in r.events),
            r.status,
            r.kind,
            r.service,
            r.scope,
            r.role,
        )
        for r in records
    ]
    try:
        blob = marshal.dumps(packed)
    except ValueError:  # never for what an OTLP line holds; a future reader might put other values in a record
        blob = marshal.dumps(None)
    return _LENGTH.pack(len(blob)) + blob


def _unpacked(packed: list[tuple[Any, ...]]) -> list[SpanRecord]:
    """The records ``_packed`` wrote, made again."""
    records = []
    for (
        trace_id,
        span_id,
        parent_id,
        name,
        start,
        end,
        attributes,
        events,
        status,
        kind,
        service,
        scope,
        role,
    ) in packed:
        kept = tuple(EventRecord(*event) for event in events)
        fields = (trace_id, span_id, parent_id, name, start, end, attributes, kept, status, kind, service, scope)
        records.append(SpanRecord(*fields, role=role))  # the role as found: not worked out again
    return records


def _stored_of(index: TraceIndex, speeds: dict[str, ModelSpeed], kept: str | None, reports: bool) -> list[StoredTrace]:
    """Second pass: each trace analysed, judged against every trace's model speeds, and its report kept (with
    ``reports``; else its figures and row alone). ``kept``: the file the first pass kept these traces' records
    in, else None (their lines are read again)."""
    stored = []
    with open(kept, "rb") if kept is not None else contextlib.nullcontext() as file:
        for trace_id in index.lines:
            packed = marshal.loads(file.read(*_LENGTH.unpack(file.read(_LENGTH.size)))) if file is not None else None
            records = _unpacked(packed) if packed is not None else index.read(trace_id)
            analysis = judged(analyse_trace(TraceTree(trace_id, records), speeds), speeds)
            if not reports:  # a quarter of the time is the report's: made again for the few traces shown
                stored.append(StoredTrace(figures_of(analysis), row_of(analysis), b""))
                continue
            report = trace_report(analysis)
            # the fastest level: the spill file is temporary, its size matters less than the workers' time
            zjson = zlib.compress(codec.dumps(to_json(report)), 1)
            stored.append(StoredTrace(figures_of(analysis), row_of(analysis), zjson))
    return stored


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    """A spawned worker that does not run the caller's main module again.

    A spawned process re-imports ``__main__`` by default, for what the tasks might need from it. The workers'
    tasks need only this module, and re-running the caller's script would run its report again in every
    worker, which fails (a script without ``if __name__ == "__main__":``, the commonest kind) or cannot be done
    at all (a script read on standard input). So the process is started with a blank ``__main__`` in view.
    """

    def start(self) -> None:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")  # only while the child's start-up data is taken
        try:
            super().start()
        finally:
            if main is not None:
                sys.modules["__main__"] = main


class _WorkerContext(multiprocessing.context.SpawnContext):
    """Spawn (never fork: the caller may run threads, exporters among them), with ``_WorkerProcess``."""

    Process = _WorkerProcess


def _ready() -> None:
    """A worker's first task: nothing, but unpickling it imports this module, which is its start-up."""


class Workers:
    """The processes a large report is analysed on, one per core: started ahead, while the file is being
    indexed, so that their start-up (a fresh interpreter importing the anatomy) overlaps the index."""

    def __init__(self, count: int | None = None) -> None:
        self.count = count if count is not None else (os.cpu_count() or 1)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        if self.count > 1:
            self._pool = concurrent.futures.ProcessPoolExecutor(self.count, mp_context=_WorkerContext())
            for _ in range(self.count):
                self._pool.submit(_ready)

    def run(self, tasks: Iterable[Any]) -> Iterator[Any]:
        """Each ``(function, *args)`` task's result, in order; in this process when there is one core."""
        if self._pool is None:
            for function, *args in tasks:
                yield function(*args)
            return
        futures = collections.deque(self._pool.submit(function, *args) for function, *args in tasks)
        while futures:  # each result let go once handed on, not held to the end by its future
            yield futures.popleft().result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def stored_traces(
    index: TraceIndex,
    *,
    workers: int | Workers | None = None,
    progress: Progress | None = None,
    known: Mapping[str, ModelSpeed] | None = None,
    reports: bool = True,
) -> tuple[list[StoredTrace], dict[str, ModelSpeed]]:
    """Every trace of an indexed file, stored in order of start, and the models' speeds over all of them (and
    ``known`` speeds, a speeds file's, for the models they did not stream). ``workers``: how many processes
    (default one per core), or ``Workers`` started already. ``reports``: keep each trace's report, else only its
    figures and row (``StoredTrace.has_report``)."""
    if isinstance(workers, Workers):
        return _stored_traces(index, workers, progress, known, reports)
    with Workers(workers) as started:
        return _stored_traces(index, started, progress, known, reports)


def _stored_traces(
    index: TraceIndex,
    workers: Workers,
    progress: Progress | None,
    known: Mapping[str, ModelSpeed] | None,
    reports: bool,
) -> tuple[list[StoredTrace], dict[str, ModelSpeed]]:
    # Several tasks per worker, so they finish together; at most _CHUNK traces each.
    size = max(1, min(_CHUNK, -(-len(index.lines) // (workers.count * 4))))
    chunks = list(_chunks(index, size))
    steps = 2 * len(chunks)
    samples: list[SpeedSample] = []
    with tempfile.TemporaryDirectory(prefix="agent-anatomy-") as keep:  # each chunk's records, between the passes
        places = [os.path.join(keep, f"{number}.records") for number in range(len(chunks))]
        kept: list[str | None] = []
        tasks: Iterable[tuple[Any, ...]] = ((_samples_of, c, p) for c, p in zip(chunks, places, strict=True))
        for done, ((found, was_kept), place) in enumerate(zip(workers.run(tasks), places, strict=True), start=1):
            samples.extend(found)
            kept.append(place if was_kept else None)
            if progress is not None:
                progress(PROGRESS_ANALYSING, done, steps)
        speeds = {**(known or {}), **speeds_from_samples(samples)}
        stored: list[StoredTrace] = []
        spill = Spill()
        tasks = ((_stored_of, c, speeds, k, reports) for c, k in zip(chunks, kept, strict=True))
        for done, found_stored in enumerate(workers.run(tasks), start=len(chunks) + 1):
            stored.extend(spill.put(trace) for trace in found_stored)
            if progress is not None:
                progress(PROGRESS_ANALYSING, done, steps)
    stored.sort(key=lambda t: t.figures.start_ns)
    return stored, speeds
