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

OTEL_SEMCONV_STABILITY_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
"""A comma-separated list; with ``gen_ai_latest_experimental`` in it, metrics take the newest GenAI names
(``gen_ai.client.inference.*`` token counters and histograms, ``gen_ai.invoke_agent.duration``,
``gen_ai.execute_tool.duration``, ``gen_ai.workflow.duration``) instead of ``gen_ai.client.token.usage``."""
GENAI_LATEST_EXPERIMENTAL: Final = "gen_ai_latest_experimental"

AGENT_ANATOMY_METRICS: Final = "AGENT_ANATOMY_METRICS"
"""``true``: ``configure()`` adds the anatomy metrics processor (each finished trace's anatomy recorded as
metrics, for the fleet view), as ``configure(anatomy_metrics=True)`` does."""

AGENT_ANATOMY_JSONL_FILE: Final = "AGENT_ANATOMY_JSONL_FILE"
"""Where ``OTEL_TRACES_EXPORTER=agent_anatomy_jsonl`` (``opentelemetry-instrument``'s exporter of our JSON Lines,
which it builds with no arguments) appends its spans; ``traces.jsonl`` when unset."""

AGENT_ANATOMY_RUN_DIR: Final = "AGENT_ANATOMY_RUN_DIR"
"""Set by ``agent-anatomy run`` for the program it starts: the folder each Python process of the run writes its
spans to (one JSON Lines file per process). A process that finds it set traces itself (see ``zero_code``)."""

AGENT_ANATOMY_RUN_NAME: Final = "AGENT_ANATOMY_RUN_NAME"
"""Set by ``agent-anatomy run``: the name of the run's root span (``invoke_agent {name}``), after the program."""

AGENT_ANATOMY_RUN_PARENT: Final = "AGENT_ANATOMY_RUN_PARENT"
"""Set by the first process of an ``agent-anatomy run``: the W3C ``traceparent`` of the run's root span, under
which the spans of the Python processes it starts go, so a run is one trace."""
