"""JSON Schema from Python type hints, and arguments back into Python values.

Supported hints: ``str``, ``int``, ``float``, ``bool``, ``None``, ``Any``,
``list[T]``, ``tuple[T, ...]``, ``dict[str, T]``, ``Optional[T]`` / ``T | None``,
``Union[...]``, ``Literal[...]``, ``enum.Enum`` subclasses, ``TypedDict`` and
``dataclass`` classes (nested objects), and ``Annotated[T, Field(...)]`` or
``Annotated[T, "description"]`` to describe a value or add schema keywords.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Literal, Union

__all__ = ["Field", "schema_of", "convert", "SchemaError"]


class SchemaError(TypeError):
    """A type hint that cannot be expressed as JSON Schema."""


class Field:
    """Describe a parameter or a field: ``Annotated[int, Field("How many", minimum=1)]``.

    Keyword arguments are JSON Schema keywords added as they are
    (``minimum``, ``maxLength``, ``pattern``, ``format``, ...); Python-style
    names are accepted too (``max_length`` becomes ``maxLength``).
    """

    def __init__(self, description: str | None = None, **keywords: Any) -> None:
        self.description = description
        self.keywords = {_camel(k): v for k, v in keywords.items()}

    def apply(self, schema: dict) -> dict:
        schema = dict(schema)
        if self.description:
            schema["description"] = self.description
        schema.update(self.keywords)
        return schema


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_NONE = type(None)


def _is_typeddict(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__total__")


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    """``Optional[T]`` -> (T, True); anything else -> (hint, False)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not _NONE]
        if len(args) < len(typing.get_args(hint)):
            inner = args[0] if len(args) == 1 else Union[tuple(args)]
            return inner, True
    return hint, False


def schema_of(hint: Any) -> dict:
    """The JSON Schema of values of type ``hint``."""
    if hint is Any or hint is typing.Any or hint is object:
        return {}
    if hint is _NONE or hint is None:
        return {"type": "null"}
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        inner, *extras = typing.get_args(hint)
        schema = schema_of(inner)
        for extra in extras:
            if isinstance(extra, Field):
                schema = extra.apply(schema)
            elif isinstance(extra, str):
                schema = {**schema, "description": extra}
        return schema
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if hint is bytes:
        raise SchemaError("bytes cannot be a JSON value; take a base64 str instead")
    if origin in (Union, types.UnionType):
        inner, optional = _strip_optional(hint)
        if optional:
            return {"anyOf": [schema_of(inner), {"type": "null"}]}
        return {"anyOf": [schema_of(a) for a in typing.get_args(hint)]}
    if origin is Literal:
        values = list(typing.get_args(hint))
        schema: dict = {"enum": values}
        kinds = {type(v) for v in values}
        if len(kinds) == 1:
            schema = {**schema_of(kinds.pop()), **schema}
        return schema
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [member.value for member in hint]
        return {"enum": values}
    if origin in (list, typing.List, set, frozenset) or hint in (list, set, frozenset):
        args = typing.get_args(hint)
        schema = {"type": "array"}
        if args:
            schema["items"] = schema_of(args[0])
        if origin in (set, frozenset):
            schema["uniqueItems"] = True
        return schema
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": schema_of(args[0])}
        return {
            "type": "array",
            "prefixItems": [schema_of(a) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin is dict or hint is dict:
        args = typing.get_args(hint)
        schema = {"type": "object"}
        if args:
            if args[0] is not str:
                raise SchemaError(f"JSON object keys are strings, not {args[0]!r}")
            schema["additionalProperties"] = schema_of(args[1])
        return schema
    if _is_typeddict(hint):
        hints = typing.get_type_hints(hint, include_extras=True)
        required = sorted(getattr(hint, "__required_keys__", hints.keys()))
        return _object(
            {name: schema_of(h) for name, h in hints.items()}, required, hint.__doc__
        )
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = typing.get_type_hints(hint, include_extras=True)
        properties, required = {}, []
        for field in dataclasses.fields(hint):
            schema = schema_of(hints[field.name])
            if field.default is not dataclasses.MISSING:
                schema = _with_default(schema, field.default)
            elif field.default_factory is dataclasses.MISSING:
                required.append(field.name)
            properties[field.name] = schema
        return _object(properties, required, None)
    raise SchemaError(f"no JSON Schema for the type hint {hint!r}")


def _object(properties: dict, required: list, doc: str | None) -> dict:
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if doc and not doc.startswith(("dict(", "Data class")):
        schema["description"] = doc.strip().split("\n\n")[0]
    return schema


def _with_default(schema: dict, default: Any) -> dict:
    if isinstance(default, enum.Enum):
        default = default.value
    if default is None or isinstance(default, (str, int, float, bool, list, dict)):
        return {**schema, "default": default}
    return schema


def convert(value: Any, hint: Any) -> Any:
    """Turn a JSON value already validated by the host into ``hint``'s type:
    dataclasses and enums are built; everything else stays as parsed."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return convert(value, typing.get_args(hint)[0])
    if origin in (Union, types.UnionType):
        inner, optional = _strip_optional(hint)
        if optional:
            return convert(value, inner)
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (list, set, frozenset) and isinstance(value, list):
        args = typing.get_args(hint)
        items = [convert(v, args[0]) for v in value] if args else value
        return origin(items) if origin is not list else items
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0]) for v in value)
        return tuple(convert(v, h) for v, h in zip(value, args))
    if origin is dict and isinstance(value, dict):
        args = typing.get_args(hint)
        return {k: convert(v, args[1]) for k, v in value.items()} if args else value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type) and isinstance(value, dict):
        hints = typing.get_type_hints(hint, include_extras=True)
        return hint(**{k: convert(v, hints[k]) for k, v in value.items() if k in hints})
    if _is_typeddict(hint) and isinstance(value, dict):
        hints = typing.get_type_hints(hint, include_extras=True)
        return {k: convert(v, hints[k]) if k in hints else v for k, v in value.items()}
    return value


def to_json_value(value: Any) -> Any:
    """Python values (dataclasses, enums, tuples, sets) as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_json_value(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_value(v) for v in value]
    return value
