"""RFC 6570 level-1 URI templates (``notes://{name}``), matched against URIs
to find a resource template's variables.

Only simple ``{name}`` expressions between literal text are supported. An
expansion percent-encodes every reserved character, so a variable matches a
non-empty run of characters without ``/``, ``?`` or ``#``, ending where the
following literal text first appears; the matched text is percent-decoded.
Runs on plain CPython (it imports no bindings).
"""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import unquote_to_bytes

__all__ = ["UriTemplate", "UriTemplateError"]

_OPERATORS = "+#./;?&=,!@|"
_NAME = re.compile(r"[A-Za-z0-9_.%]+")


class UriTemplateError(ValueError):
    """A URI template the SDK cannot match; the message says what is wrong."""


class UriTemplate:
    """A parsed template: literal text and variables, alternating."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.parts: list[tuple[str, str]] = []  # ("literal" | "variable", text)
        rest = template
        while rest:
            opening, closing = rest.find("{"), rest.find("}")
            if closing != -1 and (opening == -1 or closing < opening):
                raise self._error("has a `}` without a matching `{`")
            if opening == -1:
                self.parts.append(("literal", rest))
                break
            if opening > 0:
                self.parts.append(("literal", rest[:opening]))
            if closing == -1:
                raise self._error("has a `{` without a matching `}`")
            name = rest[opening + 1 : closing]
            self._check_variable(name)
            if self.parts and self.parts[-1][0] == "variable":
                raise self._error(
                    f"puts `{{{name}}}` right after another variable; separate variables with literal text"
                )
            if ("variable", name) in self.parts:
                raise self._error(f"uses `{{{name}}}` twice")
            self.parts.append(("variable", name))
            rest = rest[closing + 1 :]
        if not self.parts:
            raise self._error("is empty")

    def _error(self, problem: str) -> UriTemplateError:
        return UriTemplateError(f"the URI template {self.template!r} {problem}")

    def _check_variable(self, name: str) -> None:
        if not name:
            raise self._error("has an empty `{}`")
        if name[0] in _OPERATORS or any(c in name for c in ",*:"):
            raise self._error(
                f"uses `{{{name}}}`; only simple `{{name}}` expressions (RFC 6570 level 1) are supported"
            )
        if not _NAME.fullmatch(name):
            raise self._error(f"has the variable name `{name}`; use ASCII letters, digits and `_`")

    @property
    def variables(self) -> list[str]:
        return [text for kind, text in self.parts if kind == "variable"]

    def match(self, uri: str) -> Optional[dict[str, str]]:
        """The variables of ``uri`` when it is an expansion of this template."""
        found: dict[str, str] = {}
        rest = uri
        for index, (kind, text) in enumerate(self.parts):
            if kind == "literal":
                if not rest.startswith(text):
                    return None
                rest = rest[len(text) :]
                continue
            following = self.parts[index + 1][1] if index + 1 < len(self.parts) else None
            end = len(rest) if following is None else rest.find(following)
            if end == -1:
                return None
            raw = rest[:end]
            if not raw or any(c in raw for c in "/?#"):
                return None
            value = _percent_decode(raw)
            if value is None:
                return None
            found[text] = value
            rest = rest[end:]
        return found if not rest else None


def _percent_decode(text: str) -> Optional[str]:
    """Decode ``%XX`` escapes; None when one is malformed or the bytes are not UTF-8."""
    if "%" not in text:
        return text
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        return None
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return None
