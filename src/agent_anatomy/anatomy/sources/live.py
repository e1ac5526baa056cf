"""Live servers: one trace, or a service's traces, from a Jaeger query service; one trace from Arize Phoenix."""

from __future__ import annotations

import urllib.parse

from ...errors import SourceError, TraceNotFoundError
from ..model import SpanRecord
from ._common import DOCUMENT_ERRORS, NETWORK_ERRORS
from ._http import Refused, get_json
from .files import records_from_document
from .phoenix import phoenix_records

__all__ = ["fetch_jaeger_trace", "fetch_phoenix_trace", "search_jaeger"]


def fetch_jaeger_trace(base_url: str, trace_id: str, timeout_s: float = 10.0) -> list[SpanRecord]:
    """One trace from Jaeger: ``/api/v3/traces/{id}`` first, ``/api/traces/{id}`` as fallback."""
    base = base_url.rstrip("/")
    errors: list[str] = []
    for path in (f"/api/v3/traces/{trace_id}", f"/api/traces/{trace_id}"):
        url = base + path
        try:
            records = records_from_document(get_json(url, timeout_s))
        except Refused as exc:
            errors.append(f"{url}: {exc}")
            continue
        except NETWORK_ERRORS as exc:
            raise SourceError(f"cannot reach Jaeger at {url}: {getattr(exc, 'reason', exc)}", source=url) from exc
        except DOCUMENT_ERRORS as exc:
            errors.append(f"{url}: unexpected answer ({exc})")
            continue
        if records:
            return records
        errors.append(f"{url}: no spans")
    raise TraceNotFoundError(f"Jaeger at {base} has no trace {trace_id} ({'; '.join(errors)})", trace_id=trace_id)


def search_jaeger(
    base_url: str, service: str, start_ns: int, end_ns: int, limit: int = 100, timeout_s: float = 10.0
) -> list[SpanRecord]:
    """The traces of ``service`` in a time window (Jaeger's v1 search API, which every version serves)."""
    query = urllib.parse.urlencode(
        {"service": service, "start": start_ns // 1000, "end": end_ns // 1000, "limit": limit}
    )
    url = f"{base_url.rstrip('/')}/api/traces?{query}"
    try:
        return records_from_document(get_json(url, timeout_s))
    except Refused as exc:
        raise SourceError(f"Jaeger search at {url} failed: {exc}", source=url) from exc
    except NETWORK_ERRORS as exc:
        raise SourceError(f"cannot reach Jaeger at {url}: {getattr(exc, 'reason', exc)}", source=url) from exc
    except DOCUMENT_ERRORS as exc:
        raise SourceError(f"Jaeger search at {url}: unexpected answer ({exc})", source=url) from exc


# --- a live Phoenix -------------------------------------------------------------------------------------


def fetch_phoenix_trace(
    base_url: str, trace_id: str, project: str = "default", timeout_s: float = 10.0
) -> list[SpanRecord]:
    """One trace's spans from Arize Phoenix's REST API, following its pagination."""
    base = f"{base_url.rstrip('/')}/v1/projects/{urllib.parse.quote(project, safe='')}/spans"
    records: list[SpanRecord] = []
    cursor: str | None = None
    while True:
        query = {"trace_id": trace_id, "limit": 1000} | ({"cursor": cursor} if cursor else {})
        url = f"{base}?{urllib.parse.urlencode(query)}"
        try:
            document = get_json(url, timeout_s)
            records.extend(phoenix_records(document))
        except Refused as exc:
            if exc.code == 404:
                raise TraceNotFoundError(
                    f"Phoenix at {base_url} has no project {project!r}", trace_id=trace_id
                ) from exc
            raise SourceError(f"Phoenix at {url} answered {exc}", source=url) from exc
        except NETWORK_ERRORS as exc:
            raise SourceError(f"cannot reach Phoenix at {url}: {getattr(exc, 'reason', exc)}", source=url) from exc
        except DOCUMENT_ERRORS as exc:
            raise SourceError(f"Phoenix at {url}: unexpected answer ({exc})", source=url) from exc
        cursor = document.get("next_cursor")
        if not cursor:
            break
    if not records:
        raise TraceNotFoundError(
            f"Phoenix project {project!r} at {base_url} has no trace {trace_id}", trace_id=trace_id
        )
    return records
