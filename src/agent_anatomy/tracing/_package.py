"""Instrumentation metadata, kept apart from code that imports the SDK it instruments."""

from typing import Final

_instruments: Final = ("anthropic >= 0.41, < 3",)
"""0.41 is the first anthropic release whose Messages API lives where every later one has it
(``anthropic.resources.messages.messages``), with message batches, models, ``count_tokens`` and the usage
fields of prompt caching; before it the messages were one flat module of another shape."""
_mcp_instruments: Final = ("mcp >= 1.9",)
_claude_agent_instruments: Final = ("claude-agent-sdk >= 0.2",)
