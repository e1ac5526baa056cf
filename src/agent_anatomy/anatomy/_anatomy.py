"""``Anatomy``: the latency anatomy of one trace or many, from any source, read from spans alone."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from ..errors import ConfigurationError, SourceError, TraceNotFoundError
from . import render, render_html, render_text
from .aggregate import AggregateSuggestion, PhaseStats, aggregate_suggestions, common_path, phase_stats
from .analysis import TraceAnalysis, analyse_trace
from .compare import compare_anatomies, typical_traces
from .conversations import joined_conversations
from .critical_path import Segment
from .document import to_json
from .large import StoredTrace, TraceIndex, Workers, index_file, stored_traces
from .model import SpanRecord, TraceTree, group_traces
from .render_compare import render_comparison
from .report import Report, TraceReport, TraceRow
from .reporting import TraceFigures, figures_of, report_of, row_of, summary_of, trace_report
from .sources import Progress, fetch_jaeger_trace, fetch_phoenix_trace, records_from_file, search_jaeger
from .speeds import ModelSpeed
from .whatif import Suggestion, judged, model_speeds

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

# The telemetry layer (the recorder, and with it the OpenTelemetry SDK) is imported where the in-process spans
# are read, not here: a report on a file, and each of a large report's workers, never need it.

__all__ = ["Anatomy", "anatomy_for", "compared", "last_anatomy", "parse_duration"]

Format = Literal["text", "json", "html"]


_IDS_LISTED: Final = 10
EACH: Final = 5
"""Of several traces, how many of the slowest the text report shows one by one."""
LARGE_FILE_TRACES: Final = 200
"""From this many traces on, a JSON Lines file is analysed trace by trace, keeping figures, not spans."""
EARLY_WORKERS_BYTES: Final = 8_000_000
"""A file this size or more is likely to be large (200 traces of 30 spans take 5 MB): its workers are started
while it is indexed."""
_TRACE_BYTES_AT_LEAST: Final = 100
"""No trace takes fewer bytes of a JSON Lines file (a line holds at least its ids and ``resourceSpans``): a file
smaller than ``large_after`` times this cannot be large, and starts no workers ahead."""


def pick_trace(trace_ids: Collection[str], trace_id: str | int) -> str:
    """The one id in ``trace_ids`` that ``trace_id`` names: the id itself, or a unique prefix of its hex form.

    A short id is first read as a 64-bit id padded with zeros (as Jaeger shows old ids), then as a
    prefix (as people copy ids: ``4bf92f35``). Not found or ambiguous: TraceNotFoundError listing ids.
    """
    wanted = _hex_trace_id(trace_id)
    if wanted in trace_ids:
        return wanted
    prefix = trace_id.strip().lower().removeprefix("0x") if isinstance(trace_id, str) else wanted
    matches = sorted(t for t in trace_ids if t.startswith(prefix))
    if len(matches) == 1:
        return matches[0]

    def listed(ids: Sequence[str]) -> str:
        more = f", and {len(ids) - _IDS_LISTED:,} more" if len(ids) > _IDS_LISTED else ""
        return ", ".join(ids[:_IDS_LISTED]) + more

    if matches:
        raise TraceNotFoundError(
            f"trace id {prefix} is ambiguous: {len(matches):,} traces begin with it ({listed(matches)}); "
            "give more digits",
            trace_id=prefix,
        )
    count = len(trace_ids)
    raise TraceNotFoundError(
        f"trace {prefix} is not among the {count:,} trace{'s' if count != 1 else ''} given "
        f"({listed(sorted(trace_ids))})",
        trace_id=prefix,
    )


_DURATION_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, setting: str = "--since") -> float:
    """Seconds in ``30m``, ``1h``, ``2d`` or ``90`` (seconds); ConfigurationError naming ``setting`` otherwise."""
    try:
        value = float(text[:-1]) * _DURATION_UNITS[text[-1]] if text[-1:] in _DURATION_UNITS else float(text)
    except (ValueError, IndexError):
        value = -1.0
    if value < 0:
        raise ConfigurationError(
            f"{setting} {text!r} is not a duration like 30m, 1h or 2d", setting=setting, value=text
        )
    return value


class _Trace:
    """One trace of an anatomy: its figures, and its analysis (with its spans) or its stored report (a large
    report's, whose spans are not kept)."""

    __slots__ = ("again", "analysis", "figures", "stored")

    def __init__(
        self,
        analysis: TraceAnalysis | None,
        stored: StoredTrace | None = None,
        again: Callable[[str], TraceAnalysis] | None = None,
    ) -> None:
        self.analysis = analysis
        self.stored = stored
        self.again = again
        """For a stored trace whose report was not kept: its analysis made again from its spans."""
        if stored is not None:
            self.figures: TraceFigures = stored.figures
        else:
            assert analysis is not None, "a trace is an analysis or a stored report"
            self.figures = figures_of(analysis)

    def report(self, *, spans: bool = False) -> TraceReport:
        if self.analysis is not None:
            return trace_report(self.analysis, spans=spans)
        assert self.stored is not None
        if not self.stored.has_report and self.again is not None:
            return trace_report(self.again(self.figures.trace_id))
        return self.stored.report()

    def row(self) -> TraceRow:
        if self.stored is not None:
            return self.stored.row
        assert self.analysis is not None, "a trace is an analysis or a stored report"
        return row_of(self.analysis)

    def report_json(self) -> str:
        """The report as the document holds it, compact: kept as text for a stored one, never parsed back."""
        if self.stored is not None and self.stored.has_report:
            return self.stored.report_json
        return json.dumps(to_json(self.report()), ensure_ascii=False, separators=(",", ":"))


class Anatomy:
    """Where the time of one or more traces went, and what would make them faster.

    ``reference`` traces add to what the what-ifs know of each model's speed (to suggest routing a
    step to a model this trace never used) without being reported themselves. Every anatomy holds its
    traces the same way; one over a large file keeps each trace's report instead of its spans, and reads a
    trace again when its spans are asked for (``slowest``, ``only``).
    """

    def __init__(
        self,
        trees: Sequence[TraceTree],
        reference: Sequence[TraceTree] = (),
        *,
        speeds: Mapping[str, ModelSpeed] | None = None,
    ) -> None:
        """``speeds``: models' speeds measured elsewhere (``speeds.read_speeds``, a speeds file), for the models
        these traces do not stream."""
        if not trees:
            raise TraceNotFoundError("there are no spans to analyse")
        analyses = [analyse_trace(tree) for tree in trees]
        references = [analyse_trace(tree) for tree in reference]
        speeds = {**(speeds or {}), **model_speeds([*analyses, *references])}
        self._take([_Trace(judged(a, speeds)) for a in analyses], speeds, references, None)

    def _take(
        self,
        traces: list[_Trace],
        speeds: dict[str, ModelSpeed],
        reference: list[TraceAnalysis],
        index: TraceIndex | None,
    ) -> None:
        """Every anatomy's state, set here only: by ``__init__`` and by ``_made``."""
        self._traces = traces
        self.speeds = speeds
        self._reference = reference
        self._index = index

    @classmethod
    def _made(
        cls,
        traces: list[_Trace],
        speeds: dict[str, ModelSpeed],
        reference: list[TraceAnalysis] | None = None,
        index: TraceIndex | None = None,
    ) -> Anatomy:
        """An anatomy of traces analysed and judged already (a subset of another, a large file's)."""
        anatomy = cls.__new__(cls)
        anatomy._take(traces, speeds, reference or [], index)
        return anatomy

    # --- building ------------------------------------------------------------------------------------
    @classmethod
    def from_records(
        cls,
        records: Iterable[SpanRecord],
        trace_id: str | int | None = None,
        reference: Sequence[TraceTree] = (),
        *,
        speeds: Mapping[str, ModelSpeed] | None = None,
    ) -> Anatomy:
        trees = group_traces(records)
        if trace_id is not None:
            return cls([trees[pick_trace(trees, trace_id)]], reference, speeds=speeds)
        return cls(joined_conversations(list(trees.values())), reference, speeds=speeds)

    @classmethod
    def from_spans(cls, spans: Iterable[ReadableSpan], trace_id: str | int | None = None) -> Anatomy:
        """From OTel SDK spans (an in-memory exporter's, or the recorder's)."""
        from .sources import records_from_readable  # (the OTel SDK's spans: imported with them)

        return cls.from_records(records_from_readable(spans), trace_id)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        trace_id: str | int | None = None,
        *,
        progress: Progress | None = None,
        large_after: int = LARGE_FILE_TRACES,
        workers: int | None = None,
        speeds: Mapping[str, ModelSpeed] | None = None,
        reports: bool = True,
    ) -> Anatomy:
        """From an OTLP JSON, OTLP JSON Lines (agent-anatomy's ``jsonl:`` exporter) or Jaeger JSON file.

        A JSON Lines file is indexed first: one trace is then read alone, and a file of ``large_after``
        traces or more is analysed trace by trace on ``workers`` processes (default: one per core), keeping
        each trace's figures and report rather than its spans. ``reports=False`` keeps only the figures and
        each trace's row, a quarter less work: right for the text report and ``list``, which show a few
        traces' reports (made again from their spans when asked for); a JSON document of every trace then
        costs analysing each again. ``progress(what, done, total)`` is told how far it got; ``speeds`` as
        for ``Anatomy()``.
        """
        with contextlib.ExitStack() as stack:
            started = None
            size = _file_size(path) if trace_id is None else 0
            if size >= max(EARLY_WORKERS_BYTES, large_after * _TRACE_BYTES_AT_LEAST):  # likely large: start them now
                started = stack.enter_context(Workers(workers))
            try:
                index = index_file(path, progress)
            except OSError as exc:
                raise SourceError(f"cannot read {os.fspath(path)}: {exc.strerror}", source=os.fspath(path)) from exc
            if index is not None and trace_id is not None:
                return cls.from_records(index.read(pick_trace(index.lines, trace_id)), speeds=speeds)
            if index is not None and len(index.lines) >= large_after:
                stored, known = stored_traces(
                    index, workers=started or workers, progress=progress, known=speeds, reports=reports
                )
                again = functools.partial(_read_again, index, known)
                return cls._made([_Trace(None, trace, again) for trace in stored], known, index=index)
        records = records_from_file(path)
        if not records:
            raise TraceNotFoundError(f"{os.fspath(path)} holds no spans")
        return cls.from_records(records, trace_id, speeds=speeds)

    @classmethod
    def from_jaeger(
        cls,
        url: str,
        trace_id: str | int | None = None,
        *,
        service: str | None = None,
        since_s: float = 3600.0,
        limit: int = 100,
        speeds: Mapping[str, ModelSpeed] | None = None,
    ) -> Anatomy:
        """One trace by id, or the traces of ``service`` over the last ``since_s`` seconds, from Jaeger."""
        if trace_id is not None:
            hex_id = _hex_trace_id(trace_id)
            return cls.from_records(fetch_jaeger_trace(url, hex_id), hex_id, speeds=speeds)
        if service is None:
            raise ValueError("from_jaeger needs a trace_id, or a service to search")
        now = time.time_ns()
        records = search_jaeger(url, service, now - int(since_s * 1e9), now, limit)
        if not records:
            raise TraceNotFoundError(f"Jaeger at {url} has no traces of {service!r} in the last {since_s:g} s")
        return cls.from_records(records, speeds=speeds)

    @classmethod
    def from_phoenix(
        cls,
        url: str,
        trace_id: str | int,
        *,
        project: str = "default",
        speeds: Mapping[str, ModelSpeed] | None = None,
    ) -> Anatomy:
        """One trace from Arize Phoenix (``http://localhost:6006``), by id, from ``project``."""
        hex_id = _hex_trace_id(trace_id)
        return cls.from_records(fetch_phoenix_trace(url, hex_id, project), hex_id, speeds=speeds)

    @classmethod
    def from_source(cls, spec: str) -> Anatomy:
        """From a source named in one string, as ``agent-anatomy compare`` takes each side:

        - ``PATH``, or ``PATH#TRACE_ID`` for one trace of the file;
        - ``jaeger+http://HOST:16686/trace/TRACE_ID`` (a Jaeger UI trace address with ``jaeger+`` before it),
          or ``jaeger+http://HOST:16686/search?service=NAME&lookback=1h&limit=100``;
        - ``phoenix+http://HOST:6006/trace/TRACE_ID?project=NAME``.
        """
        scheme, _, rest = spec.partition("+")
        if scheme in ("jaeger", "phoenix") and rest.startswith(("http://", "https://")):
            url = urllib.parse.urlsplit(rest)
            base = f"{url.scheme}://{url.netloc}"
            query = dict(urllib.parse.parse_qsl(url.query))
            head, _, trace_id = url.path.rstrip("/").rpartition("/")
            if head.endswith("/trace") and trace_id:
                if scheme == "jaeger":
                    return cls.from_jaeger(base, trace_id)
                return cls.from_phoenix(base, trace_id, project=query.get("project", "default"))
            if scheme == "jaeger" and url.path.rstrip("/").endswith("/search") and query.get("service"):
                return cls.from_jaeger(
                    base,
                    service=query["service"],
                    since_s=parse_duration(query.get("lookback", "1h"), "lookback"),
                    limit=int(query["limit"]) if query.get("limit", "").isdigit() else 100,
                )
            shape = "/trace/ID or /search?service=NAME" if scheme == "jaeger" else "/trace/ID?project=NAME"
            raise ConfigurationError(
                f"{spec}: a {scheme} source is {scheme}+http://HOST:PORT{shape}", setting="source", value=spec
            )
        path, _, trace_id = spec.rpartition("#") if "#" in spec and not os.path.exists(spec) else (spec, "", "")
        return cls.from_file(path, trace_id or None)

    def slowest(self, count: int) -> Anatomy:
        """The ``count`` slowest traces with their spans (read again from the file for a large report)."""
        ranked = sorted(self._traces, key=lambda t: t.figures.wall_ns, reverse=True)[:count]
        return self._subset([t.figures.trace_id for t in ranked])

    def only(self, trace_id: str) -> Anatomy:
        """One of the traces, with its spans (read again from the file for a large report)."""
        return self._subset([trace_id])

    def _subset(self, trace_ids: Sequence[str]) -> Anatomy:
        """These traces with their spans, their what-ifs judged by every trace's model speeds, as the report's
        were: the analyses already made, or for a large report each trace read again and analysed."""
        if self._index is None:
            by_id = {t.figures.trace_id: t for t in self._traces}
            return Anatomy._made([by_id[i] for i in trace_ids], self.speeds, self._reference)
        analyses = [_read_again(self._index, self.speeds, i) for i in trace_ids]
        return Anatomy._made([_Trace(a) for a in analyses], self.speeds)

    def with_reference(self, *others: Anatomy) -> Anatomy:
        """The same traces, with the model speeds seen in ``others`` known to the what-ifs."""
        return Anatomy(
            [a.tree for a in self.traces], [a.tree for other in others for a in other.traces], speeds=self.speeds
        )

    # --- reading -------------------------------------------------------------------------------------

    @property
    def traces(self) -> list[TraceAnalysis]:
        """Each trace's analysis, with its spans; empty for a large report (see ``slowest``, ``only``)."""
        return [t.analysis for t in self._traces if t.analysis is not None]

    @property
    def figures(self) -> list[TraceFigures] | None:
        """For a report over a large file: each trace's figures, its spans not kept; None otherwise."""
        return [t.figures for t in self._traces] if self._index is not None else None

    @property
    def trace(self) -> TraceAnalysis:
        """The (first) trace."""
        analysis = self._traces[0].analysis
        if analysis is None:
            raise TraceNotFoundError(
                f"this anatomy of {len(self):,} traces keeps their figures, not their spans; read one trace with "
                "Anatomy.from_file(path, trace_id=...), or a few with .slowest(n)"
            )
        return analysis

    @property
    def trace_id(self) -> str:
        return self.trace.trace_id

    @property
    def wall_ms(self) -> float:
        return self.trace.wall_ns / 1e6

    @property
    def critical_path(self) -> list[Segment]:
        return self.trace.critical_path

    @property
    def phases_ms(self) -> dict[str, float]:
        return {phase: ns / 1e6 for phase, ns in self.trace.phases.items()}

    def what_if(self) -> list[Suggestion]:
        """The trace's suggestions, the largest saving first (for many traces, the first trace's)."""
        return list(self.trace.suggestions)

    def phase_stats(self) -> dict[str, PhaseStats]:
        return phase_stats([t.figures for t in self._traces])

    def common_path(self) -> tuple[tuple[str, ...], int]:
        """The commonest critical-path shape and how many traces have it."""
        return common_path([t.figures for t in self._traces])

    def aggregate_suggestions(self) -> list[AggregateSuggestion]:
        return aggregate_suggestions([t.figures for t in self._traces])

    def trace_reports(self, *, spans: bool = False) -> list[TraceReport]:
        """Every trace's report, in the anatomy's order; ``spans`` (not for a large report) adds every span."""
        if spans and self._index is not None:
            raise ConfigurationError(
                f"--spans: the spans of {len(self):,} traces are not kept for a report of this size; ask for "
                "one trace (--trace-id) with its spans",
                setting="spans",
                value=True,
            )
        return [t.report(spans=spans) for t in self._traces]

    def rows(self) -> list[TraceRow]:
        """Every trace's row of a table of traces, in the order they started (``agent-anatomy list``)."""
        rows = (t.row() for t in self._traces)
        return sorted(rows, key=lambda row: (row.start_unix_ns, row.trace_id))

    def report(self, *, spans: bool = False) -> Report:
        """The typed report, exactly the JSON document ``agent-anatomy/anatomy@1`` (``report`` module)."""
        return report_of(self.trace_reports(spans=spans), [t.figures for t in self._traces])

    def __len__(self) -> int:
        return len(self._traces)

    def __repr__(self) -> str:
        if len(self) == 1 and self._traces[0].analysis is not None:
            return f"<Anatomy trace {self.trace_id}: {self.wall_ms:,.0f} ms, {len(self.trace.tree)} spans>"
        return f"<Anatomy of {len(self)} traces>"

    # --- output --------------------------------------------------------------------------------------

    def render(
        self,
        format: Format = "text",
        *,
        color: bool | None = None,
        spans: bool = False,
        width: int | None = None,
        each: int = EACH,
    ) -> str:
        """The anatomy as text (the seed article's shape; ``width``: wrap to so many columns, default that of
        standard output, 80 when it is not a terminal; of several traces, the table, the summary, then the
        anatomy of each of the ``each`` slowest, side traces apart), JSON (``spans``: with every span), or an HTML
        page."""
        return "".join(self.render_parts(format, color=color, spans=spans, width=width, each=each))

    def render_parts(
        self,
        format: Format = "text",
        *,
        color: bool | None = None,
        spans: bool = False,
        width: int | None = None,
        each: int = EACH,
    ) -> Iterator[str]:
        """What ``render`` gives, in pieces as they are made: a large file's JSON report one trace at a time, so
        memory stays flat however many traces it holds when each piece is written out as it comes."""
        if format == "json" and not spans and self._index is not None:
            summary = summary_of([t.figures for t in self._traces]) if len(self) > 1 else None
            return render.json_parts((t.report_json() for t in self._traces), summary)
        return iter((self._rendered(format, color=color, spans=spans, width=width, each=each),))

    def _rendered(self, format: Format, *, color: bool | None, spans: bool, width: int | None, each: int) -> str:
        if format == "text":
            if len(self) == 1:
                return render_text.trace_text(self._traces[0].report(), color=color, width=width)
            ranked = sorted(self._traces, key=lambda t: t.figures.wall_ns, reverse=True)
            summed = summary_of([t.figures for t in self._traces])
            each_one = [t.report() for t in itertools.islice((t for t in ranked if not t.figures.side), max(each, 0))]
            rows = [t.row() for t in ranked[: render_text.TABLE_ROWS]]
            return render_text.many_text(rows, summed, each=each_one, color=color, width=width)
        if format == "json":
            return render.json_text(self.report(spans=spans))
        if format == "html":
            return self._html()
        raise ValueError(f"format={format!r} is not one of text, json, html")

    def _html(self) -> str:
        """The page: every trace drawn when there are at most ``MAX_TRACES`` (and their spans are kept), else
        the slowest; several get a summary (with every trace's wall time) and a list of them."""
        many = len(self) > render_html.MAX_TRACES or self._index is not None
        shown = self.slowest(render_html.MAX_TRACES) if many else self
        traces = shown.trace_reports(spans=True)
        if len(self) == 1:
            return render_html.page(report_of(traces, []))
        figures = [t.figures for t in self._traces]
        return render_html.page(
            report_of(traces, figures if len(figures) > 1 else []),
            trace_count=len(self),
            walls_ms=[f.wall_ns / 1e6 for f in figures],
            rows=self.rows(),
        )

    def to_dict(self, *, spans: bool = False) -> dict[str, Any]:
        """The JSON document ``agent-anatomy/anatomy@1`` (the ``report`` module draws it): the same numbers as the
        text. ``spans`` adds each trace's spans (with their phases and attributes), which can be larger than
        the trace file itself; off by default."""
        document: dict[str, Any] = to_json(self.report(spans=spans))
        return document


def compared(
    before: Anatomy, after: Anatomy, before_name: str, after_name: str, format: str, *, color: bool | None = None
) -> str:
    """Two anatomies compared (``agent-anatomy compare``): text, the JSON document ``compare@1``, or a page with
    the two traces lined up drawn on one time scale."""
    comparison = compare_anatomies(before, after)
    traces = typical_traces(before, after, comparison) if format == "html" else None
    return render_comparison(comparison, before_name, after_name, format, traces=traces, color=color)


def _read_again(index: TraceIndex, speeds: dict[str, ModelSpeed], trace_id: str) -> TraceAnalysis:
    """One trace of a large report read again from its lines and analysed, judged by every trace's speeds as the
    report's traces were."""
    return judged(analyse_trace(TraceTree(trace_id, index.read(trace_id)), speeds), speeds)


def _hex_trace_id(trace_id: str | int) -> str:
    """A trace id as given (hex, a prefix of it, or an integer) in the recorder's spelling."""
    from ..telemetry.recorder import format_trace_id, parse_trace_id

    return format_trace_id(parse_trace_id(trace_id))


def _recorder_trees(trace_id: str | int | None) -> list[TraceTree]:
    from ..telemetry import active_recorder
    from .sources import records_from_readable

    recorder = active_recorder()
    spans = recorder.trace_spans(trace_id) if trace_id is not None else recorder.last_trace()
    return list(group_traces(records_from_readable(spans)).values())


def _file_size(path: str | os.PathLike[str]) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # said by the reading, with the file's name
        return 0


def last_anatomy() -> Anatomy:
    """The anatomy of the most recent trace in the in-process recorder (see ``configure()``)."""
    return Anatomy(_recorder_trees(None))


def anatomy_for(trace_id: str | int) -> Anatomy:
    """The anatomy of one trace in the in-process recorder."""
    return Anatomy(_recorder_trees(trace_id))
