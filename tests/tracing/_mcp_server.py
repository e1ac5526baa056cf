"""A small MCP server over stdio, traced with agent-anatomy: run by tests as a subprocess.

It exports its spans to the JSONL file named by ``AGENT_ANATOMY_TEST_SPANS``. Its one tool does its work
inside a span of its own, under whatever the request's trace context makes current.
"""

from __future__ import annotations

import os

try:
    from mcp.server.mcpserver import Context, MCPServer
except ImportError:  # mcp 1.x names them so
    from mcp.server.fastmcp import Context  # type: ignore[no-redef]
    from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[no-redef]

import agent_anatomy as aa

handle = aa.configure(service_name="refund-server", exporter=f"jsonl:{os.environ['AGENT_ANATOMY_TEST_SPANS']}")
server = MCPServer("refunds")


@server.tool()
async def refund_status(order_id: str, ctx: Context) -> str:
    """Where a refund is."""
    with aa.tracing.continue_trace(ctx.request_context), aa.span("look up the ledger"):
        if order_id == "missing":
            raise ValueError(f"no order {order_id}")
        return f"refund for {order_id} is on its way"


if __name__ == "__main__":
    try:
        server.run("stdio")
    finally:
        handle.shutdown(5)
