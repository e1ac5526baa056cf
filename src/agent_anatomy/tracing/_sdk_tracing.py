"""The anthropic SDK's own tracing (from 1.14), handed over to our span for the calls we trace.

The SDK starts a span for each API call (``anthropic.messages.create``) and writes that span's trace context
into each request it sends. Inside our span a call must give one span and still send the same headers:

- A client that builds its requests the SDK's base way (first party, Foundry: nothing signs the headers) is
  told the call has no span of its own, as the SDK tells itself for a span nobody records or propagates.
  Its trace headers are then written here, on every attempt, as the SDK writes them: any the caller set
  of those names removed, the context's appended last, from the same propagator and the same context. So
  the wire is the same, and the SDK's bookkeeping for a span nobody records (URL attributes, call records,
  a second propagator pass per attempt) is not done: about 40 µs a call.
- A client that signs its requests (Bedrock, Vertex, a subclass with its own ``_prepare_request``) writes
  its own headers after signing: it is given a non-recording span that carries ours.
- Everywhere else (the SDK's tool runner, the endpoints we do not trace) the SDK traces as before; a client
  whose own tracing is off never gets here, and sends no trace context, as before.

The SDK's private state this touches, all of it in this module: the function that starts the API-call span
and the method that builds a request (wrapped), the base classes' ``_prepare_request`` (compared) and the
client's resolved ``_open_telemetry`` option (read).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Mapping
from typing import Any, Final

import wrapt
from opentelemetry import propagate
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import NonRecordingSpan

from ._llm_call import current_api_call, warn_once

__all__ = ["SDK_TRACING_SINCE", "builds_plain_requests", "client_tracer_provider", "hand_over", "restore"]

SDK_TRACING_SINCE: Final = (1, 14)
"""The first release that traces itself: before it there is nothing to hand over."""
_BASE_CLIENT: Final = "anthropic._base_client"


def _start_sdk_span(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The SDK starting its API-call span: inside ours, no span (its headers written by ``_built``) or a
    non-recording one that carries ours (it writes them itself, after it signs the request)."""
    call = current_api_call()
    if call is None:
        return wrapped(*args, **kwargs)
    if call.writes_headers:
        call.propagation = bool(kwargs.get("propagation", True))
        return None
    return NonRecordingSpan(call.span.get_span_context())


def _built(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The SDK building one attempt's request: for a call handed over, its trace headers, written once."""
    request = wrapped(*args, **kwargs)
    call = current_api_call()
    if call is not None and call.propagation:
        try:
            _write_trace_headers(request.headers)
        except Exception:
            warn_once("write the trace context into a request's headers")
    return request


def _write_trace_headers(headers: Any) -> None:
    """The current context's trace headers into ``headers`` (an ``httpx`` one), the way the SDK writes them."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    for key in carrier:  # a caller's own value of one of these goes, and the context's is appended
        if key in headers:
            del headers[key]
    for key, value in carrier.items():
        headers[key] = value


_HOOKS: Final = (("start_api_call_span", _start_sdk_span), ("BaseClient._build_request", _built))


def hand_over(version: tuple[int, int]) -> bool:
    """Hand the SDK's API-call spans over to ours; False if the SDK is older than its own tracing, or (logged
    once) no longer has the hooks, and then nothing is wrapped."""
    if version < SDK_TRACING_SINCE:
        return False
    try:
        module = importlib.import_module(_BASE_CLIENT)
        for name, hook in _HOOKS:
            wrapt.wrap_function_wrapper(module, name, hook)
    except (ImportError, AttributeError):
        restore()
        warn_once("hand the anthropic SDK's own spans over to ours (the SDK changed); a call may show two LLM spans")
        return False
    return True


def restore() -> None:
    """Give the SDK its own tracing back (what ``hand_over`` wrapped, unwrapped)."""
    with contextlib.suppress(ImportError):
        module = importlib.import_module(_BASE_CLIENT)
        for name, _ in _HOOKS:
            owner_name, _, attribute = name.rpartition(".")
            owner = getattr(module, owner_name, None) if owner_name else module
            if owner is not None:
                unwrap(owner, attribute)  # a no-op on what is not wrapped


def builds_plain_requests(client: object) -> bool:
    """Whether the client builds its requests the SDK's base way: nothing signs their headers before they go."""
    try:
        base = importlib.import_module(_BASE_CLIENT)
        prepare = getattr(type(client), "_prepare_request", None)
        plain = (base.SyncAPIClient._prepare_request, base.AsyncAPIClient._prepare_request)
        return prepare is not None and prepare in plain
    except (ImportError, AttributeError):
        return False


def client_tracer_provider(client: object) -> object | None:
    """The tracer provider a client was made with (``open_telemetry={"tracer_provider": ...}``), or None.

    The SDK keeps its resolved option on the client (``_open_telemetry``, from 1.14).
    """
    options = getattr(client, "_open_telemetry", None)
    return options.get("tracer_provider") if isinstance(options, Mapping) else None
