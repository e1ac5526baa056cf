"""Names of the environment variables agent-anatomy reads beyond those the OTel SDK defines.

The ``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_*``, ``OTEL_TRACES_*`` and ``OTEL_SDK_DISABLED``
names come from ``opentelemetry.sdk.environment_variables`` and ``opentelemetry.environment_variables``.
"""

from __future__ import annotations

from typing import Final

OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""Capture prompts, completions, tool arguments and tool results on spans.

``true`` (or ``SPAN_ONLY``, ``SPAN_AND_EVENT``, ``EVENT_ONLY``) turns capture on; ``false``, ``NO_CONTENT``
or unset leaves it off.
"""
