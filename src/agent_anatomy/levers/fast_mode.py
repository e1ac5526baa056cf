"""Fast mode: ``speed="fast"`` on the models that have it, with the beta header where the model needs one.

Fast mode writes output tokens up to 2.5 times as fast (``catalogue.FAST_MODE_SPEEDUP``); the first token comes
no sooner, so it pays on steps whose answers are long, not on short tool decisions. Only some models have it
(``catalogue.FAST_MODE``; Opus 5 behind the ``fast-mode-2026-02-01`` beta); on any other the API refuses the
request, so ``with_fast_mode`` leaves such a request as it is. A call at another speed than the one before it
misses the prompt cache (a cache is kept per model and speed): keep a step's speed the same from call to call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any, Final

from .. import semconv
from ..catalogue import FAST_MODE_BETA, fast_mode_of

__all__ = ["fast_mode_available", "with_fast_mode"]

_BETA_HEADER: Final = "anthropic-beta"


@functools.cache
def _sdk_takes_speed() -> bool:
    """Whether the installed SDK's ``messages.create`` names ``speed`` (older ones send it in ``extra_body``)."""
    from anthropic.resources.messages import Messages

    return "speed" in inspect.signature(Messages.create).parameters


def fast_mode_available(model: str | None) -> bool:
    """Whether ``model`` (an id, a snapshot or a cloud id) takes ``speed="fast"``."""
    return fast_mode_of(model) is not None


def _with_beta(request: dict[str, Any]) -> None:
    """Add the fast-mode beta: to ``betas`` on a beta client's call, else to the ``anthropic-beta`` header."""
    betas = request.get("betas")
    if isinstance(betas, list | tuple):
        if FAST_MODE_BETA not in betas:
            request["betas"] = [*betas, FAST_MODE_BETA]
        return
    headers = dict(request.get("extra_headers") or {})
    key = next((k for k in headers if k.lower() == _BETA_HEADER), _BETA_HEADER)
    present = [b.strip() for b in str(headers.get(key) or "").split(",") if b.strip()]
    if FAST_MODE_BETA not in present:
        headers[key] = ",".join([*present, FAST_MODE_BETA])
    request["extra_headers"] = headers


def with_fast_mode(request: Mapping[str, Any], model: str | None = None) -> dict[str, Any]:
    """``request`` (the keyword arguments of ``messages.create``) asking for fast mode when its model
    (``model``, else the request's own) has it, with the beta where that model needs one; a copy as it was
    otherwise. The request given is left as it was."""
    changed = dict(request)
    needs_beta = fast_mode_of(model if model is not None else request.get("model"))
    if needs_beta is None:
        return changed
    if _sdk_takes_speed():
        changed["speed"] = semconv.SPEED_FAST
    else:
        changed["extra_body"] = {**(request.get("extra_body") or {}), "speed": semconv.SPEED_FAST}
    if needs_beta:
        _with_beta(changed)
    return changed
