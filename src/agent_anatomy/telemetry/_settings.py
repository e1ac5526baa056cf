"""Turning ``configure()`` arguments and ``OTEL_*`` variables into one validated ``Settings`` record.

Pure and I/O-free: explicit arguments beat the environment, the environment beats the OTel SDK's
defaults, and every invalid value raises ``ConfigurationError`` naming the setting and the choices.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import unquote, urlsplit

from opentelemetry.environment_variables import OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    OTEL_SDK_DISABLED,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
)
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_OFF,
    DEFAULT_ON,
    ParentBasedTraceIdRatio,
    Sampler,
    TraceIdRatioBased,
)

from ..environment_variables import (
    AGENT_ANATOMY_METRICS,
    GENAI_LATEST_EXPERIMENTAL,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
    OTEL_SEMCONV_STABILITY_OPT_IN,
)
from ..errors import ConfigurationError

ExporterKind: TypeAlias = Literal["otlp", "console", "jsonl", "memory", "none"]
Protocol: TypeAlias = Literal["grpc", "http/protobuf"]
ExporterArg: TypeAlias = "str | SpanExporter | Sequence[str | SpanExporter]"
"""What ``configure(exporter=...)`` accepts: a name, ``"jsonl:PATH"``, a comma-separated list of
those, an SDK ``SpanExporter``, or a sequence mixing both."""

EXPORTER_CHOICES: Final = ("otlp", "console", "jsonl:PATH", "memory", "none")
PROTOCOL_CHOICES: Final[tuple[Protocol, ...]] = ("grpc", "http/protobuf")
SAMPLER_CHOICES: Final = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_TRUE: Final = frozenset({"true", "1", "yes", "on", "span_only", "span_and_event", "event_only"})
_FALSE: Final = frozenset({"false", "0", "no", "off", "no_content", ""})

DEFAULT_GRPC_ENDPOINT: Final = "http://localhost:4317"
DEFAULT_HTTP_BASE: Final = "http://localhost:4318"


@dataclass(frozen=True)
class ExporterSpec:
    """One exporter to build: a kind, plus the path for ``jsonl`` or the object for a user exporter."""

    kind: ExporterKind | Literal["custom"]
    path: str | None = None
    exporter: SpanExporter | None = None


@dataclass(frozen=True)
class Settings:
    """Everything ``configure()`` decided, after arguments and environment were merged and checked."""

    disabled: bool
    service_name: str | None
    resource_attributes: Mapping[str, str | bool | int | float]
    exporters: tuple[ExporterSpec, ...]
    protocol: Protocol
    traces_endpoint: str
    metrics_endpoint: str
    headers: Mapping[str, str] | None
    capture_content: bool
    sampler: Sampler | None
    metrics: bool
    max_queue_size: int | None
    max_export_batch_size: int | None
    instrument: bool = True
    """Instrument the anthropic SDK as part of ``configure()``."""
    exporters_explicit: bool = True
    """False when the exporters came from ``OTEL_TRACES_EXPORTER`` or the default, not from an argument."""
    anatomy_metrics: Mapping[str, Any] | None = None
    """The options of the processor that records each finished trace's anatomy as metrics (empty: its
    defaults); None when that is off (``AGENT_ANATOMY_METRICS``)."""

    @property
    def exports_otlp(self) -> bool:
        return any(spec.kind == "otlp" for spec in self.exporters)


def parse_bool_flag(value: str, *, setting: str) -> bool:
    """``true``/``false`` in the spellings the OTel SDK accepts, or a ConfigurationError."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(
        f"{setting}={value!r} is not a valid flag: use true or false "
        "(for content capture also SPAN_ONLY, SPAN_AND_EVENT, EVENT_ONLY or NO_CONTENT)",
        setting=setting,
        value=value,
    )


def capture_content_from_env() -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` turns content capture on."""
    name = OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
    return parse_bool_flag(os.environ.get(name, ""), setting=name)


def genai_latest_conventions() -> bool:
    """Whether ``OTEL_SEMCONV_STABILITY_OPT_IN`` asks for the newest GenAI conventions."""
    values = os.environ.get(OTEL_SEMCONV_STABILITY_OPT_IN, "")
    return GENAI_LATEST_EXPERIMENTAL in {value.strip().lower() for value in values.split(",")}


def parse_exporters(value: ExporterArg, *, setting: str) -> tuple[ExporterSpec, ...]:
    """Split an exporter argument into specs; ``none`` entries drop out."""
    if isinstance(value, str | SpanExporter):
        items: Sequence[str | SpanExporter] = [value]
    elif isinstance(value, Sequence | set | frozenset):
        items = list(value)
    else:
        raise ConfigurationError(
            f"{setting}={value!r} is not an exporter: give a name ({', '.join(EXPORTER_CHOICES)}), "
            "a SpanExporter object, or a list of those",
            setting=setting,
            value=value,
        )
    specs: list[ExporterSpec] = []
    for item in items:
        if isinstance(item, SpanExporter):
            specs.append(ExporterSpec("custom", exporter=item))
            continue
        if not isinstance(item, str):
            raise ConfigurationError(
                f"{setting} entries must be exporter names or SpanExporter objects, got {item!r}",
                setting=setting,
                value=value,
            )
        for name in (part.strip() for part in item.split(",")):
            if name:
                spec = _parse_exporter_name(name, setting=setting)
                if spec.kind != "none":
                    specs.append(spec)
    return tuple(specs)


def _parse_exporter_name(name: str, *, setting: str) -> ExporterSpec:
    kind, sep, path = name.partition(":")
    kind = kind.strip().lower()
    if kind == "jsonl":
        if not sep or not path.strip():
            raise ConfigurationError(
                f"{setting}={name!r}: the jsonl exporter needs a file path, as in 'jsonl:traces.jsonl'",
                setting=setting,
                value=name,
            )
        return ExporterSpec("jsonl", path=path.strip())
    if kind in ("otlp", "console", "memory", "none") and not sep:
        return ExporterSpec(kind)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"{setting}={name!r} is not a known exporter; choose from {', '.join(EXPORTER_CHOICES)} "
        "(several may be joined with commas), or pass a SpanExporter object",
        setting=setting,
        value=name,
    )


def resolve_protocol(protocol: str | None) -> Protocol:
    """The OTLP protocol from the argument, else the traces or generic variable, else gRPC (as the SDK)."""
    setting = "protocol"
    if protocol is None:
        for env_name in (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL):
            if os.environ.get(env_name, "").strip():
                protocol, setting = os.environ[env_name], env_name
                break
        else:
            return "grpc"
    normalized = protocol.strip().lower()
    for choice in PROTOCOL_CHOICES:
        if normalized == choice:
            return choice
    raise ConfigurationError(
        f"{setting}={protocol!r} is not a supported OTLP protocol; choose from "
        f"{', '.join(PROTOCOL_CHOICES)} (the Python OTLP exporter has no http/json)",
        setting=setting,
        value=protocol,
    )


def resolve_endpoint(endpoint: str | None, protocol: Protocol, signal: Literal["traces", "metrics"]) -> str:
    """The endpoint one signal is exported to, by the OTel SDK's rules.

    gRPC takes the URL as given. For HTTP, a signal variable (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
    is used as is, while ``/v1/{signal}`` is appended to the generic variable, and to an explicit
    ``endpoint=`` that has no path, so ``endpoint="http://collector:4318"`` works as users expect.
    """
    signal_var = OTEL_EXPORTER_OTLP_TRACES_ENDPOINT if signal == "traces" else OTEL_EXPORTER_OTLP_METRICS_ENDPOINT
    suffix = f"/v1/{signal}"
    if endpoint is not None:
        _check_url(endpoint, setting="endpoint")
        if protocol == "http/protobuf" and urlsplit(endpoint).path in ("", "/"):
            return endpoint.rstrip("/") + suffix
        return endpoint
    if value := os.environ.get(signal_var, "").strip():
        _check_url(value, setting=signal_var)
        return value
    if value := os.environ.get(OTEL_EXPORTER_OTLP_ENDPOINT, "").strip():
        _check_url(value, setting=OTEL_EXPORTER_OTLP_ENDPOINT)
        return value if protocol == "grpc" else value.rstrip("/") + suffix
    return DEFAULT_GRPC_ENDPOINT if protocol == "grpc" else DEFAULT_HTTP_BASE + suffix


def _check_url(url: str, *, setting: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{setting}={url!r} is not an endpoint URL; expected http(s)://host:port, "
            f"for example {DEFAULT_GRPC_ENDPOINT!r}",
            setting=setting,
            value=url,
        )


def parse_headers(headers: Mapping[str, str] | str) -> dict[str, str]:
    """Headers from a mapping or from the ``key=value,key2=value2`` form of ``OTEL_EXPORTER_OTLP_HEADERS``."""
    if not isinstance(headers, str):
        return {str(key): str(value) for key, value in headers.items()}
    parsed: dict[str, str] = {}
    for pair in headers.split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(
                f"headers={headers!r}: {pair.strip()!r} is not of the form key=value",
                setting="headers",
                value=headers,
            )
        parsed[unquote(key.strip()).lower()] = unquote(value.strip())
    return parsed


def resolve_sampler(sampler: Sampler | str | None, sampler_arg: float | None) -> Sampler | None:
    """A Sampler from an object, a name (``OTEL_TRACES_SAMPLER`` names), or the environment; None for the default."""
    if isinstance(sampler, Sampler):
        return sampler
    setting, arg_setting = "sampler", "sampler_arg"
    raw_arg: object = sampler_arg
    if sampler is None:
        sampler = os.environ.get(OTEL_TRACES_SAMPLER, "").strip()
        if not sampler:
            return None
        setting, arg_setting = OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG
        raw_arg = os.environ.get(OTEL_TRACES_SAMPLER_ARG, "").strip() or None
    name = sampler.strip().lower()
    fixed = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "parentbased_always_on": DEFAULT_ON,
        "parentbased_always_off": DEFAULT_OFF,
    }
    if name in fixed:
        return fixed[name]
    if name not in ("traceidratio", "parentbased_traceidratio"):
        raise ConfigurationError(
            f"{setting}={sampler!r} is not a known sampler; choose from {', '.join(SAMPLER_CHOICES)} "
            "or pass a Sampler object",
            setting=setting,
            value=sampler,
        )
    rate = 1.0 if raw_arg is None else _ratio(raw_arg, setting=arg_setting)
    return TraceIdRatioBased(rate) if name == "traceidratio" else ParentBasedTraceIdRatio(rate)


def _ratio(value: object, *, setting: str) -> float:
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise ConfigurationError(
            f"{setting}={value!r} is not a sampling ratio; expected a number from 0 to 1",
            setting=setting,
            value=value,
        )
    return rate


_TIMEOUT_VARIABLES: Final = (
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
)


def check_otlp_timeouts() -> None:
    """The OTLP exporters read these themselves and fail with a bare ``float()`` error; name the variable."""
    for name in _TIMEOUT_VARIABLES:
        text = os.environ.get(name)
        if text is None or not text.strip():
            continue
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not seconds >= 0:  # also catches nan
            raise ConfigurationError(
                f"{name}={text!r} is not a timeout: give a number of seconds, such as 10", setting=name, value=text
            )


def _positive(value: int | None, *, setting: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(f"{setting}={value!r} must be a positive integer", setting=setting, value=value)
    return value


def resolve(
    *,
    service_name: str | None,
    exporter: ExporterArg | None,
    endpoint: str | None,
    protocol: str | None,
    capture_content: bool | None,
    sampler: Sampler | str | None,
    sampler_arg: float | None,
    headers: Mapping[str, str] | str | None,
    resource_attributes: Mapping[str, str | bool | int | float] | None,
    metrics: bool | None,
    max_queue_size: int | None,
    max_export_batch_size: int | None,
    instrument: bool = True,
    anatomy_metrics: bool | Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the arguments of ``configure()`` with the environment; raise ConfigurationError on bad values."""
    disabled = parse_bool_flag(os.environ.get(OTEL_SDK_DISABLED, ""), setting=OTEL_SDK_DISABLED)
    if exporter is not None:
        exporters = parse_exporters(exporter, setting="exporter")
    else:
        exporters = parse_exporters(os.environ.get(OTEL_TRACES_EXPORTER, "otlp"), setting=OTEL_TRACES_EXPORTER)
    resolved_protocol = resolve_protocol(protocol)
    if metrics is None:
        metrics = os.environ.get(OTEL_METRICS_EXPORTER, "").strip().lower() != "none"
    if capture_content is None:
        capture_content = capture_content_from_env()
    if any(spec.kind == "otlp" for spec in exporters):
        check_otlp_timeouts()
    return Settings(
        disabled=disabled,
        service_name=service_name,
        resource_attributes=dict(resource_attributes or {}),
        exporters=exporters,
        protocol=resolved_protocol,
        traces_endpoint=resolve_endpoint(endpoint, resolved_protocol, "traces"),
        metrics_endpoint=resolve_endpoint(endpoint, resolved_protocol, "metrics"),
        headers=None if headers is None else parse_headers(headers),
        capture_content=bool(capture_content),
        sampler=resolve_sampler(sampler, sampler_arg),
        metrics=metrics,
        max_queue_size=_positive(max_queue_size, setting="max_queue_size"),
        max_export_batch_size=_positive(max_export_batch_size, setting="max_export_batch_size"),
        instrument=instrument,
        exporters_explicit=exporter is not None,
        anatomy_metrics=_anatomy_metrics(anatomy_metrics),
    )


def _anatomy_metrics(value: bool | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``configure(anatomy_metrics=...)``: True (or ``AGENT_ANATOMY_METRICS=true`` when None) for the processor's
    defaults, a mapping of its options, or False."""
    if value is None:
        value = parse_bool_flag(os.environ.get(AGENT_ANATOMY_METRICS, ""), setting=AGENT_ANATOMY_METRICS)
    if isinstance(value, bool):
        return {} if value else None
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return dict(value)
    raise ConfigurationError(
        f"anatomy_metrics={value!r} is not True, False or a mapping of the processor's options "
        "(grace_s, max_traces, max_spans, sample_ratio)",
        setting="anatomy_metrics",
        value=value,
    )
