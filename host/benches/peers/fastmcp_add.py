"""The `add` tool of the benchmarks, served by FastMCP: the Python framework
peer measured beside this host and the Node reference. Over stdio, or with
`--http PORT` over Streamable HTTP on 127.0.0.1:PORT/mcp."""

import sys

from fastmcp import FastMCP

mcp = FastMCP("bench-peer")


@mcp.tool
def add(a: float, b: float) -> dict:
    """Add two numbers."""
    return {"sum": a + b}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--http"]:
        mcp.run(
            transport="http",
            host="127.0.0.1",
            port=int(sys.argv[2]),
            show_banner=False,
            log_level="warning",
        )
    else:
        mcp.run(show_banner=False)
