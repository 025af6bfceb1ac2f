"""How the SDK reaches the host: the bindings of the plugin's world, and the
one error every host call can raise.

A plugin's world holds exactly the interfaces of the capabilities its
manifest declares, so an optional interface may be missing; calling it then
raises ``ContextError`` with kind ``"not-declared"``.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["ContextError", "call", "interface"]

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


def call(function, *args):
    """Call a host function, turning its ``facade-error`` into ContextError."""
    from componentize_py_types import Err

    try:
        return function(*args)
    except Err as err:
        value = err.value
        kind = _KINDS.get(type(value).__name__, "failed")
        detail = getattr(value, "value", None)
        raise ContextError(kind, detail if isinstance(detail, str) else "") from None


def _present_interfaces() -> dict:
    """The bindings of every interface the plugin's world imports, by
    capability name (``host-catalog`` for ``wit_world.imports.host_catalog``).
    Loaded when the plugin module is imported, which componentize-py does at
    build time, so calls pay nothing for it; no list here names them, so a
    new capability needs no change in this module."""
    import wit_world.imports as imports

    return {
        module.name.replace("_", "-"): importlib.import_module(f"{imports.__name__}.{module.name}")
        for module in pkgutil.iter_modules(imports.__path__)
    }


_PRESENT = _present_interfaces()


def interface(capability: str):
    """The bindings of ``capability``'s interface, or ContextError
    ``not-declared`` when the plugin was built without it."""
    bindings = _PRESENT.get(capability)
    if bindings is None:
        raise ContextError(
            "not-declared",
            f"this plugin was built without the `{capability}` capability; "
            f"add it to [capabilities] in the manifest and rebuild",
        )
    return bindings
