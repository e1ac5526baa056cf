"""The fleet view's Prometheus: each model's median time to first token and time per output token over a
recent window, from the histograms ``AnatomyMetricsProcessor`` records (``/api/v1/query``)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any, Final

from ...errors import SourceError
from ._common import DOCUMENT_ERRORS, NETWORK_ERRORS
from ._http import Refused, get_json

__all__ = ["ALL", "ModelFigures", "fetch_model_figures"]

_TTFT: Final = "agent_anatomy_llm_time_to_first_token_seconds"
_PER_TOKEN: Final = "agent_anatomy_llm_time_per_output_token_seconds"
_MODEL: Final = "gen_ai_request_model"
"""The metrics' names and model label as Prometheus has them (dots to underscores, the unit appended)."""


@dataclass(frozen=True)
class ModelFigures:
    """One model's medians over the window, in seconds, and how many calls they are over."""

    model: str
    ttft_s: float
    seconds_per_token: float
    calls: int


def _query(base: str, expression: str, timeout_s: float) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    try:
        answer = get_json(url, timeout_s)
        if answer.get("status") != "success":
            raise SourceError(f"Prometheus at {base} refused the query: {answer.get('error')}", source=url)
        return list(answer["data"]["result"])
    except Refused as exc:
        raise SourceError(f"Prometheus at {url} answered {exc}", source=url) from exc
    except NETWORK_ERRORS as exc:
        raise SourceError(f"cannot reach Prometheus at {base}: {getattr(exc, 'reason', exc)}", source=url) from exc
    except DOCUMENT_ERRORS as exc:
        raise SourceError(f"Prometheus at {url}: unexpected answer ({exc})", source=url) from exc


def _by_model(rows: list[dict[str, Any]]) -> dict[str, float]:
    values = {}
    for row in rows:
        model, value = row["metric"].get(_MODEL), float(row["value"][1])
        if model and value == value and value > 0:  # NaN where a window saw no call
            values[model] = value
    return values


ALL: Final = "all"
"""The window of every count the processes kept since they started (a short run: a test, a batch job)."""


def fetch_model_figures(base_url: str, window: str = "1h", timeout_s: float = 10.0) -> list[ModelFigures]:
    """Each model's median time to first token and time per output token over the last ``window`` (``30m``,
    ``1h``...), or ``all`` that the running processes counted."""
    base = base_url.rstrip("/")

    def over(series: str) -> str:
        return series if window == ALL else f"increase({series}[{window}])"

    def median(metric: str) -> dict[str, float]:
        expression = f"histogram_quantile(0.5, sum by (le, {_MODEL}) ({over(metric + '_bucket')}))"
        return _by_model(_query(base, expression, timeout_s))

    ttft, per_token = median(_TTFT), median(_PER_TOKEN)
    counts = _by_model(_query(base, f"sum by ({_MODEL}) ({over(_TTFT + '_count')})", timeout_s))
    return [
        ModelFigures(model, ttft[model], per_token[model], round(counts.get(model, 0)))
        for model in sorted(set(ttft) & set(per_token))
    ]
