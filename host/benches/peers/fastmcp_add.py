"""The `add` tool of the benchmarks, served by FastMCP over stdio: the
Python framework peer measured beside this host and the Node reference."""

from fastmcp import FastMCP

mcp = FastMCP("bench-peer")


@mcp.tool
def add(a: float, b: float) -> dict:
    """Add two numbers."""
    return {"sum": a + b}


if __name__ == "__main__":
    mcp.run(show_banner=False)
