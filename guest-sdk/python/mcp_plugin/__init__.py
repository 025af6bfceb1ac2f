"""Write MCP tools in Python for mcp-wasm-host.

A plugin is a module (``app.py``) of typed functions marked ``@tool``; their
type hints become the tools' input schemas, their docstrings the
descriptions. The module must also import ``Tools``, the class the
component exports::

    from typing import Annotated
    from mcp_plugin import Context, Field, Tools, tool

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

Build with ``mcp-wasm-host plugin wit`` and ``componentize-py`` (see
``docs/writing-plugins-python.md``).
"""

from __future__ import annotations

import inspect
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from componentize_py_types import Err
from wit_world import exports as _exports
from wit_world.imports import types as _types

from ._context import (
    Client,
    Context,
    ContextError,
    Elicited,
    KeyValue,
    Principal,
    Root,
    Sampled,
    SessionState,
)
from ._schema import Field, SchemaError, _with_default, convert, schema_of, to_json_value

__all__ = [
    "tool",
    "Tools",
    "Context",
    "ContextError",
    "Field",
    "ToolError",
    "Result",
    "Image",
    "Audio",
    "ResourceLink",
    "Resource",
    "Elicited",
    "Sampled",
    "Principal",
    "Client",
    "Root",
    "SessionState",
    "KeyValue",
    "SchemaError",
]


class ToolError(Exception):
    """Raise to end a tool with an error result; ``content`` blocks (or
    strings) follow the message."""

    def __init__(self, message: str, content: Optional[list] = None) -> None:
        super().__init__(message)
        self.message = message
        self.content = content or []


@dataclass
class Image:
    data: bytes
    mime_type: str = "image/png"


@dataclass
class Audio:
    data: bytes
    mime_type: str = "audio/wav"


@dataclass
class ResourceLink:
    uri: str
    name: str
    title: Optional[str] = None
    description: Optional[str] = None
    mime_type: Optional[str] = None
    size: Optional[int] = None


@dataclass
class Resource:
    """An embedded resource: ``text`` or ``blob``, not both."""

    uri: str
    text: Optional[str] = None
    blob: Optional[bytes] = None
    mime_type: Optional[str] = None


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
) -> Any:
    """Register a function as a tool: ``@tool`` or ``@tool(name=..., read_only=True)``.

    Every parameter needs a type hint; a parameter annotated ``Context``
    receives the request's context and is not part of the schema. Parameters
    with defaults are optional.
    """

    def register(function: Callable) -> Callable:
        tool_name = name or function.__name__
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
        )
        _TOOLS[tool_name] = _Tool(
            tool_name, function, descriptor, parameters, context_parameter, output_schema is not None
        )
        return function

    return register(function) if function is not None else register


# --- results -----------------------------------------------------------------


def _block(item: Any) -> Any:
    if isinstance(item, str):
        return _types.ContentBlock_Text(item)
    if isinstance(item, Image):
        return _types.ContentBlock_Image(_types.BinaryContent(bytes(item.data), item.mime_type))
    if isinstance(item, Audio):
        return _types.ContentBlock_Audio(_types.BinaryContent(bytes(item.data), item.mime_type))
    if isinstance(item, ResourceLink):
        return _types.ContentBlock_ResourceLink(
            _types.ResourceLink(item.uri, item.name, item.title, item.description, item.mime_type, item.size)
        )
    if isinstance(item, Resource):
        if (item.text is None) == (item.blob is None):
            raise ValueError(f"resource {item.uri}: give text or blob, not both or neither")
        body = (
            _types.ResourceBody_Text(item.text)
            if item.text is not None
            else _types.ResourceBody_Blob(bytes(item.blob))
        )
        return _types.ContentBlock_EmbeddedResource(_types.EmbeddedResource(item.uri, item.mime_type, body))
    return _types.ContentBlock_Text(json.dumps(to_json_value(item)))


def _is_block(value: Any) -> bool:
    return isinstance(value, (Image, Audio, ResourceLink, Resource))


def _result(value: Any, structured_expected: bool) -> Any:
    if isinstance(value, Result):
        structured = None if value.structured is None else json.dumps(to_json_value(value.structured))
        return _types.CallResult([_block(b) for b in value.content], structured)
    if value is None:
        return _types.CallResult([], None)
    if isinstance(value, str) or _is_block(value):
        return _types.CallResult([_block(value)], None)
    if isinstance(value, list) and value and all(isinstance(v, str) or _is_block(v) for v in value):
        return _types.CallResult([_block(v) for v in value], None)
    plain = to_json_value(value)
    text = json.dumps(plain)
    if isinstance(plain, dict) or structured_expected:
        return _types.CallResult([_types.ContentBlock_Text(text)], text)
    return _types.CallResult([_types.ContentBlock_Text(text)], None)


def _tool_error(message: str, content: list) -> Err:
    return Err(_types.ToolError(message, [_block(c) for c in content]))


class Tools(_exports.Tools):
    """The component's `tools` export. Import it into the plugin's module."""

    def list_tools(self) -> list:
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
        except Exception as error:  # the model reads what went wrong
            raise _tool_error(f"{type(error).__name__}: {error}", []) from None
