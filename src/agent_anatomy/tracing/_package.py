"""Instrumentation metadata, kept apart from code that imports the SDK it instruments."""

from typing import Final

_instruments: Final = ("anthropic >= 2.13, < 3",)
_mcp_instruments: Final = ("mcp >= 1.9",)
_claude_agent_instruments: Final = ("claude-agent-sdk >= 0.2",)
