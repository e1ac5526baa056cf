"""An Anthropic script with no tracing code at all, for ``opentelemetry-instrument``.

    opentelemetry-instrument --traces_exporter console python examples/plain_anthropic.py

With agent-anatomy installed, its instrumentor (entry point ``opentelemetry_instrumentor``) traces the
calls below: an LLM span each, with time to first token for the streamed one. The client reads
``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_API_KEY``; point it at ``agent-anatomy sim`` to run it with no key.
"""

from __future__ import annotations

import sys

import anthropic


def main() -> None:
    client = anthropic.Anthropic(max_retries=0)
    question = [{"role": "user", "content": "Why was I charged twice?"}]
    reply = client.messages.create(model="claude-haiku-4-5", max_tokens=256, messages=question)  # type: ignore[arg-type]
    print(f"create: stop_reason={reply.stop_reason}", file=sys.stderr)
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=256, messages=question) as stream:  # type: ignore[arg-type]
        text = stream.get_final_text()
    print(f"stream: {len(text)} characters", file=sys.stderr)


if __name__ == "__main__":
    main()
