"""Content blocks: what tool results, prompt messages and resources carry,
and their conversion to and from the contract's types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from wit_world.imports import types as _types

from ._schema import to_json_value

__all__ = ["Image", "Audio", "ResourceLink", "Resource", "ResourceContents"]


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
class ResourceContents:
    """The contents of one resource, as a plugin serves it or the host's
    catalog reads it: ``text`` or ``blob``, not both. A resource function may
    leave ``uri`` empty: the URI that was read fills it in."""

    uri: str = ""
    text: Optional[str] = None
    blob: Optional[bytes] = None
    mime_type: Optional[str] = None


def is_block(value: Any) -> bool:
    return isinstance(value, (Image, Audio, ResourceLink, Resource))


def body(uri: str, text: Optional[str], blob: Optional[bytes]) -> Any:
    """The contract's resource body of ``text`` or ``blob``."""
    if (text is None) == (blob is None):
        raise ValueError(f"resource {uri}: give text or blob, not both or neither")
    if text is not None:
        return _types.ResourceBody_Text(text)
    return _types.ResourceBody_Blob(bytes(blob))


def to_block(item: Any) -> Any:
    """A string, content helper or JSON-able value as a contract content block."""
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
    if isinstance(item, (Resource, ResourceContents)):
        embedded = _types.EmbeddedResource(item.uri, item.mime_type, body(item.uri, item.text, item.blob))
        return _types.ContentBlock_EmbeddedResource(embedded)
    return _types.ContentBlock_Text(json.dumps(to_json_value(item)))


def contents_of(embedded: Any) -> ResourceContents:
    """A contract ``embedded-resource`` as ResourceContents."""
    text = embedded.body.value if type(embedded.body).__name__.endswith("_Text") else None
    blob = None if text is not None else bytes(embedded.body.value)
    return ResourceContents(embedded.uri, text, blob, embedded.mime_type)


def from_block(block: Any) -> Any:
    """A contract content block as a Python value: text as ``str``, the
    others as the content helpers."""
    kind = type(block).__name__.rsplit("_", 1)[-1]
    value = block.value
    if kind == "Text":
        return value
    if kind == "Image":
        return Image(bytes(value.data), value.mime_type)
    if kind == "Audio":
        return Audio(bytes(value.data), value.mime_type)
    if kind == "ResourceLink":
        return ResourceLink(value.uri, value.name, value.title, value.description, value.mime_type, value.size)
    contents = contents_of(value)
    return Resource(contents.uri, contents.text, contents.blob, contents.mime_type)
