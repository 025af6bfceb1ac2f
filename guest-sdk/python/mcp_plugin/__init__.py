"""Write MCP tools in Python for mcp-wasm-host.

A plugin is a module (``app.py``) of typed functions marked ``@tool``; their
type hints become the tools' input schemas, their docstrings the
descriptions. ``@resource``, ``@resource_template``, ``@prompt`` and
``@complete_argument`` declare the rest of what it serves; the entry module
``mcp_plugin.component`` imports it and offers the component's exports::

    from typing import Annotated
    from mcp_plugin import Context, Field, tool

    @tool
    def greet(ctx: Context, name: Annotated[str, Field("Who to greet")], times: int = 1) -> str:
        \"\"\"Greet someone.\"\"\"
        ctx.info(f"greeting {name}")
        return " ".join([f"Hello, {name}!"] * times)

What a tool returns becomes its result: a ``str`` is one text block; a
``dict`` (or dataclass, or ``TypedDict``) is structured content plus its JSON
as text; content helpers (``Image``, ``Audio``, ``ResourceLink``,
``Resource``) or a list of them are content blocks; ``Result`` gives full
control. Raising ``ToolError`` (or any exception) returns an error result the
model can read.

Inside a call, the ``Context`` reaches the client (logging, progress,
elicitation, sampling, roots) and the host's services (session state, the
key-value store, HTTP, secrets, the catalog of resources and prompts), and
traces the plugin's own work: ``with ctx.span("parse", rows=10): ...`` opens
a span in the call's trace for the body (attribute values converted with
``str()``; ended also when the body raises), and ``ctx.trace_id`` is the
trace's id, or None when the host does not trace.

Build with ``mcp-wasm-host plugin wit`` and ``componentize-py`` (see
``docs/writing-plugins-python.md``).
"""

from __future__ import annotations

import inspect
import json
import traceback
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from componentize_py_types import Err
from wit_world import exports as _world_exports
from wit_world.imports import types as _types

from ._content import Audio, Image, Resource, ResourceContents, ResourceLink, is_block, to_block
from ._context import Client, Context, Elicited, Grant, Principal, Root, Sampled, Span
from ._exports import (
    Completion,
    Completions,
    ExportError,
    Prompts,
    Resources,
    complete_argument,
    prompt,
    resource,
    resource_template,
)
from ._facade import ContextError
from ._schema import Field, SchemaError, _with_default, convert, schema_of, to_json_value
from ._services import (
    Catalog,
    Database,
    KeyValue,
    PromptArgument,
    PromptDescriptor,
    PromptMessage,
    PromptResult,
    Request,
    RequestState,
    ResourceDescriptor,
    Rows,
    ResourceTemplateDescriptor,
    Response,
    SessionState,
)
from ._uri_template import UriTemplateError

__all__ = [
    "tool",
    "resource",
    "resource_template",
    "prompt",
    "complete_argument",
    "Tools",
    "Resources",
    "Prompts",
    "Completions",
    "Context",
    "ContextError",
    "ExportError",
    "Field",
    "ToolError",
    "Result",
    "Image",
    "Audio",
    "ResourceLink",
    "Resource",
    "ResourceContents",
    "PromptMessage",
    "PromptResult",
    "Completion",
    "Elicited",
    "Sampled",
    "Principal",
    "Grant",
    "Database",
    "Rows",
    "Client",
    "Root",
    "Span",
    "RequestState",
    "SessionState",
    "KeyValue",
    "Request",
    "Response",
    "Catalog",
    "ResourceDescriptor",
    "ResourceTemplateDescriptor",
    "PromptArgument",
    "PromptDescriptor",
    "SchemaError",
    "UriTemplateError",
]


class ToolError(Exception):
    """Raise to end a tool with an error result; ``content`` blocks (or
    strings) follow the message."""

    def __init__(self, message: str, content: Optional[list] = None) -> None:
        super().__init__(message)
        self.message = message
        self.content = content or []


@dataclass
class Result:
    """A result with explicit content blocks and structured content."""

    content: list = field(default_factory=list)
    structured: Any = None


@dataclass
class _Tool:
    name: str
    function: Callable[..., Any]
    descriptor: Any
    parameters: dict[str, Any]  # name -> type hint
    context_parameter: Optional[str]
    has_output_schema: bool


_TOOLS: dict[str, _Tool] = {}


def _description(function: Callable) -> Optional[str]:
    doc = inspect.getdoc(function)
    return doc.strip() if doc else None


def _output_schema(hint: Any) -> Optional[dict]:
    """An output schema for returns typed as a TypedDict or dataclass."""
    import dataclasses

    if hint is inspect.Signature.empty:
        return None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return schema_of(hint)
    if isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__total__"):
        return schema_of(hint)
    return None


# ``@tool(task=...)``: whether a call may run as an MCP task.
_TASK_SUPPORT = {
    "forbidden": _types.TaskSupport.FORBIDDEN,
    "optional": _types.TaskSupport.OPTIONAL,
    "required": _types.TaskSupport.REQUIRED,
}


def tool(
    function: Optional[Callable] = None,
    *,
    name: Optional[str] = None,
    title: Optional[str] = None,
    description: Optional[str] = None,
    read_only: Optional[bool] = None,
    destructive: Optional[bool] = None,
    idempotent: Optional[bool] = None,
    open_world: Optional[bool] = None,
    task: str = "forbidden",
) -> Any:
    """Register a function as a tool: ``@tool`` or ``@tool(name=..., read_only=True)``.

    Every parameter needs a type hint; a parameter annotated ``Context``
    receives the request's context and is not part of the schema. Parameters
    with defaults are optional.

    ``task`` says whether a call may run as an MCP task (answered at once
    with a task id the client polls): ``"forbidden"`` (the default, always
    an ordinary call), ``"optional"`` (a task when the client supports
    tasks) or ``"required"`` (only as a task). The function is the same
    either way.
    """

    def register(function: Callable) -> Callable:
        tool_name = name or function.__name__
        if not isinstance(task, str) or task not in _TASK_SUPPORT:
            raise ValueError(
                f"tool {tool_name!r}: task must be 'forbidden', 'optional' or 'required', not {task!r}"
            )
        if tool_name in _TOOLS:
            raise ValueError(f"two tools are named {tool_name!r}")
        hints = typing.get_type_hints(function, include_extras=True)
        signature = inspect.signature(function)
        properties: dict[str, Any] = {}
        required: list[str] = []
        parameters: dict[str, Any] = {}
        context_parameter = None
        for parameter in signature.parameters.values():
            hint = hints.get(parameter.name, inspect.Signature.empty)
            if hint is Context:
                context_parameter = parameter.name
                continue
            if hint is inspect.Signature.empty:
                raise SchemaError(f"tool {tool_name!r}: parameter {parameter.name!r} has no type hint")
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise SchemaError(f"tool {tool_name!r}: *args and **kwargs cannot be described")
            try:
                schema = schema_of(hint)
            except SchemaError as error:
                raise SchemaError(f"tool {tool_name!r}, parameter {parameter.name!r}: {error}") from None
            if parameter.default is inspect.Parameter.empty:
                required.append(parameter.name)
            else:
                schema = _with_default(schema, parameter.default)
            properties[parameter.name] = schema
            parameters[parameter.name] = hint
        input_schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            input_schema["required"] = required
        input_schema["additionalProperties"] = False
        output_schema = _output_schema(hints.get("return", inspect.Signature.empty))
        hints_given = [read_only, destructive, idempotent, open_world]
        annotations = None
        if title is not None or any(h is not None for h in hints_given):
            annotations = _types.ToolAnnotations(title, read_only, destructive, idempotent, open_world)
        descriptor = _types.ToolDescriptor(
            name=tool_name,
            title=title,
            description=description or _description(function),
            input_schema=json.dumps(input_schema),
            output_schema=None if output_schema is None else json.dumps(output_schema),
            annotations=annotations,
            task_support=_TASK_SUPPORT[task],
        )
        _TOOLS[tool_name] = _Tool(
            tool_name, function, descriptor, parameters, context_parameter, output_schema is not None
        )
        return function

    return register(function) if function is not None else register


# --- results -----------------------------------------------------------------


def _result(value: Any, structured_expected: bool) -> Any:
    if isinstance(value, Result):
        structured = None if value.structured is None else json.dumps(to_json_value(value.structured))
        return _types.CallResult([to_block(b) for b in value.content], structured)
    if value is None:
        return _types.CallResult([], None)
    if isinstance(value, str) or is_block(value):
        return _types.CallResult([to_block(value)], None)
    if isinstance(value, list) and value and all(isinstance(v, str) or is_block(v) for v in value):
        return _types.CallResult([to_block(v) for v in value], None)
    plain = to_json_value(value)
    text = json.dumps(plain)
    if isinstance(plain, dict) or structured_expected:
        return _types.CallResult([_types.ContentBlock_Text(text)], text)
    return _types.CallResult([_types.ContentBlock_Text(text)], None)


def _tool_error(message: str, content: list) -> Err:
    return Err(_types.ToolError(message, [to_block(c) for c in content]))


_CALL_PATH_WARM = False


def _warm_call_path() -> None:
    """Run the SDK's own side of a call once, on made-up data and without
    any tool: parse arguments, build and shape a result of a few hundred
    small objects, and let them go. The host asks a per-session plugin's
    fresh instance for its tools before that instance's first call, so the
    pages this first run writes (the allocator's pools, above all, and the
    interpreter's caches) become the instance's own there, and the first
    call, which allocates into those same pools, does not take a
    copy-on-write fault for each.
    """
    global _CALL_PATH_WARM
    if _CALL_PATH_WARM:
        return
    _CALL_PATH_WARM = True
    try:
        _result(json.loads('{"a": [1, 2.5, "x", true, null], "b": {"c": -1}}'), False)
        rows = [{"row": i, "values": [i * 0.5, str(i)]} for i in range(300)]
        del rows
    except Exception:  # a warm-up never fails the listing it precedes
        pass


class Tools(_world_exports.Tools):
    """The component's `tools` export. Import it into the plugin's module."""

    def list_tools(self) -> list:
        _warm_call_path()
        return [t.descriptor for t in _TOOLS.values()]

    def call_tool(self, name: str, arguments: str) -> Any:
        entry = _TOOLS.get(name)
        if entry is None:
            raise _tool_error(f"unknown tool {name!r}", [])
        try:
            raw = json.loads(arguments) if arguments else {}
            kwargs = {
                key: convert(value, entry.parameters[key])
                for key, value in raw.items()
                if key in entry.parameters
            }
            if entry.context_parameter is not None:
                kwargs[entry.context_parameter] = Context()
            value = entry.function(**kwargs)
            return _result(value, entry.has_output_schema)
        except Err:
            raise
        except ToolError as error:
            raise _tool_error(error.message, error.content) from None
        except ContextError as error:
            raise _tool_error(str(error), []) from None
        except Exception as error:  # the model reads what went wrong; the log gets the traceback
            traceback.print_exception(error)
            raise _tool_error(f"{type(error).__name__}: {error}", []) from None
