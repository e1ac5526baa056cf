"""The support agent's tools, shared by the tests that run an agent loop against the simulator."""

from __future__ import annotations

import asyncio

import agent_anatomy as aa

QUESTION = [{"role": "user", "content": "Why was I charged twice?"}]


@aa.tool
async def get_user_profile(user_id: str) -> dict[str, str]:
    """Look up a customer's profile."""
    await asyncio.sleep(0.05)
    return {"id": user_id, "plan": "pro"}


@aa.tool
def get_transaction_history(user_id: str, days: int = 30) -> list[dict[str, object]]:
    """Fetch a customer's transactions."""
    return [{"amount": 42, "days": days}]


@aa.tool
async def get_product_catalog(category: str = "plans") -> list[str]:
    """List products."""
    return ["pro", "team"]


TOOLS = [get_user_profile, get_transaction_history, get_product_catalog]
