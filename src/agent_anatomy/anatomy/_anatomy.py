"""``Anatomy``: the latency anatomy of one trace or many, from any source, read from spans alone."""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Final, Literal

from opentelemetry.sdk.trace import ReadableSpan

from ..errors import ConfigurationError, SourceError, TraceNotFoundError
from ..telemetry import active_recorder
from ..telemetry.recorder import format_trace_id, parse_trace_id
from .aggregate import AggregateSuggestion, PhaseStats, aggregate_suggestions, path_shape, phase_stats
from .analysis import TraceAnalysis, analyse_trace
from .critical_path import Segment
from .large import TraceFigures, TraceIndex, figures_of_file, index_file
from .model import SpanRecord, TraceTree, group_traces
from .sources import (
    Progress,
    fetch_jaeger_trace,
    fetch_phoenix_trace,
    records_from_file,
    records_from_readable,
    search_jaeger,
)
from .whatif import ModelSpeed, Suggestion, model_speeds, suggest

__all__ = ["Anatomy", "anatomy_for", "last_anatomy", "parse_duration"]

Format = Literal["text", "json", "html"]


_IDS_LISTED: Final = 10
LARGE_FILE_TRACES: Final = 200
"""From this many traces on, a JSON Lines file is analysed trace by trace, keeping figures, not spans."""


def pick_trace(trace_ids: Collection[str], trace_id: str | int) -> str:
    """The one id in ``trace_ids`` that ``trace_id`` names: the id itself, or a unique prefix of its hex form.

    A short id is first read as a 64-bit id padded with zeros (as Jaeger shows old ids), then as a
    prefix (as people copy ids: ``4bf92f35``). Not found or ambiguous: TraceNotFoundError listing ids.
    """
    wanted = format_trace_id(parse_trace_id(trace_id))
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


class Anatomy:
    """Where the time of one or more traces went, and what would make them faster.

    ``reference`` traces add to what the what-ifs know of each model's speed (to suggest routing a
    step to a model this trace never used) without being reported themselves.
    """

    def __init__(self, trees: Sequence[TraceTree], reference: Sequence[TraceTree] = ()) -> None:
        if not trees:
            raise TraceNotFoundError("there are no spans to analyse")
        self.figures: list[TraceFigures] | None = None
        """For a report over a large file: each trace's figures, its spans not kept (``traces`` is empty)."""
        self._index: TraceIndex | None = None
        self.traces: list[TraceAnalysis] = [analyse_trace(tree) for tree in trees]
        self._reference = [analyse_trace(tree) for tree in reference]
        self.speeds: dict[str, ModelSpeed] = model_speeds([*self.traces, *self._reference])
        for analysis in self.traces:
            analysis.suggestions = suggest(analysis, self.speeds)

    # --- building ------------------------------------------------------------------------------------

    @classmethod
    def from_records(
        cls, records: Iterable[SpanRecord], trace_id: str | int | None = None, reference: Sequence[TraceTree] = ()
    ) -> Anatomy:
        trees = group_traces(records)
        if trace_id is not None:
            return cls([trees[pick_trace(trees, trace_id)]], reference)
        return cls(list(trees.values()), reference)

    @classmethod
    def from_spans(cls, spans: Iterable[ReadableSpan], trace_id: str | int | None = None) -> Anatomy:
        """From OTel SDK spans (an in-memory exporter's, or the recorder's)."""
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
    ) -> Anatomy:
        """From an OTLP JSON, OTLP JSON Lines (agent-anatomy's ``jsonl:`` exporter) or Jaeger JSON file.

        A JSON Lines file is indexed first: one trace is then read alone, and a file of ``large_after``
        traces or more is analysed trace by trace on ``workers`` processes (default: one per core), keeping
        each trace's figures rather than its spans. ``progress(what, done, total)`` is told how far it got.
        """
        try:
            index = index_file(path, progress)
        except OSError as exc:
            raise SourceError(f"cannot read {os.fspath(path)}: {exc.strerror}", source=os.fspath(path)) from exc
        if index is not None and trace_id is not None:
            return cls.from_records(index.read(pick_trace(index.lines, trace_id)))
        if index is not None and len(index.lines) >= large_after:
            figures, speeds = figures_of_file(index, workers=workers, progress=progress)
            return cls._from_figures(figures, speeds, index)
        records = records_from_file(path)
        if not records:
            raise TraceNotFoundError(f"{os.fspath(path)} holds no spans")
        return cls.from_records(records, trace_id)

    @classmethod
    def from_jaeger(
        cls,
        url: str,
        trace_id: str | int | None = None,
        *,
        service: str | None = None,
        since_s: float = 3600.0,
        limit: int = 100,
    ) -> Anatomy:
        """One trace by id, or the traces of ``service`` over the last ``since_s`` seconds, from Jaeger."""
        if trace_id is not None:
            hex_id = format_trace_id(parse_trace_id(trace_id))
            return cls.from_records(fetch_jaeger_trace(url, hex_id), hex_id)
        if service is None:
            raise ValueError("from_jaeger needs a trace_id, or a service to search")
        now = time.time_ns()
        records = search_jaeger(url, service, now - int(since_s * 1e9), now, limit)
        if not records:
            raise TraceNotFoundError(f"Jaeger at {url} has no traces of {service!r} in the last {since_s:g} s")
        return cls.from_records(records)

    @classmethod
    def from_phoenix(cls, url: str, trace_id: str | int, *, project: str = "default") -> Anatomy:
        """One trace from Arize Phoenix (``http://localhost:6006``), by id, from ``project``."""
        hex_id = format_trace_id(parse_trace_id(trace_id))
        return cls.from_records(fetch_phoenix_trace(url, hex_id, project), hex_id)

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

    @classmethod
    def _from_figures(cls, figures: list[TraceFigures], speeds: dict[str, ModelSpeed], index: TraceIndex) -> Anatomy:
        anatomy = cls.__new__(cls)  # no trees to analyse: the workers did, and kept only the figures
        anatomy.figures, anatomy._index = figures, index
        anatomy.traces, anatomy._reference, anatomy.speeds = [], [], speeds
        return anatomy

    def slowest(self, count: int) -> Anatomy:
        """The ``count`` slowest traces with their spans (read again from the file for a large report)."""
        if self.figures is None:
            return self._subset(
                [a.trace_id for a in sorted(self.traces, key=lambda a: a.wall_ns, reverse=True)[:count]]
            )
        return self._subset([f.trace_id for f in sorted(self.figures, key=lambda f: f.wall_ns, reverse=True)[:count]])

    def only(self, trace_id: str) -> Anatomy:
        """One of the traces, with its spans (read again from the file for a large report)."""
        return self._subset([trace_id])

    def _subset(self, trace_ids: Sequence[str]) -> Anatomy:
        """These traces with their spans, their what-ifs judged by every trace's model speeds, as the report's
        were: the analyses already made, or for a large report each trace read again and analysed."""
        if self.figures is None or self._index is None:
            by_id = {a.trace_id: a for a in self.traces}
            anatomy = Anatomy.__new__(Anatomy)
            anatomy.figures, anatomy._index = None, None
            anatomy.traces, anatomy._reference = [by_id[i] for i in trace_ids], self._reference
            anatomy.speeds = self.speeds
            return anatomy
        anatomy = Anatomy([TraceTree(i, self._index.read(i)) for i in trace_ids])
        anatomy.speeds = self.speeds  # every trace's speeds, as the figures were judged by
        for analysis in anatomy.traces:
            analysis.suggestions = suggest(analysis, self.speeds)
        return anatomy

    def with_reference(self, *others: Anatomy) -> Anatomy:
        """The same traces, with the model speeds seen in ``others`` known to the what-ifs."""
        return Anatomy([a.tree for a in self.traces], [a.tree for other in others for a in other.traces])

    # --- reading -------------------------------------------------------------------------------------

    @property
    def trace(self) -> TraceAnalysis:
        """The (first) trace."""
        if not self.traces:
            raise TraceNotFoundError(
                f"this anatomy of {len(self):,} traces keeps their figures, not their spans; read one trace with "
                "Anatomy.from_file(path, trace_id=...), or a few with .slowest(n)"
            )
        return self.traces[0]

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
        return phase_stats(self.figures if self.figures is not None else self.traces)

    def common_path(self) -> tuple[tuple[str, ...], int]:
        """The commonest critical-path shape and how many traces have it."""
        shapes: dict[tuple[str, ...], int] = {}
        found = (f.shape for f in self.figures) if self.figures is not None else map(path_shape, self.traces)
        for shape in found:
            shapes[shape] = shapes.get(shape, 0) + 1
        return max(shapes.items(), key=lambda item: item[1])

    def aggregate_suggestions(self) -> list[AggregateSuggestion]:
        return aggregate_suggestions(self.figures if self.figures is not None else self.traces)

    def __len__(self) -> int:
        return len(self.figures) if self.figures is not None else len(self.traces)

    def __repr__(self) -> str:
        if len(self) == 1 and self.traces:
            return f"<Anatomy trace {self.trace_id}: {self.wall_ms:,.0f} ms, {len(self.trace.tree)} spans>"
        return f"<Anatomy of {len(self)} traces>"

    # --- output --------------------------------------------------------------------------------------

    def render(
        self, format: Format = "text", *, color: bool | None = None, spans: bool = False, width: int | None = None
    ) -> str:
        """The anatomy as text (the seed article's shape; ``width``: wrap to so many columns, default that of
        standard output, 80 when it is not a terminal), JSON (``spans``: with every span), or an HTML page."""
        from . import render, render_text

        if format == "text":
            return render_text.text(self, color=color, width=width)
        if format == "json":
            return render.json_text(self, spans=spans)
        if format == "html":
            return render.html(self)
        raise ValueError(f"format={format!r} is not one of text, json, html")

    def to_dict(self, *, spans: bool = False) -> dict[str, Any]:
        """The JSON schema ``agent-anatomy/anatomy@1`` (see the README): the same numbers as the text.

        ``spans`` adds each trace's spans (with their phases and attributes), which can be larger than
        the trace file itself; off by default.
        """
        from . import render

        return render.to_dict(self, spans=spans)


def _recorder_trees(trace_id: str | int | None) -> list[TraceTree]:
    recorder = active_recorder()
    spans = recorder.trace_spans(trace_id) if trace_id is not None else recorder.last_trace()
    return list(group_traces(records_from_readable(spans)).values())


def last_anatomy() -> Anatomy:
    """The anatomy of the most recent trace in the in-process recorder (see ``configure()``)."""
    return Anatomy(_recorder_trees(None))


def anatomy_for(trace_id: str | int) -> Anatomy:
    """The anatomy of one trace in the in-process recorder."""
    return Anatomy(_recorder_trees(trace_id))
