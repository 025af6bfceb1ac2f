"""Resources, resource templates, prompts and argument completion: the
decorators that declare them, and the component exports (``Resources``,
``Prompts``, ``Completions``) that serve them.

    @resource("config://settings", mime_type="application/json")
    def settings() -> dict: ...

    @resource_template("notes://{name}", mime_type="text/markdown")
    def note(ctx: Context, name: str) -> str: ...

    @prompt
    def review(code: Annotated[str, Field("The code to review")], focus: Optional[str] = None) -> str: ...

    @complete_argument(prompt="review", argument="focus")
    def focuses(value: str) -> list[str]: ...
"""

from __future__ import annotations

import inspect
import json
import traceback
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from componentize_py_types import Err
from wit_world import exports as _world_exports
from wit_world.imports import types as _types

from ._content import ResourceContents, body, to_block
from ._context import Context
from ._facade import ContextError
from ._schema import Field, SchemaError, convert, to_json_value
from ._services import PromptMessage, PromptResult
from ._uri_template import UriTemplate

__all__ = [
    "resource",
    "resource_template",
    "prompt",
    "complete_argument",
    "Completion",
    "ExportError",
    "Resources",
    "Prompts",
    "Completions",
]

MAX_COMPLETION_VALUES = 100


class ExportError(Exception):
    """Raise in a resource, prompt or completion function to answer with a
    protocol error: ``not-found``, ``invalid-params`` or ``failed``."""

    def __init__(self, message: str, kind: str = "failed") -> None:
        if kind not in ("not-found", "invalid-params", "failed"):
            raise ValueError(f"unknown export error kind {kind!r}")
        super().__init__(message)
        self.message = message
        self.kind = kind

    @classmethod
    def not_found(cls, message: str) -> "ExportError":
        return cls(message, "not-found")

    @classmethod
    def invalid_params(cls, message: str) -> "ExportError":
        return cls(message, "invalid-params")

    @classmethod
    def failed(cls, message: str) -> "ExportError":
        return cls(message, "failed")

    def to_wit(self) -> Err:
        variant = {
            "not-found": _types.ExportError_NotFound,
            "invalid-params": _types.ExportError_InvalidParams,
            "failed": _types.ExportError_Failed,
        }[self.kind]
        return Err(variant(self.message))


class Completion:
    """Suggested values for an argument, best first. Beyond 100 values the
    rest are dropped, and ``total`` and ``has_more`` say so."""

    def __init__(self, values: Iterable[str], total: Optional[int] = None, has_more: Optional[bool] = None) -> None:
        every = [str(v) for v in values]
        self.values = every[:MAX_COMPLETION_VALUES]
        self.total = len(every) if total is None else total
        self.has_more = (self.total > len(self.values)) if has_more is None else has_more

    @classmethod
    def by_prefix(cls, prefix: str, candidates: Iterable[str]) -> "Completion":
        """The ``candidates`` that start with ``prefix`` (what the user typed
        so far), in their order."""
        return cls(c for c in candidates if c.startswith(prefix))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Completion) and (self.values, self.total, self.has_more) == (
            other.values,
            other.total,
            other.has_more,
        )

    def __repr__(self) -> str:
        return f"Completion({self.values!r}, total={self.total!r}, has_more={self.has_more!r})"


# --- reading the functions' signatures --------------------------------------------


def _description(function: Callable, given: Optional[str]) -> Optional[str]:
    if given is not None:
        return given
    doc = inspect.getdoc(function)
    return doc.strip() if doc else None


@dataclass
class _Signature:
    """A function's parameters: the one annotated ``Context`` and the others
    with their type hints."""

    context: Optional[str]
    parameters: dict[str, Any]
    defaults: dict[str, Any]

    @classmethod
    def of(cls, function: Callable, what: str) -> "_Signature":
        hints = typing.get_type_hints(function, include_extras=True)
        context = None
        parameters: dict[str, Any] = {}
        defaults: dict[str, Any] = {}
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise SchemaError(f"{what}: *args and **kwargs cannot be described")
            hint = hints.get(parameter.name, str)
            if hint is Context:
                context = parameter.name
                continue
            parameters[parameter.name] = hint
            if parameter.default is not inspect.Parameter.empty:
                defaults[parameter.name] = parameter.default
        return cls(context, parameters, defaults)

    def call(self, function: Callable, arguments: dict[str, Any]) -> Any:
        if self.context is not None:
            arguments[self.context] = Context()
        return function(**arguments)


def _converted(value: str, hint: Any, name: str) -> Any:
    """A URI template variable as its parameter's type: ``str`` as it is,
    ``int``, ``float`` and ``bool`` (``true``/``false``) parsed, anything
    else parsed as JSON."""
    inner = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    try:
        if inner is str or inner is Any:
            return value
        if inner is bool:
            if value not in ("true", "false"):
                raise ValueError("expected true or false")
            return value == "true"
        if inner in (int, float):
            return inner(value)
        return convert(json.loads(value), inner)
    except (TypeError, ValueError) as error:
        raise ExportError.invalid_params(f"`{name}` = {value!r}: {error}") from None


def _failure(what: str, error: Exception) -> Err:
    """The export error for an exception raised by the plugin's function;
    unexpected ones leave their traceback on the host's log."""
    if isinstance(error, ExportError):
        return error.to_wit()
    if isinstance(error, ContextError):
        return Err(_types.ExportError_Failed(f"{what}: {error}"))
    traceback.print_exception(error)
    return Err(_types.ExportError_Failed(f"{what}: {type(error).__name__}: {error}"))


# --- resources ---------------------------------------------------------------------


@dataclass
class _Resource:
    descriptor: Any
    function: Callable
    signature: _Signature


@dataclass
class _Template:
    descriptor: Any
    template: UriTemplate
    function: Callable
    signature: _Signature


_RESOURCES: dict[str, _Resource] = {}
_TEMPLATES: dict[str, _Template] = {}


def resource(
    uri: str,
    *,
    name: Optional[str] = None,
    title: Optional[str] = None,
    description: Optional[str] = None,
    mime_type: Optional[str] = None,
    size: Optional[int] = None,
) -> Callable[[Callable], Callable]:
    """Serve the function's return value as the resource at ``uri``.

    The function takes nothing but, optionally, a ``Context``. It returns
    text (``str``), bytes (a blob), ``ResourceContents`` (or a list of them)
    or any JSON-able value (sent as JSON). ``name`` defaults to the
    function's name, ``description`` to its docstring.
    """

    def register(function: Callable) -> Callable:
        if uri in _RESOURCES:
            raise ValueError(f"two resources have the URI {uri!r}")
        signature = _Signature.of(function, f"resource {uri}")
        if signature.parameters:
            raise SchemaError(
                f"resource {uri}: takes arguments {list(signature.parameters)}; "
                f"only a Context (use resource_template for URIs with variables)"
            )
        descriptor = _types.ResourceDescriptor(
            uri, name or function.__name__, title, _description(function, description), mime_type, size
        )
        _RESOURCES[uri] = _Resource(descriptor, function, signature)
        return function

    return register


def resource_template(
    uri_template: str,
    *,
    name: Optional[str] = None,
    title: Optional[str] = None,
    description: Optional[str] = None,
    mime_type: Optional[str] = None,
) -> Callable[[Callable], Callable]:
    """Serve every URI matching ``uri_template`` (RFC 6570 level 1, such as
    ``notes://{name}``) with the function, which takes each variable as a
    parameter of the same name (converted to its type hint) and, optionally,
    a ``Context``. It returns what a ``resource`` function returns."""

    def register(function: Callable) -> Callable:
        if uri_template in _TEMPLATES:
            raise ValueError(f"two resource templates are {uri_template!r}")
        template = UriTemplate(uri_template)
        signature = _Signature.of(function, f"resource template {uri_template}")
        if set(signature.parameters) != set(template.variables):
            raise SchemaError(
                f"resource template {uri_template}: the function's parameters "
                f"{sorted(signature.parameters)} must be the template's variables {sorted(template.variables)}"
            )
        descriptor = _types.ResourceTemplate(
            uri_template, name or function.__name__, title, _description(function, description), mime_type
        )
        _TEMPLATES[uri_template] = _Template(descriptor, template, function, signature)
        return function

    return register


def _contents(value: Any, uri: str, mime_type: Optional[str]) -> list:
    """What a resource function returned, as the contract's contents."""
    if isinstance(value, list) and value and all(isinstance(v, ResourceContents) for v in value):
        return [c for v in value for c in _contents(v, uri, mime_type)]
    if isinstance(value, ResourceContents):
        at = value.uri or uri
        return [_types.EmbeddedResource(at, value.mime_type or mime_type, body(at, value.text, value.blob))]
    if isinstance(value, str):
        return [_types.EmbeddedResource(uri, mime_type, _types.ResourceBody_Text(value))]
    if isinstance(value, (bytes, bytearray)):
        blob = _types.ResourceBody_Blob(bytes(value))
        return [_types.EmbeddedResource(uri, mime_type or "application/octet-stream", blob)]
    text = json.dumps(to_json_value(value))
    return [_types.EmbeddedResource(uri, mime_type or "application/json", _types.ResourceBody_Text(text))]


def _read(uri: str) -> list:
    fixed = _RESOURCES.get(uri)
    if fixed is not None:
        value = fixed.signature.call(fixed.function, {})
        return _contents(value, uri, fixed.descriptor.mime_type)
    for entry in _TEMPLATES.values():
        variables = entry.template.match(uri)
        if variables is None:
            continue
        arguments = {k: _converted(v, entry.signature.parameters[k], k) for k, v in variables.items()}
        value = entry.signature.call(entry.function, arguments)
        return _contents(value, uri, entry.descriptor.mime_type)
    raise ExportError.not_found(f"no resource {uri}")


# --- prompts -------------------------------------------------------------------------


@dataclass
class _Prompt:
    descriptor: Any
    function: Callable
    signature: _Signature


_PROMPTS: dict[str, _Prompt] = {}


def _prompt_argument(name: str, hint: Any, required: bool, where: str) -> Any:
    description = None
    if typing.get_origin(hint) is typing.Annotated:
        hint, *extras = typing.get_args(hint)
        for extra in extras:
            if isinstance(extra, Field):
                description = extra.description
            elif isinstance(extra, str):
                description = extra
    if hint is not str and hint != Optional[str]:
        raise SchemaError(f"{where}: argument {name!r} must be a str or Optional[str] (prompt arguments are text)")
    return _types.PromptArgument(name, None, description, required)


def prompt(
    function: Optional[Callable] = None,
    *,
    name: Optional[str] = None,
    title: Optional[str] = None,
    description: Optional[str] = None,
) -> Any:
    """Offer the function as a prompt: ``@prompt`` or ``@prompt(name=...)``.

    Its parameters are the prompt's arguments, all text (``str``, or
    ``Optional[str] = None`` for an optional one; describe one with
    ``Annotated[str, Field("...")]``), plus optionally a ``Context``. It
    returns a ``str`` (one user message), a ``PromptMessage``, a list of
    them (a ``str`` in it is a user message), or a ``PromptResult``.
    """

    def register(function: Callable) -> Callable:
        prompt_name = name or function.__name__
        if prompt_name in _PROMPTS:
            raise ValueError(f"two prompts are named {prompt_name!r}")
        where = f"prompt {prompt_name!r}"
        signature = _Signature.of(function, where)
        arguments = [
            _prompt_argument(key, hint, key not in signature.defaults, where)
            for key, hint in signature.parameters.items()
        ]
        descriptor = _types.PromptDescriptor(prompt_name, title, _description(function, description), arguments)
        _PROMPTS[prompt_name] = _Prompt(descriptor, function, signature)
        return function

    return register(function) if function is not None else register


def _message(message: Any) -> Any:
    if isinstance(message, str):
        message = PromptMessage.user_text(message)
    if not isinstance(message, PromptMessage):
        raise TypeError(f"a prompt message is a str or a PromptMessage, not {type(message).__name__}")
    if message.role not in ("user", "assistant"):
        raise ValueError(f"unknown role {message.role!r}; user or assistant")
    role = _types.Role.USER if message.role == "user" else _types.Role.ASSISTANT
    return _types.PromptMessage(role, to_block(message.content))


def _rendered(value: Any) -> Any:
    if isinstance(value, PromptResult):
        return _types.PromptResult(value.description, [_message(m) for m in value.messages])
    messages = value if isinstance(value, list) else [value]
    return _types.PromptResult(None, [_message(m) for m in messages])


def _get_prompt(name: str, arguments: list) -> Any:
    entry = _PROMPTS.get(name)
    if entry is None:
        raise ExportError.not_found(f"no prompt named {name}")
    given = {key: value for key, value in arguments if key in entry.signature.parameters}
    return _rendered(entry.signature.call(entry.function, given))


# --- completions ---------------------------------------------------------------------

@dataclass
class _Completer:
    function: Callable
    signature: _Signature
    value_parameter: Optional[str]  # what the user typed so far
    takes_context: bool  # the arguments already given, as `context`


_COMPLETERS: dict[tuple[str, str, str], _Completer] = {}


def complete_argument(
    *, argument: str, prompt: Optional[str] = None, resource_template: Optional[str] = None
) -> Callable[[Callable], Callable]:
    """Complete ``argument`` of the prompt named ``prompt``, or the variable
    ``argument`` of the resource template ``resource_template``.

    The function takes what the user typed so far (its first parameter), and
    optionally the arguments already filled in (a parameter named
    ``context``, a ``dict[str, str]``) and a ``Context``. It returns a list
    of values, best first, or a ``Completion``.
    """
    if (prompt is None) == (resource_template is None):
        raise ValueError("complete_argument: name a prompt or a resource_template, not both or neither")
    key = ("prompt", prompt, argument) if prompt is not None else ("template", resource_template, argument)

    def register(function: Callable) -> Callable:
        if key in _COMPLETERS:
            raise ValueError(f"two completers for argument {argument!r} of {key[1]!r}")
        signature = _Signature.of(function, f"completer of {argument!r}")
        names = list(signature.parameters)
        value = names[0] if names and names[0] != "context" else None
        _COMPLETERS[key] = _Completer(function, signature, value, "context" in names)
        return function

    return register


def _complete(kind: str, reference: str, argument: str, value: str, context: dict[str, str]) -> Completion:
    completer = _COMPLETERS.get((kind, reference, argument))
    if kind == "prompt":
        entry = _PROMPTS.get(reference)
        if entry is None:
            raise ExportError.not_found(f"no prompt named {reference}")
        if argument not in entry.signature.parameters:
            raise ExportError.invalid_params(f"prompt `{reference}` has no argument `{argument}`")
    else:
        template = _TEMPLATES.get(reference)
        if template is None:
            raise ExportError.not_found(f"no resource template {reference}")
        if argument not in template.template.variables:
            raise ExportError.invalid_params(f"resource template `{reference}` has no variable `{argument}`")
    if completer is None:  # nothing to suggest, and no count to give
        nothing = Completion([])
        nothing.total = None
        return nothing
    arguments: dict[str, Any] = {}
    if completer.value_parameter is not None:
        arguments[completer.value_parameter] = value
    if completer.takes_context:
        arguments["context"] = dict(context)
    answer = completer.signature.call(completer.function, arguments)
    return answer if isinstance(answer, Completion) else Completion(answer)


# --- the component's exports -------------------------------------------------------------


class Resources(getattr(_world_exports, "Resources", object)):
    """The component's ``resources`` export."""

    def describe_resources(self) -> Any:
        from wit_world.exports import resources as _resources

        templates = [t.descriptor for t in _TEMPLATES.values()]
        return _resources.ResourceSupport(templates, bool(_RESOURCES))

    def list_resources(self) -> list:
        return [r.descriptor for r in _RESOURCES.values()]

    def read_resource(self, uri: str) -> list:
        try:
            return _read(uri)
        except Exception as error:  # the client reads what went wrong
            raise _failure(f"reading {uri}", error) from None


class Prompts(getattr(_world_exports, "Prompts", object)):
    """The component's ``prompts`` export."""

    def list_prompts(self) -> list:
        return [p.descriptor for p in _PROMPTS.values()]

    def get_prompt(self, name: str, arguments: list) -> Any:
        try:
            return _get_prompt(name, arguments)
        except Exception as error:
            raise _failure(f"prompt {name}", error) from None


class Completions(getattr(_world_exports, "Completions", object)):
    """The component's ``completions`` export."""

    def complete(self, reference: Any, argument: str, value: str, context: list) -> Any:
        from wit_world.exports import completions as _completions

        kind = "prompt" if type(reference).__name__.endswith("_Prompt") else "template"
        try:
            answer = _complete(kind, reference.value, argument, value, dict(context))
        except Exception as error:
            raise _failure(f"completing {argument}", error) from None
        return _completions.Completion(answer.values, answer.total, answer.has_more)
