"""The host's services a tool reaches through its ``Context``: request and
session state, the key-value store, outbound HTTP, secrets, and the catalog
of every plugin's resources and prompts. Each but request state needs its
capability in the manifest and a grant from the host's policy."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from wit_world.imports import context as _context

from ._content import ResourceContents, contents_of, from_block
from ._facade import ContextError, call, interface

__all__ = [
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
    "PromptMessage",
    "PromptResult",
]


class RequestState:
    """JSON values under string keys, alive until the request is answered."""

    def get(self, key: str, default: Any = None) -> Any:
        text = _context.state_get(key)
        return default if text is None else json.loads(text)

    def set(self, key: str, value: Any) -> None:
        call(_context.state_set, key, json.dumps(value))

    def delete(self, key: str) -> bool:
        return _context.state_delete(key)


class SessionState:
    """JSON values that outlive the request: kept for the client's session
    (or its principal or state handle). Needs the ``session-state``
    capability."""

    def get(self, key: str, default: Any = None) -> Any:
        text = call(interface("session-state").get, key)
        return default if text is None else json.loads(text)

    def set(self, key: str, value: Any) -> None:
        call(interface("session-state").set, key, json.dumps(value))

    def delete(self, key: str) -> bool:
        return call(interface("session-state").delete, key)

    def keys(self) -> list[str]:
        return call(interface("session-state").list_keys)


def _milliseconds(seconds: Optional[float]) -> Optional[int]:
    if seconds is None:
        return None
    if seconds <= 0:
        raise ValueError(f"a time-to-live or timeout must be positive, not {seconds}")
    return max(1, round(seconds * 1000))


class KeyValue:
    """One namespace of the host's key-value store (``ctx.keyvalue("ns")``):
    bytes under keys, kept across restarts, private to the plugin. The
    namespace must be one the manifest declares. Needs the ``keyvalue``
    capability."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def get(self, key: str) -> Optional[bytes]:
        value = call(interface("keyvalue").get, self.namespace, key)
        return None if value is None else bytes(value)

    def get_text(self, key: str) -> Optional[str]:
        value = self.get(key)
        return None if value is None else value.decode()

    def get_json(self, key: str) -> Any:
        """The JSON value stored under ``key`` with ``set_json``; None when absent."""
        value = self.get(key)
        return None if value is None else json.loads(value)

    def set(self, key: str, value: Union[bytes, str], ttl: Optional[float] = None) -> None:
        """Store ``value`` (text is stored as UTF-8); with ``ttl`` (seconds)
        the entry disappears after that long."""
        data = value.encode() if isinstance(value, str) else bytes(value)
        call(interface("keyvalue").set, self.namespace, key, data, _milliseconds(ttl))

    def set_json(self, key: str, value: Any, ttl: Optional[float] = None) -> None:
        self.set(key, json.dumps(value), ttl)

    def delete(self, key: str) -> bool:
        return call(interface("keyvalue").delete, self.namespace, key)

    def keys(self, prefix: str = "") -> list[str]:
        """The keys that start with ``prefix``, sorted (at most 1000)."""
        return call(interface("keyvalue").list_keys, self.namespace, prefix)

    def increment(self, key: str, delta: int = 1) -> int:
        """Add ``delta`` to the integer under ``key`` (absent counts as 0), atomically."""
        return call(interface("keyvalue").increment, self.namespace, key, delta)


class Rows:
    """What a query returned: ``columns``, then ``rows`` of Python values in
    column order (``None``, ``int``, ``float``, ``str``, ``bytes``,
    ``bool``, and JSON columns decoded), and whether the grant's row or size
    cap left rows out (``truncated``)."""

    def __init__(self, columns: list[str], rows: list[list[Any]], truncated: bool) -> None:
        self.columns = columns
        self.rows = rows
        self.truncated = truncated

    def dicts(self) -> list[dict]:
        """Each row as a dict keyed by column name."""
        return [dict(zip(self.columns, row)) for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)


def _sql_value(sql: Any, value: Any) -> Any:
    if value is None:
        return sql.SqlValue_Null()
    if isinstance(value, bool):
        return sql.SqlValue_Boolean(value)
    if isinstance(value, int):
        return sql.SqlValue_Integer(value)
    if isinstance(value, float):
        return sql.SqlValue_Real(value)
    if isinstance(value, str):
        return sql.SqlValue_Text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return sql.SqlValue_Blob(bytes(value))
    if isinstance(value, (dict, list)):
        return sql.SqlValue_Json(json.dumps(value))
    raise TypeError(f"a SQL parameter cannot be a {type(value).__name__}")


def _python_value(value: Any) -> Any:
    name = type(value).__name__
    if name == "SqlValue_Null":
        return None
    if name == "SqlValue_Blob":
        return bytes(value.value)
    if name == "SqlValue_Json":
        return json.loads(value.value)
    return value.value


class Database:
    """One database the operator configures (``ctx.sql("crm")``): statements
    with parameters bound to their placeholders (``?1`` on SQLite, ``$1`` on
    PostgreSQL), each call in a transaction of its own. The database must be
    one the manifest declares. Needs the ``sql`` capability."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _params(self, params: Any) -> list:
        sql = interface("sql")
        return [_sql_value(sql, p) for p in params]

    def query(self, statement: str, params: Any = ()) -> Rows:
        """Run a statement that returns rows."""
        result = call(interface("sql").query, self.name, statement, self._params(params))
        rows = [[_python_value(v) for v in row] for row in result.rows]
        return Rows(list(result.columns), rows, result.truncated)

    def execute(self, statement: str, params: Any = ()) -> int:
        """Run a statement that changes data; how many rows it changed."""
        return call(interface("sql").execute, self.name, statement, self._params(params))

    def transaction(self, statements: list) -> list[int]:
        """Run ``(statement, params)`` pairs atomically: all take effect, or
        none. The rows each changed."""
        sql = interface("sql")
        batch = [sql.Statement(text, self._params(params)) for text, params in statements]
        return call(sql.transaction, self.name, batch)


class Request:
    """An outbound HTTP request for ``ctx.http``.

    ``json`` sets the body to a value's JSON and the content type to
    ``application/json``; ``timeout`` is in seconds (at most 60).
    """

    def __init__(
        self,
        method: str,
        url: str,
        *,
        headers: Union[dict[str, str], list[tuple[str, str]], None] = None,
        body: Union[bytes, str, None] = None,
        json: Any = None,
        timeout: Optional[float] = None,
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.headers: list[tuple[str, str]] = list(
            headers.items() if isinstance(headers, dict) else (headers or [])
        )
        self.body: Optional[bytes] = body.encode() if isinstance(body, str) else body
        if json is not None:
            if body is not None:
                raise ValueError("give a request body or json, not both")
            self.body = _json_text(json).encode()
            self.header("content-type", "application/json")
        self.timeout = timeout

    @classmethod
    def get(cls, url: str, **options: Any) -> "Request":
        return cls("GET", url, **options)

    @classmethod
    def post(cls, url: str, **options: Any) -> "Request":
        return cls("POST", url, **options)

    def header(self, name: str, value: str) -> "Request":
        """Add a header; returns the request, so calls chain."""
        self.headers.append((name, value))
        return self

    def to_wit(self) -> Any:
        http = interface("http")
        body = None if self.body is None else bytes(self.body)
        return http.Request(self.method, self.url, list(self.headers), body, _milliseconds(self.timeout))


def _json_text(value: Any) -> str:
    return json.dumps(value)


@dataclass
class Response:
    """What an HTTP request got back. An error status is still a response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    url: str

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def error_for_status(self) -> "Response":
        """The response itself when its status is 2xx; otherwise ContextError
        ``failed`` naming the status and the URL."""
        if not self.is_success():
            raise ContextError("failed", f"{self.url} answered with status {self.status}")
        return self

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def send(request: Request) -> Response:
    response = call(interface("http").send, request.to_wit())
    return Response(response.status, list(response.headers), bytes(response.body), response.url)


@dataclass(frozen=True)
class ResourceDescriptor:
    uri: str
    name: str
    title: Optional[str] = None
    description: Optional[str] = None
    mime_type: Optional[str] = None
    size: Optional[int] = None


@dataclass(frozen=True)
class ResourceTemplateDescriptor:
    uri_template: str
    name: str
    title: Optional[str] = None
    description: Optional[str] = None
    mime_type: Optional[str] = None


@dataclass(frozen=True)
class PromptArgument:
    name: str
    title: Optional[str] = None
    description: Optional[str] = None
    required: bool = False


@dataclass(frozen=True)
class PromptDescriptor:
    name: str
    title: Optional[str] = None
    description: Optional[str] = None
    arguments: tuple[PromptArgument, ...] = ()


@dataclass
class PromptMessage:
    """One message of a prompt: ``role`` is ``user`` or ``assistant``;
    ``content`` is text or one content helper (``Image``, ``Audio``,
    ``ResourceLink``, ``Resource``)."""

    role: str
    content: Any

    @classmethod
    def user_text(cls, text: str) -> "PromptMessage":
        return cls("user", text)

    @classmethod
    def assistant_text(cls, text: str) -> "PromptMessage":
        return cls("assistant", text)


@dataclass
class PromptResult:
    """A rendered prompt."""

    messages: list[PromptMessage] = field(default_factory=list)
    description: Optional[str] = None


class Catalog:
    """The resources and prompts the host serves, from every plugin (this one
    included), as a client would see them. Needs the ``host-catalog``
    capability."""

    def list_resources(self) -> list[ResourceDescriptor]:
        listed = call(interface("host-catalog").list_resources)
        return [ResourceDescriptor(r.uri, r.name, r.title, r.description, r.mime_type, r.size) for r in listed]

    def list_resource_templates(self) -> list[ResourceTemplateDescriptor]:
        listed = call(interface("host-catalog").list_resource_templates)
        return [
            ResourceTemplateDescriptor(t.uri_template, t.name, t.title, t.description, t.mime_type) for t in listed
        ]

    def read_resource(self, uri: str) -> list[ResourceContents]:
        return [contents_of(c) for c in call(interface("host-catalog").read_resource, uri)]

    def list_prompts(self) -> list[PromptDescriptor]:
        listed = call(interface("host-catalog").list_prompts)
        return [
            PromptDescriptor(
                p.name,
                p.title,
                p.description,
                tuple(PromptArgument(a.name, a.title, a.description, a.required) for a in p.arguments),
            )
            for p in listed
        ]

    def get_prompt(self, name: str, arguments: Optional[dict[str, str]] = None) -> PromptResult:
        rendered = call(interface("host-catalog").get_prompt, name, json.dumps(arguments or {}))
        messages = [
            PromptMessage("user" if m.role.name == "USER" else "assistant", from_block(m.content))
            for m in rendered.messages
        ]
        return PromptResult(messages, rendered.description)
