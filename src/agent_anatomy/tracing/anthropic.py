"""``AnthropicInstrumentor``: one ``chat {model}`` CLIENT span per Messages API call of the anthropic SDK.

Wraps ``create``, ``parse`` and ``stream`` of ``Messages`` and ``AsyncMessages``, plain and beta, and gives
the other requests an agent makes (``count_tokens``, message batches, models) a cheap CLIENT span each,
all from one table (``_instrument`` and ``_uninstrument`` loop over the same rows). Calls made through
``with_raw_response`` go through the wrapped methods. Wrapped calls return exactly what they returned
before: the SDK's own objects, or a proxy that passes everything through.

The anthropic SDK traces itself by default (``anthropic.messages.create``) and sends that span's trace
context on the wire. ``_sdk_tracing`` hands that tracing over to our span for the calls traced here, so
that one call gives one span and the same headers still go out, naming our span as the parent.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import inspect
import logging
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, Final, NamedTuple

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.util.types import AttributeValue

from .. import semconv
from ._invocation import Invocation
from ._llm_call import (
    LLMInvocation,
    api_call_attributes,
    api_error_type,
    current_api_call,
    request_attributes,
    warn_once,
)
from ._package import _instruments
from ._sdk_tracing import builds_plain_requests, client_tracer_provider, hand_over, restore
from .handler import TelemetryHandler
from .llm_scope import current_llm_scope
from .streams import AsyncStreamManagerProxy, StreamManagerProxy, complete

__all__ = ["AnthropicInstrumentor", "client_provider", "instrument_anthropic", "uninstrument_anthropic"]

_logger = logging.getLogger(__name__)

_PLATFORM_PACKAGES: Final = ("anthropic.lib.bedrock", "anthropic.lib.vertex", "anthropic.lib.foundry")
"""Imported before wrapping, so that the resource classes that copy the first-party functions exist."""
FLOOR: Final = (0, 41)
"""The oldest SDK instrumented (``_package._instruments`` says why)."""


class _Row(NamedTuple):
    """One wrapped method: its class, its name, the wrapper kind, and the SDK release it first came in."""

    cls: str
    method: str
    kind: str
    since: tuple[int, int] = FLOOR


_MESSAGES: Final = (
    _Row("Messages", "create", "create"),
    _Row("Messages", "parse", "create", since=(0, 77)),
    _Row("Messages", "stream", "stream"),
    _Row("Messages", "count_tokens", "request"),
    _Row("AsyncMessages", "create", "acreate"),
    _Row("AsyncMessages", "parse", "acreate", since=(0, 77)),
    _Row("AsyncMessages", "stream", "astream"),
    _Row("AsyncMessages", "count_tokens", "arequest"),
)
_BETA_MESSAGES: Final = tuple(row._replace(since=(0, 43)) if row.method == "stream" else row for row in _MESSAGES)
_BATCHES: Final = tuple(
    _Row(cls, method, kind, since=(0, 43) if method == "delete" else FLOOR)
    for cls, kind in (("Batches", "request"), ("AsyncBatches", "arequest"))
    for method in ("create", "retrieve", "list", "cancel", "delete", "results")
)
_MODELS: Final = (
    _Row("Models", "retrieve", "request"),
    _Row("Models", "list", "request"),
    _Row("AsyncModels", "retrieve", "arequest"),
)
_AWAITED: Final = frozenset({"arequest"})
"""Wrapper kinds that await the method: a row of one is skipped unless the method is a coroutine function
(``AsyncBatches.list`` returns a paginator that requests when iterated; the SDK's own span covers it)."""
_RESOURCES: Final = (
    ("anthropic.resources.messages.messages", "messages", _MESSAGES),
    ("anthropic.resources.beta.messages.messages", "beta.messages", _BETA_MESSAGES),
    ("anthropic.resources.messages.batches", "messages.batches", _BATCHES),
    ("anthropic.resources.beta.messages.batches", "beta.messages.batches", _BATCHES),
    ("anthropic.resources.models", "models", _MODELS),
    ("anthropic.resources.beta.models", "beta.models", _MODELS),
)
"""(module, API label prefix, rows): every SDK method the instrumentor wraps, each from the release its row
names. A row the installed SDK should have and lacks is logged once (the SDK moved it); one it is too old
for is skipped without a word."""


def sdk_version() -> tuple[int, int]:
    """The installed anthropic SDK's (major, minor); (0, 0) when it cannot be read."""
    try:
        parts = importlib.metadata.version("anthropic").split(".")
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (importlib.metadata.PackageNotFoundError, ValueError, IndexError):
        return 0, 0


# --- starting calls -------------------------------------------------------------------------------------


class _Calls:
    """Built once per ``instrument()``: the telemetry handler calls start their spans with, and client facts.

    A client made with a tracer provider of its own (``open_telemetry={"tracer_provider": ...}``, from SDK 1.14)
    asked for its calls' spans there: they start on a handler of that provider (the instrumentor's other
    settings kept), one per provider.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._options = dict(options)
        self._handler = TelemetryHandler.for_instrumentor(options)
        self._clients: weakref.WeakKeyDictionary[Any, _ClientFacts] = weakref.WeakKeyDictionary()
        self._by_provider: weakref.WeakKeyDictionary[Any, TelemetryHandler] = weakref.WeakKeyDictionary()

    def _handler_of(self, client: _ClientFacts) -> TelemetryHandler:
        provider = client.tracer_provider
        if provider is None:
            return self._handler
        try:
            return self._by_provider[provider]
        except (KeyError, TypeError):
            pass
        handler = TelemetryHandler.for_instrumentor({**self._options, "tracer_provider": provider})
        with contextlib.suppress(TypeError):  # not weak-referenceable: made again for each call
            self._by_provider[provider] = handler
        return handler

    def begin(
        self, instance: object, kwargs: Mapping[str, Any], api: str, stream: bool | None = None
    ) -> LLMInvocation | None:
        """Start the call's span (current until the response or stream is handed back); None to not trace.

        ``stream``: whether the call streams; None to read it from its ``stream`` argument.
        """
        if not is_instrumentation_enabled():
            return None
        if stream is None:
            stream = bool(kwargs.get("stream"))
        try:
            client = self._client_info(getattr(instance, "_client", None))
            attributes = request_attributes(
                kwargs,
                api=api,
                server_address=client.host,
                server_port=client.port,
                stream=stream,
                provider=client.provider,
            )
            scope = current_llm_scope()
            if scope is not None:
                attributes.update(scope.attributes)
            call = self._handler_of(client).start_llm_call(attributes, stream=stream)
            _hand_over_headers(call, client)
            if scope is not None:
                scope.spans.append(call.span)
        except Exception:
            warn_once("start the LLM span")
            return None
        call.record_request_content(kwargs)
        return call

    def begin_request(self, instance: object, kwargs: Mapping[str, Any], api: str) -> Invocation | None:
        """Start the cheap span of a request that is not a model call (``count_tokens``, batches, models)."""
        if not is_instrumentation_enabled():
            return None
        try:
            client = self._client_info(getattr(instance, "_client", None))
            operation = api.removeprefix("beta.")
            attributes = api_call_attributes(
                kwargs,
                operation=operation,
                api=api,
                server_address=client.host,
                server_port=client.port,
                provider=client.provider,
            )
            request = self._handler_of(client).start_api_request(operation, attributes, _APIRequest)
            _hand_over_headers(request, client)
            return request
        except Exception:
            warn_once("start the span of an API request")
            return None

    def _client_info(self, client: object) -> _ClientFacts:
        """Who the client talks to, found (and its own tracing handed over) once per client."""
        if client is None:
            return _NO_CLIENT
        try:
            return self._clients[client]
        except (KeyError, TypeError):
            pass
        info = _client_facts(client)
        with contextlib.suppress(TypeError):  # not weak-referenceable: looked up each time
            self._clients[client] = info
        return info


def _hand_over_headers(call: Invocation, client: _ClientFacts) -> None:
    """Let the call's trace headers be written for the SDK when its client builds plain requests."""
    api_call = current_api_call(call.context)
    if api_call is not None:
        api_call.writes_headers = client.plain_requests


class _APIRequest(Invocation):
    """A request that is not a model call: its failures take the API's own error type, as an LLM call's do."""

    __slots__ = ()

    def fail(
        self,
        exc: BaseException,
        attributes: Mapping[str, AttributeValue] | None = None,
        error_type: str | None = None,
    ) -> None:
        super().fail(exc, attributes, error_type or api_error_type(exc))


class _ClientFacts(NamedTuple):
    provider: str
    host: str | None
    port: int | None
    tracer_provider: object | None = None
    """The tracer provider the client was given, if any: its calls' spans go there."""
    plain_requests: bool = False
    """It builds its requests the SDK's base way: its trace headers are written for the SDK (``_sdk_tracing``)."""


_NO_CLIENT: Final = _ClientFacts(semconv.PROVIDER_ANTHROPIC, None, None)
_PLATFORM_CLIENTS: Final = (
    (
        ("AnthropicBedrock", "AsyncAnthropicBedrock", "AnthropicBedrockMantle", "AsyncAnthropicBedrockMantle"),
        semconv.PROVIDER_AWS_BEDROCK,
    ),
    (("AnthropicVertex", "AsyncAnthropicVertex"), semconv.PROVIDER_GCP_VERTEX_AI),
)
"""The SDK's public client classes of the cloud platforms, by the ``gen_ai.provider.name`` the convention
gives their calls; every other client (first party, Foundry) is ``anthropic``."""


def client_provider(client: object) -> str:
    """The ``gen_ai.provider.name`` of an anthropic SDK client's calls: ``aws.bedrock``, ``gcp.vertex_ai`` or
    ``anthropic``."""
    import anthropic

    for names, provider in _PLATFORM_CLIENTS:
        classes = tuple(c for c in (getattr(anthropic, name, None) for name in names) if isinstance(c, type))
        if classes and isinstance(client, classes):
            return provider
    return semconv.PROVIDER_ANTHROPIC


def _client_facts(client: object) -> _ClientFacts:
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    port = getattr(url, "port", None)
    if host and not port:
        port = 443 if getattr(url, "scheme", "https") == "https" else 80
    return _ClientFacts(
        client_provider(client),
        str(host) if host else None,
        int(port) if port else None,
        client_tracer_provider(client),
        builds_plain_requests(client),
    )


# --- the wrappers -----------------------------------------------------------------------------------------


def _call(
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    begin: Callable[[Any, Mapping[str, Any]], Any],
    finish: Callable[[Any, Any], Any],
) -> Any:
    call = begin(instance, kwargs)
    if call is None:
        return wrapped(*args, **kwargs)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    return finish(call, result)


async def _acall(
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    begin: Callable[[Any, Mapping[str, Any]], Any],
    finish: Callable[[Any, Any], Any],
) -> Any:
    call = begin(instance, kwargs)
    if call is None:
        return await wrapped(*args, **kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    return finish(call, result)


def _stream(
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    calls: _Calls,
    api: str,
    proxy: Callable[[Any, Callable[[], LLMInvocation | None]], Any],
) -> Any:
    """``messages.stream()``: its manager, proxied so the span starts when the ``with`` block is entered."""
    return proxy(wrapped(*args, **kwargs), functools.partial(calls.begin, instance, kwargs, api, True))


def _stopped(call: Invocation, result: Any) -> Any:
    call.stop()
    return result


def _wrapper(kind: str, calls: _Calls, api: str) -> Callable[..., Any]:
    """The wrapt wrapper of one table row, with what it needs bound (the contrib instrumentations' shape)."""
    if kind in ("stream", "astream"):
        proxy = StreamManagerProxy if kind == "stream" else AsyncStreamManagerProxy
        return functools.partial(_stream, calls=calls, api=api, proxy=proxy)
    is_async, is_model_call = _KINDS[kind]
    begin = functools.partial(calls.begin if is_model_call else calls.begin_request, api=api)
    finish = complete if is_model_call else _stopped
    return functools.partial(_acall if is_async else _call, begin=begin, finish=finish)


_KINDS: Final = {"create": (False, True), "acreate": (True, True), "request": (False, False), "arequest": (True, False)}
"""(awaited, a model call) of each wrapper kind that starts its span when called."""


def _is_coroutine(function: Callable[..., Any]) -> bool:
    """Whether the method, under the SDK's own decorators, is a coroutine function."""
    return inspect.iscoroutinefunction(inspect.unwrap(function))


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _targets(version: tuple[int, int]) -> list[tuple[type, str, str, str]]:
    """(class, method, wrapper kind, api label) for every class the installed SDK has a Messages API on.

    The Bedrock and Vertex beta resources do not inherit from the first-party classes: they copy their
    functions (``create = FirstPartyMessagesAPI.create``) when their module is imported. So the cloud
    packages are imported first, and every resource class holding the very same function is wrapped
    too; a subclass that only inherits it (Foundry's) goes through the wrapped parent.
    """
    for package in _PLATFORM_PACKAGES:
        with contextlib.suppress(ImportError):
            importlib.import_module(package)
    targets = []
    for module_name, prefix, rows in _RESOURCES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        for row in rows:
            cls = getattr(module, row.cls, None)
            function = getattr(cls, "__dict__", {}).get(row.method)
            if cls is None or function is None:
                if version >= row.since:
                    _logger.warning(
                        "agent-anatomy: anthropic %d.%d has no %s.%s.%s, which it should have from %d.%d on: "
                        "those calls are not traced",
                        *version,
                        module_name,
                        row.cls,
                        row.method,
                        *row.since,
                    )
                continue
            if row.kind in _AWAITED and not _is_coroutine(function):
                continue
            api = f"{prefix}.{row.method}"
            targets.append((cls, row.method, row.kind, api))
            for base in cls.__bases__:
                for copy in _subclasses(base):
                    if copy is not cls and copy.__dict__.get(row.method) is function:
                        targets.append((copy, row.method, row.kind, api))
    return targets


class AnthropicInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the anthropic SDK's Messages API.

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None)``: the handler its spans
    start with is built here, on these; what is not given follows ``agent_anatomy.configure()`` (or the
    global providers, and the environment's content setting).
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        calls = _Calls(kwargs)
        version = sdk_version()
        # Found before any is wrapped: a copy is recognised by being the first-party function itself.
        self._wrapped = _targets(version)
        for cls, method, kind, api in self._wrapped:
            wrapt.wrap_function_wrapper(cls, method, _wrapper(kind, calls, api))
        self._deferring = hand_over(version)

    def _uninstrument(self, **kwargs: Any) -> None:
        for cls, method, _, _ in getattr(self, "_wrapped", ()):
            unwrap(cls, method)
        self._wrapped = []
        if getattr(self, "_deferring", False):
            restore()
            self._deferring = False


def instrument_anthropic(**kwargs: Any) -> AnthropicInstrumentor:
    """Instrument the anthropic SDK (idempotent). Keyword arguments go to ``AnthropicInstrumentor.instrument``."""
    instrumentor = AnthropicInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(**kwargs)
    return instrumentor


def uninstrument_anthropic() -> None:
    """Remove the instrumentation and give clients their own tracing back (idempotent)."""
    instrumentor = AnthropicInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
