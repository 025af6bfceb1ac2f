"""The {{name}} plugin: tools written in Python.

Build with ./build.sh; see docs/writing-plugins-python.md for the SDK.
"""

from typing import Annotated

from mcp_plugin import Context, Field, tool


@tool(read_only=True)
def greet(ctx: Context, name: Annotated[str, Field("Who to greet", minLength=1)]) -> str:
    """Greet someone, counting the greetings of this session."""
    try:
        count = ctx.session.get("greetings", 0) + 1
        ctx.session.set("greetings", count)
    except Exception:  # no session for this request: count from one
        count = 1
    ctx.info(f"greeting {name} (greeting {count} of this session)")
    return f"Hello, {name}! (greeting {count})"
