"""``configure()`` as the composition root: span processors of the caller and of the upper layers, wired in."""

from __future__ import annotations

import subprocess
import sys

import pytest
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

import agent_anatomy as aa
from agent_anatomy.anatomy.metrics import AnatomyMetricsProcessor
from agent_anatomy.errors import ConfigurationError


class Collecting(SpanProcessor):
    def __init__(self) -> None:
        self.ended: list[str] = []
        self.shut_down = False

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span.name)

    def shutdown(self) -> None:
        self.shut_down = True


def test_span_processors_see_every_span_and_are_replaced_with_the_pipeline() -> None:
    given = Collecting()
    made: list[MeterProvider] = []

    def factory(meter_provider: MeterProvider) -> SpanProcessor:
        made.append(meter_provider)
        return Collecting()

    meters = SdkMeterProvider(metric_readers=[InMemoryMetricReader()])
    telemetry = aa.configure(
        exporter="none", tracer_provider=TracerProvider(), meter_provider=meters, span_processors=[given, factory]
    )
    with aa.span("work"):
        pass
    assert given.ended == ["work"]
    assert made == [meters], "a factory is given the meter provider configure() settled on"
    telemetry.shutdown()
    assert given.shut_down


def _anatomy_processors(telemetry: aa.Telemetry) -> list[AnatomyMetricsProcessor]:
    processor = telemetry._processor
    assert processor is not None
    return [p for p in processor.processors if isinstance(p, AnatomyMetricsProcessor)]


def test_anatomy_metrics_takes_the_processors_options() -> None:
    telemetry = aa.configure(exporter="none", tracer_provider=TracerProvider(), anatomy_metrics={"sample_ratio": 0.25})
    [processor] = _anatomy_processors(telemetry)
    assert processor.sample_ratio == 0.25
    plain = aa.configure(exporter="none", tracer_provider=TracerProvider(), anatomy_metrics=True)
    [processor] = _anatomy_processors(plain)
    assert processor.sample_ratio == 1.0
    assert _anatomy_processors(aa.configure(exporter="none", tracer_provider=TracerProvider())) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"sample_rate": 0.5}, "anatomy_metrics={'sample_rate': 0.5}: "),
        ({"sample_ratio": 2}, "sample_ratio=2"),
        ("yes", "anatomy_metrics='yes' is not True, False or a mapping"),
    ],
    ids=["unknown option", "bad value", "not a flag"],
)
def test_bad_anatomy_metrics_options_are_a_configuration_error(value: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        aa.configure(exporter="none", tracer_provider=TracerProvider(), anatomy_metrics=value)  # type: ignore[arg-type]
    assert raised.value.setting == "anatomy_metrics"


def test_the_fleet_view_needs_no_import_before_configure() -> None:
    """The processor is wired in by configure() itself, not by a registry its module fills when imported."""
    code = (
        "from agent_anatomy.configuration import configure\n"
        "t = configure(exporter='none', metrics=False, instrument=False, anatomy_metrics=True)\n"
        "print(type(t._processor.processors[-1]).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "AnatomyMetricsProcessor"
