"""The ``Context`` a tool receives: the request it serves and the client behind it.

Logging, progress, request identity, per-request state and the plugin's own
spans in the call's trace are always there.
Sampling, elicitation, roots, session state, the key-value store, HTTP,
secrets and the host's catalog need the capability in the plugin's manifest (the build puts exactly the declared
interfaces into the plugin's world); calling one that was not declared raises
``ContextError`` with kind ``"not-declared"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Optional

from wit_world.imports import context as _context
from wit_world.imports import types as _types

from ._facade import call, interface
from ._schema import schema_of
from ._services import (
    Catalog,
    Database,
    KeyValue,
    Request,
    RequestState,
    Response,
    SessionState,
    send,
)

__all__ = ["Context", "Elicited", "Grant", "Principal", "Client", "Root", "Sampled", "Span"]

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


@dataclass(frozen=True)
class Principal:
    """Who made the request, when the host authenticates its clients."""

    id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Grant:
    """What the policy grants the caller of one capability: whether it may
    use it, why not, and what the grant reaches in the capability's own keys
    (``databases``, ``write`` and ``tables`` for ``sql``; ``origins`` for
    ``http``; ...)."""

    granted: bool
    reason: Optional[str]
    scope: dict


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


class Span:
    """A span of the plugin's own in the call's trace, from ``ctx.span(...)``:
    a context manager that opens the span on entry and ends it on exit, also
    when the body raises (the exception goes on unchanged). Spans opened
    inside it nest under it.

    The host opens at most 64 spans per call; beyond that ``is_open`` is
    false and the span does nothing. Without tracing on the host the span
    costs two host calls and records nothing. Spans still open when the call
    ends are ended then.
    """

    __slots__ = ("_name", "_attributes", "_handle")

    def __init__(self, name: str, attributes: list[tuple[str, str]]) -> None:
        self._name = name
        self._attributes = attributes
        self._handle: Optional[int] = None

    @property
    def is_open(self) -> bool:
        """Whether the host opened the span and it has not ended yet."""
        return self._handle is not None

    def __enter__(self) -> "Span":
        if self._handle is not None:
            raise RuntimeError(f"span {self._name!r} is already open")
        self._handle = _context.open_span(self._name, self._attributes)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            _context.end_span(handle)


class Context:
    """Handed to a tool whose signature has a parameter annotated ``Context``."""

    def __init__(self) -> None:
        self.state = RequestState()
        self.session = SessionState()
        self.catalog = Catalog()

    # --- the request -------------------------------------------------------

    @property
    def request_id(self) -> str:
        return _context.request_id()

    @property
    def trace_id(self) -> Optional[str]:
        """The id of the trace this call belongs to (32 hex digits), for the
        plugin's own logs or requests; None when the host does not trace."""
        return _context.trace_id()

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

    def grant(self, capability: str) -> Grant:
        """What the policy grants this request's caller of ``capability``
        (``"sql"``, ``"http"``, ...), to explain what is missing before
        acting."""
        grant = _context.grant(capability)
        return Grant(grant.granted, grant.reason, json.loads(grant.scope))

    @property
    def cancelled(self) -> bool:
        """True once the client cancelled the request: stop early."""
        return _context.is_cancelled()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (to the millisecond) without burning fuel. The
        call's deadline and cancellation still apply: a request cancelled or
        out of time while it waits ends there."""
        if seconds < 0:
            raise ValueError("sleep: seconds must not be negative")
        _context.sleep(round(seconds * 1000))

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

    # --- tracing -------------------------------------------------------------

    def span(self, name: str, /, **attributes: Any) -> Span:
        """A span named ``name`` in the call's trace, with ``attributes``
        (values converted with ``str()``), under the innermost span still
        open, else the plugin's run::

            with ctx.span("parse", rows=len(rows)):
                ...

        The host keeps at most 32 attributes and cuts long names and values.
        """
        return Span(name, [(key, str(value)) for key, value in attributes.items()])

    # --- asking the client ---------------------------------------------------

    def elicit(self, message: str, schema: Any) -> Elicited:
        """Ask the user to fill a form. ``schema`` is a JSON Schema object, or a
        ``TypedDict`` / dataclass whose fields are flat primitives. Needs the
        ``elicitation`` capability."""
        elicitation = interface("elicitation")
        if not isinstance(schema, dict):
            schema = schema_of(schema)
        outcome = call(elicitation.elicit_form, message, json.dumps(schema))
        name = type(outcome).__name__
        if name.endswith("Accepted"):
            return Elicited("accept", json.loads(outcome.value))
        return Elicited("decline" if name.endswith("Declined") else "cancel")

    def elicit_url(self, message: str, url: str, elicitation_id: str) -> str:
        """Send the user to ``url``; returns ``accept``, ``decline`` or ``cancel``."""
        elicitation = interface("elicitation")
        outcome = call(elicitation.elicit_url, message, url, elicitation_id)
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
        sampling = interface("sampling")
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
        response = call(sampling.create_message, request)
        text = "".join(
            block.value for block in response.content if type(block).__name__.endswith("_Text")
        )
        return Sampled(text, response.model, response.stop_reason)

    def roots(self) -> list[Root]:
        """The client's roots. Needs the ``roots`` capability."""
        roots = interface("roots")
        return [Root(r.uri, r.name) for r in call(roots.list_roots)]

    # --- host services -----------------------------------------------------

    def keyvalue(self, namespace: str) -> KeyValue:
        """One namespace of the host's key-value store. Needs the ``keyvalue``
        capability, with the namespace declared in the manifest."""
        return KeyValue(namespace)

    def http(self, request: Request) -> Response:
        """Send an HTTP request through the host, which checks its origin
        against the manifest's allow-list and the policy, follows redirects
        and adds the credentials bound to the origin. Needs the ``http``
        capability."""
        return send(request)

    def sql(self, name: str) -> Database:
        """The database the operator calls ``name``. Needs the ``sql``
        capability, with the database declared in the manifest."""
        return Database(name)

    def secret(self, name: str) -> str:
        """The value of a secret the manifest declares and the policy grants.
        Needs the ``secrets`` capability."""
        return call(interface("secrets").get, name)

    # --- resources -----------------------------------------------------------

    def resource_updated(self, uri: str) -> None:
        _context.resource_updated(uri)

    def resource_list_changed(self) -> None:
        _context.resource_list_changed()
