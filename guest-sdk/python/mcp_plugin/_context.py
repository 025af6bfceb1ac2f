"""The ``Context`` a tool receives: the request it serves and the client behind it.

Logging, progress, request identity and per-request state are always there.
Sampling, elicitation, roots, session state and the key-value store need the
capability in the plugin's manifest (the build puts exactly the declared
interfaces into the plugin's world); calling one that was not declared raises
``ContextError`` with kind ``"not-declared"``.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any, Literal, Optional

from wit_world.imports import context as _context
from wit_world.imports import types as _types

from ._schema import schema_of

__all__ = [
    "Context",
    "ContextError",
    "Elicited",
    "Principal",
    "Client",
    "Root",
    "Sampled",
    "SessionState",
    "KeyValue",
]

_LEVELS = {
    "debug": _types.LogLevel.DEBUG,
    "info": _types.LogLevel.INFO,
    "notice": _types.LogLevel.NOTICE,
    "warning": _types.LogLevel.WARNING,
    "error": _types.LogLevel.ERROR,
    "critical": _types.LogLevel.CRITICAL,
    "alert": _types.LogLevel.ALERT,
    "emergency": _types.LogLevel.EMERGENCY,
}

_KINDS = {
    "FacadeError_UnsupportedByClient": "unsupported-by-client",
    "FacadeError_Denied": "denied",
    "FacadeError_Timeout": "timeout",
    "FacadeError_Cancelled": "cancelled",
    "FacadeError_InvalidInput": "invalid-input",
    "FacadeError_Failed": "failed",
}


class ContextError(Exception):
    """A context call that did not produce an answer.

    ``kind`` is one of ``unsupported-by-client`` (the client cannot do it),
    ``denied`` (the host's policy does not grant it), ``timeout``,
    ``cancelled``, ``invalid-input``, ``failed`` or ``not-declared`` (the
    manifest does not declare the capability). Left uncaught in a tool, it
    becomes the tool's error result.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind
        self.message = message


def _facade(call, *args):
    """Call a facade function, turning its error variant into ContextError."""
    from componentize_py_types import Err

    try:
        return call(*args)
    except Err as err:
        value = err.value
        kind = _KINDS.get(type(value).__name__, "failed")
        detail = getattr(value, "value", None)
        raise ContextError(kind, detail if isinstance(detail, str) else "") from None


def _load(module: str):
    """The bindings of an optional interface, when the plugin's world has it.
    Loaded when the plugin module is imported, which componentize-py does at
    build time, so calls pay nothing for it."""
    try:
        return importlib.import_module(f"wit_world.imports.{module}")
    except ImportError:
        return None


_OPTIONAL = {
    capability: _load(module)
    for capability, module in [
        ("sampling", "sampling"),
        ("elicitation", "elicitation"),
        ("roots", "roots"),
        ("session-state", "session_state"),
        ("keyvalue", "keyvalue"),
    ]
}


def _interface(capability: str):
    bindings = _OPTIONAL[capability]
    if bindings is None:
        raise ContextError(
            "not-declared",
            f"this plugin was built without the `{capability}` capability; "
            f"add it to [capabilities] in the manifest and rebuild",
        )
    return bindings


@dataclass(frozen=True)
class Principal:
    """Who made the request, when the host authenticates its clients."""

    id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Client:
    name: str
    version: str


@dataclass(frozen=True)
class Elicited:
    """What the user did with a form: ``action`` is ``accept`` (with
    ``content``, matching the requested schema), ``decline`` or ``cancel``."""

    action: Literal["accept", "decline", "cancel"]
    content: Optional[dict] = None

    @property
    def accepted(self) -> bool:
        return self.action == "accept"


@dataclass(frozen=True)
class Sampled:
    """The client model's answer: its text blocks joined, the model's name and
    why it stopped."""

    text: str
    model: str
    stop_reason: Optional[str]


@dataclass(frozen=True)
class Root:
    uri: str
    name: Optional[str]


class RequestState:
    """JSON values under string keys, alive until the request is answered."""

    def get(self, key: str, default: Any = None) -> Any:
        text = _context.state_get(key)
        return default if text is None else json.loads(text)

    def set(self, key: str, value: Any) -> None:
        _facade(_context.state_set, key, json.dumps(value))

    def delete(self, key: str) -> bool:
        return _context.state_delete(key)


class SessionState:
    """JSON values that outlive the request: kept for the client's session
    (or its principal or state handle). Needs the ``session-state``
    capability."""

    def _iface(self):
        return _interface("session-state")

    def get(self, key: str, default: Any = None) -> Any:
        text = _facade(self._iface().get, key)
        return default if text is None else json.loads(text)

    def set(self, key: str, value: Any) -> None:
        _facade(self._iface().set, key, json.dumps(value))

    def delete(self, key: str) -> bool:
        return _facade(self._iface().delete, key)

    def keys(self) -> list[str]:
        return _facade(self._iface().list_keys)


class KeyValue:
    """The host's key-value store: bytes (or text) under keys in the
    namespaces the manifest declares. Needs the ``keyvalue`` capability."""

    def _iface(self):
        return _interface("keyvalue")

    def get(self, namespace: str, key: str) -> Optional[bytes]:
        return _facade(self._iface().get, namespace, key)

    def set(self, namespace: str, key: str, value: bytes | str, ttl_ms: int | None = None) -> None:
        data = value.encode() if isinstance(value, str) else bytes(value)
        _facade(self._iface().set, namespace, key, data, ttl_ms)

    def delete(self, namespace: str, key: str) -> bool:
        return _facade(self._iface().delete, namespace, key)

    def keys(self, namespace: str, prefix: str = "") -> list[str]:
        return _facade(self._iface().list_keys, namespace, prefix)

    def increment(self, namespace: str, key: str, delta: int = 1) -> int:
        return _facade(self._iface().increment, namespace, key, delta)


class Context:
    """Handed to a tool whose signature has a parameter annotated ``Context``."""

    def __init__(self) -> None:
        self.state = RequestState()
        self.session = SessionState()
        self.keyvalue = KeyValue()

    # --- the request -------------------------------------------------------

    @property
    def request_id(self) -> str:
        return _context.request_id()

    @property
    def session_id(self) -> Optional[str]:
        return _context.session_id()

    @property
    def protocol_version(self) -> str:
        return _context.protocol_version()

    @property
    def client(self) -> Optional[Client]:
        info = _context.client()
        return None if info is None else Client(info.name, info.version)

    @property
    def principal(self) -> Optional[Principal]:
        info = _context.principal()
        return None if info is None else Principal(info.id, tuple(info.roles))

    @property
    def cancelled(self) -> bool:
        """True once the client cancelled the request: stop early."""
        return _context.is_cancelled()

    # --- logging and progress ----------------------------------------------

    def log(self, level: str, message: Any, logger: Optional[str] = None) -> None:
        """Send a log message at one of the eight MCP levels. A message that is
        not a string is sent as structured data."""
        try:
            wit_level = _LEVELS[level]
        except KeyError:
            raise ValueError(f"unknown log level {level!r}; one of {', '.join(_LEVELS)}") from None
        if isinstance(message, str):
            _context.log(wit_level, logger, message)
        else:
            _context.log_data(wit_level, logger, json.dumps(message))

    def debug(self, message: Any) -> None:
        self.log("debug", message)

    def info(self, message: Any) -> None:
        self.log("info", message)

    def warning(self, message: Any) -> None:
        self.log("warning", message)

    def error(self, message: Any) -> None:
        self.log("error", message)

    def progress(self, progress: float, total: Optional[float] = None, message: Optional[str] = None) -> None:
        """Report progress; sent only when the client asked for it."""
        _context.progress(float(progress), None if total is None else float(total), message)

    # --- asking the client ---------------------------------------------------

    def elicit(self, message: str, schema: Any) -> Elicited:
        """Ask the user to fill a form. ``schema`` is a JSON Schema object, or a
        ``TypedDict`` / dataclass whose fields are flat primitives. Needs the
        ``elicitation`` capability."""
        elicitation = _interface("elicitation")
        if not isinstance(schema, dict):
            schema = schema_of(schema)
        outcome = _facade(elicitation.elicit_form, message, json.dumps(schema))
        name = type(outcome).__name__
        if name.endswith("Accepted"):
            return Elicited("accept", json.loads(outcome.value))
        return Elicited("decline" if name.endswith("Declined") else "cancel")

    def elicit_url(self, message: str, url: str, elicitation_id: str) -> str:
        """Send the user to ``url``; returns ``accept``, ``decline`` or ``cancel``."""
        elicitation = _interface("elicitation")
        outcome = _facade(elicitation.elicit_url, message, url, elicitation_id)
        return {"ACCEPTED": "accept", "DECLINED": "decline"}.get(outcome.name, "cancel")

    def sample(
        self,
        prompt: str | list[tuple[str, str]],
        *,
        max_tokens: int = 512,
        system_prompt: Optional[str] = None,
        temperature: Optional[float] = None,
        model_hints: tuple[str, ...] = (),
    ) -> Sampled:
        """Ask the client's model. ``prompt`` is one user message, or a list of
        ``(role, text)`` pairs with role ``user`` or ``assistant``. Needs the
        ``sampling`` capability."""
        sampling = _interface("sampling")
        turns = [("user", prompt)] if isinstance(prompt, str) else list(prompt)
        messages = []
        for role, text in turns:
            if role not in ("user", "assistant"):
                raise ValueError(f"unknown role {role!r}; user or assistant")
            messages.append(
                sampling.SamplingMessage(
                    role=_types.Role.USER if role == "user" else _types.Role.ASSISTANT,
                    content=[sampling.SamplingContent_Text(text)],
                )
            )
        preferences = (
            sampling.ModelPreferences(list(model_hints), None, None, None) if model_hints else None
        )
        request = sampling.SamplingRequest(
            messages=messages,
            system_prompt=system_prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            stop_sequences=[],
            model_preferences=preferences,
            include_context=None,
            tools=[],
            tool_choice=None,
            metadata=None,
        )
        response = _facade(sampling.create_message, request)
        text = "".join(
            block.value for block in response.content if type(block).__name__.endswith("_Text")
        )
        return Sampled(text, response.model, response.stop_reason)

    def roots(self) -> list[Root]:
        """The client's roots. Needs the ``roots`` capability."""
        roots = _interface("roots")
        return [Root(r.uri, r.name) for r in _facade(roots.list_roots)]

    # --- resources -----------------------------------------------------------

    def resource_updated(self, uri: str) -> None:
        _context.resource_updated(uri)

    def resource_list_changed(self) -> None:
        _context.resource_list_changed()
