"""Descriptive statistics and date arithmetic: an example plugin in Python.

Shows typed tools (schemas from type hints), structured results, logging,
progress, an elicitation and session state.
"""

import datetime
import statistics
from typing import Annotated, Literal, TypedDict

from mcp_plugin import Context, Field, ToolError, tool


class Summary(TypedDict):
    count: int
    mean: float
    median: float
    stdev: float
    min: float
    max: float


@tool(read_only=True)
def describe(
    ctx: Context,
    numbers: Annotated[list[float], Field("The sample", minItems=1)],
) -> Summary:
    """Count, mean, median, sample standard deviation, minimum and maximum of numbers."""
    ctx.debug(f"describing {len(numbers)} numbers")
    ctx.progress(0, 2, "central tendency")
    mean = statistics.fmean(numbers)
    median = statistics.median(numbers)
    ctx.progress(1, 2, "spread")
    stdev = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    ctx.progress(2, 2, "done")
    return Summary(
        count=len(numbers), mean=mean, median=median, stdev=stdev, min=min(numbers), max=max(numbers)
    )


@tool(read_only=True)
def days_between(
    start: Annotated[str, Field("A date, YYYY-MM-DD")],
    end: Annotated[str, Field("A date, YYYY-MM-DD")],
    unit: Literal["days", "weeks"] = "days",
) -> str:
    """How far apart two dates are."""
    try:
        first = datetime.date.fromisoformat(start)
        last = datetime.date.fromisoformat(end)
    except ValueError as error:
        raise ToolError(f"not a date: {error}") from None
    days = (last - first).days
    return f"{days} days" if unit == "days" else f"{days / 7:g} weeks"


@tool
def remember(ctx: Context, numbers: list[float]) -> str:
    """Add numbers to the sample kept for this session."""
    kept = ctx.session.get("sample", [])
    kept.extend(numbers)
    ctx.session.set("sample", kept)
    ctx.info(f"the session's sample has {len(kept)} numbers")
    return f"{len(kept)} numbers kept"


@tool(read_only=True)
def session_summary(ctx: Context) -> Summary:
    """Describe the numbers kept for this session."""
    kept = ctx.session.get("sample", [])
    if not kept:
        raise ToolError("no numbers kept yet: call remember first")
    return describe(ctx, kept)


@tool
def greet(ctx: Context, name: str = "") -> str:
    """Greet someone, asking the user for a name when none is given."""
    if not name:
        answer = ctx.elicit(
            "Who should be greeted?",
            {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        )
        if not answer.accepted:
            return f"No greeting: the user chose {answer.action}."
        name = answer.content["name"]
    return f"Hello, {name}, from Python!"
