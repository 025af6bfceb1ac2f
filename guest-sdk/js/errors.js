// The SDK's two error types: ContextError (a context call that got no
// answer) and ExportError (why a resource, prompt or completion cannot be
// served), branded so that `instanceof` holds across copies of the SDK.

const EXPORT_ERROR_KINDS = ["not-found", "invalid-params", "failed"];

// Brands that make `instanceof` hold across copies of this module (a plugin
// may import its own copy of the SDK for the helpers).
const CONTEXT_ERROR = Symbol.for("mcp-plugin.ContextError");
const EXPORT_ERROR = Symbol.for("mcp-plugin.ExportError");

/** A context call that got no answer; `kind` says why. */
export class ContextError extends Error {
  static [Symbol.hasInstance](value) {
    return Boolean(value && value[CONTEXT_ERROR]);
  }

  constructor(kind, message) {
    super(message ? `${kind}: ${message}` : kind);
    this.name = "ContextError";
    this.kind = kind;
    this.detail = message;
    this[CONTEXT_ERROR] = true;
  }
}

/** Why a resource, prompt or completion cannot be served: `kind` is
 * `"not-found"`, `"invalid-params"` or `"failed"`. Throw it from `read`,
 * `get` or a completer to answer with that kind. */
export class ExportError extends Error {
  static [Symbol.hasInstance](value) {
    return Boolean(value && value[EXPORT_ERROR]);
  }

  constructor(kind, message) {
    if (!EXPORT_ERROR_KINDS.includes(kind)) {
      throw new Error(`unknown export error kind "${kind}" (one of ${EXPORT_ERROR_KINDS.join(", ")})`);
    }
    super(message);
    this.name = "ExportError";
    this.kind = kind;
    this[EXPORT_ERROR] = true;
  }
}
