"""Span processors that upper layers offer to ``configure()``, by name, so setup never imports them.

The anatomy layer registers ``anatomy_metrics`` (each finished trace's anatomy as metrics) when it is
imported, which importing ``agent_anatomy`` does; ``configure(anatomy_metrics=True)`` then adds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import SpanProcessor

from ..errors import ConfigurationError

__all__ = ["ANATOMY_METRICS", "ProcessorFactory", "register_processor", "registered_processor"]

ProcessorFactory = Callable[[MeterProvider], SpanProcessor]
"""Makes the processor, given the meter provider it records on."""
ANATOMY_METRICS: Final = "anatomy_metrics"

_factories: dict[str, ProcessorFactory] = {}


def register_processor(name: str, factory: ProcessorFactory) -> None:
    """Offer a processor to ``configure()`` under ``name`` (registering a name again replaces it)."""
    _factories[name] = factory


def registered_processor(name: str) -> ProcessorFactory:
    factory = _factories.get(name)
    if factory is None:
        raise ConfigurationError(
            f"no span processor is registered as {name!r} (import agent_anatomy before configuring)",
            setting=name,
            value=True,
        )
    return factory
