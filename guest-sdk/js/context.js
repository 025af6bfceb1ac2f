// The Context a tool, resource read, prompt or completer receives: request
// facts, logging, progress, state, the plugin's own spans in the call's
// trace, elicitation, sampling and roots, and the host services behind capabilities (key-value store, HTTP, secrets,
// session state, the host catalog). Every call goes to the interfaces in
// bound.js; one a capability leaves out answers ContextError `not-declared`.

import { interfaces } from "./bound.js";
import { blockFromWit, contentsFromWit, decodeText, encodeText, optionalBigInt, optionalNumber } from "./content.js";
import { ContextError } from "./errors.js";
import { objectSchema } from "./schema.js";

const LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

function facade(call) {
  try {
    return call();
  } catch (error) {
    const payload = error && typeof error === "object" && "payload" in error ? error.payload : error;
    if (payload && typeof payload === "object" && typeof payload.tag === "string") {
      throw new ContextError(payload.tag, typeof payload.val === "string" ? payload.val : "");
    }
    throw error;
  }
}

function needs(name, capability) {
  const bound = interfaces[name];
  if (!bound) {
    throw new ContextError(
      "not-declared",
      `this plugin was built without the \`${capability}\` capability; add it to [capabilities] in the manifest and rebuild`,
    );
  }
  return bound;
}

function parseOptional(text) {
  return text === undefined || text === null ? undefined : JSON.parse(text);
}

// Call `name` of the `keyvalue` interface, turning its errors into ContextErrors.
function keyvalueCall(name, ...args) {
  return facade(() => needs("keyvalue", "keyvalue")[name](...args));
}

/** A JavaScript value as a SQL parameter: null/undefined, boolean, number
 * (an integer when it is one), bigint, string, Uint8Array, or any other object
 * as JSON. */
function sqlValue(value) {
  if (value === null || value === undefined) return { tag: "null" };
  if (typeof value === "boolean") return { tag: "boolean", val: value };
  if (typeof value === "bigint") return { tag: "integer", val: value };
  if (typeof value === "number") {
    return Number.isSafeInteger(value) ? { tag: "integer", val: BigInt(value) } : { tag: "real", val: value };
  }
  if (typeof value === "string") return { tag: "text", val: value };
  if (value instanceof Uint8Array) return { tag: "blob", val: value };
  return { tag: "json", val: JSON.stringify(value) };
}

/** A column's value as JavaScript: integers as numbers (bigint beyond
 * 2^53), JSON columns parsed, blobs as Uint8Array. */
function jsValue(value) {
  switch (value.tag) {
    case "null":
      return null;
    case "integer": {
      const n = value.val;
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case "json":
      return JSON.parse(value.val);
    default:
      return value.val;
  }
}

/** One database the operator configures, from `ctx.sql(name)`: statements
 * with parameters bound to their placeholders (`?1` on SQLite, `$1` on
 * PostgreSQL), each call in a transaction of its own. */
class Database {
  constructor(name) {
    this.name = name;
  }

  /** Run a statement that returns rows: `{columns, rows, truncated}`, with
   * `rows` arrays of values in column order; `objects()` gives each row as
   * an object keyed by column name. */
  query(statement, params = []) {
    const result = facade(() => needs("sql", "sql").query(this.name, statement, params.map(sqlValue)));
    const rows = result.rows.map((row) => row.map(jsValue));
    const columns = result.columns;
    return {
      columns,
      rows,
      truncated: result.truncated,
      objects: () => rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]]))),
    };
  }

  /** Run a statement that changes data; how many rows it changed. */
  execute(statement, params = []) {
    return Number(facade(() => needs("sql", "sql").execute(this.name, statement, params.map(sqlValue))));
  }

  /** Run `[statement, params]` pairs atomically: all take effect, or none.
   * The rows each changed. */
  transaction(statements) {
    const batch = statements.map(([sql, params = []]) => ({ sql, params: params.map(sqlValue) }));
    return facade(() => needs("sql", "sql").transaction(this.name, batch)).map(Number);
  }
}

/** One namespace of the host's key-value store, from `ctx.keyvalue(namespace)`.
 * Each method asks the host. */
class KeyValue {
  constructor(namespace) {
    this.namespace = namespace;
  }

  /** The bytes under `key` (a Uint8Array), or undefined. */
  get(key) {
    return keyvalueCall("get", this.namespace, key);
  }

  /** The value under `key` as text, or undefined. */
  getText(key) {
    const value = this.get(key);
    return value === undefined ? undefined : decodeText(value);
  }

  /** The JSON value under `key`, or undefined; ContextError `invalid-input`
   * when the stored bytes are not JSON. */
  getJson(key) {
    const text = this.getText(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ContextError("invalid-input", `the value under \`${key}\` is not JSON: ${error.message}`);
    }
  }

  /** Store `value` (a string or a Uint8Array) under `key`; with `ttlMs`,
   * the entry disappears after that many milliseconds. */
  set(key, value, ttlMs) {
    let data = value;
    if (typeof value === "string") data = encodeText(value);
    else if (!(value instanceof Uint8Array)) {
      throw new TypeError(
        `keyvalue set("${key}"): a value is a string or a Uint8Array (setJson stores any JSON value)`,
      );
    }
    keyvalueCall("set", this.namespace, key, data, optionalBigInt(ttlMs));
  }

  /** Store `value` as JSON under `key` (for `ttlMs` milliseconds, if given). */
  setJson(key, value, ttlMs) {
    this.set(key, JSON.stringify(value), ttlMs);
  }

  /** Remove the entry under `key`; true if there was one. */
  delete(key) {
    return keyvalueCall("delete", this.namespace, key);
  }

  /** The keys starting with `prefix`, sorted (at most 1000). */
  keys(prefix = "") {
    return keyvalueCall("listKeys", this.namespace, prefix);
  }

  /** Add `delta` to the integer under `key` (absent counts as 0) and return
   * the new value, atomically. */
  increment(key, delta = 1) {
    return Number(keyvalueCall("increment", this.namespace, key, BigInt(delta)));
  }
}

// `{method, url, headers, body, json, timeoutMs}` -> the WIT request.
function httpRequest({ method = "GET", url, headers = [], body, json, timeoutMs } = {}) {
  if (typeof url !== "string") throw new TypeError("http: a request needs a `url`");
  const pairs = (Array.isArray(headers) ? headers : Object.entries(headers)).map(([name, value]) => [
    String(name),
    String(value),
  ]);
  let data = body;
  if (json !== undefined) {
    if (body !== undefined) throw new TypeError("http: give a request `body` or `json`, not both");
    if (!pairs.some(([name]) => name.toLowerCase() === "content-type")) {
      pairs.push(["content-type", "application/json"]);
    }
    data = JSON.stringify(json);
  }
  if (typeof data === "string") data = encodeText(data);
  else if (data !== undefined && !(data instanceof Uint8Array)) {
    throw new TypeError("http: a request `body` is a string or a Uint8Array (`json` sends any JSON value)");
  }
  return { method, url, headers: pairs, body: data, timeoutMs };
}

/** An HTTP response from `ctx.http`: any status, the headers (`[name,
 * value]` pairs, names in lower case), the whole body (a Uint8Array) and the
 * URL that answered, after redirects. */
class HttpResponse {
  constructor({ status, headers, body, url }) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.url = url;
  }

  /** The first value of header `name` (any case), or undefined. */
  header(name) {
    const wanted = name.toLowerCase();
    const found = this.headers.find(([header]) => header.toLowerCase() === wanted);
    return found ? found[1] : undefined;
  }

  /** Whether the status is 2xx. */
  isSuccess() {
    return this.status >= 200 && this.status < 300;
  }

  /** This response when its status is 2xx; else throws ContextError
   * `failed` naming the status and the URL. */
  errorForStatus() {
    if (this.isSuccess()) return this;
    throw new ContextError("failed", `${this.url} answered with status ${this.status}`);
  }

  /** The body as text (invalid UTF-8 replaced). */
  text() {
    return decodeText(this.body);
  }

  /** The body parsed as JSON; ContextError `invalid-input` when it is not JSON. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch (error) {
      throw new ContextError("invalid-input", `the response from ${this.url} is not JSON: ${error.message}`);
    }
  }
}

// Call `name` of the `host-catalog` interface, turning its errors into ContextErrors.
function catalogCall(name, ...args) {
  return facade(() => needs("hostCatalog", "host-catalog")[name](...args));
}

// The host's catalog: every plugin's resources and prompts (this one's too).
const catalog = {
  /** Every resource at a fixed URI: `[{uri, name, title, description, mimeType, size}]`. */
  listResources() {
    return catalogCall("listResources").map((resource) => ({ ...resource, size: optionalNumber(resource.size) }));
  },
  /** Every resource template: `[{uriTemplate, name, title, description, mimeType}]`. */
  listResourceTemplates() {
    return catalogCall("listResourceTemplates");
  },
  /** Read `uri`, whichever plugin serves it: `[{uri, mimeType, text}]` or
   * `[{uri, mimeType, blob}]` (ContextError `invalid-input` when none does). */
  readResource(uri) {
    return catalogCall("readResource", uri).map(contentsFromWit);
  },
  /** Every prompt: `[{name, title, description, arguments: [{name, title, description, required}]}]`. */
  listPrompts() {
    return catalogCall("listPrompts");
  },
  /** Render prompt `name` with `args` (an object of strings): `{description,
   * messages: [{role, content}]}`, content an MCP-shaped block. */
  getPrompt(name, args = {}) {
    const strings = Object.fromEntries(Object.entries(args).map(([key, value]) => [key, String(value)]));
    const rendered = catalogCall("getPrompt", name, JSON.stringify(strings));
    return {
      description: rendered.description,
      messages: rendered.messages.map(({ role, content }) => ({ role, content: blockFromWit(content) })),
    };
  },
};

// `{key: value}` (or nothing) -> the WIT attributes, values as strings.
function spanAttributes(attributes) {
  if (attributes === undefined || attributes === null) return [];
  if (typeof attributes !== "object" || Array.isArray(attributes)) {
    throw new TypeError("span: attributes are an object of {name: value}");
  }
  return Object.entries(attributes).map(([key, value]) => [key, String(value)]);
}

/** A span from `ctx.startSpan`, open until `end()` (and at the latest until
 * the call ends). `isOpen` is false once it ended, and from the start when
 * the host refused it (beyond 64 spans per call): then it does nothing. */
class Span {
  #handle;

  constructor(handle) {
    this.#handle = handle ?? undefined;
  }

  /** Whether the host opened the span and it has not ended. */
  get isOpen() {
    return this.#handle !== undefined;
  }

  /** End the span, and the spans opened inside it still open; calling it
   * again does nothing. */
  end() {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle !== undefined) interfaces.context.endSpan(handle);
  }
}

/** What each plugin callback gets as `ctx`; a new one per call. */
export class Context {
  constructor() {
    const context = interfaces.context;
    this.state = {
      get: (key) => parseOptional(context.stateGet(key)),
      set: (key, value) => facade(() => context.stateSet(key, JSON.stringify(value))),
      delete: (key) => context.stateDelete(key),
    };
    this.session = {
      get: (key) => parseOptional(facade(() => needs("sessionState", "session-state").get(key))),
      set: (key, value) => facade(() => needs("sessionState", "session-state").set(key, JSON.stringify(value))),
      delete: (key) => facade(() => needs("sessionState", "session-state").delete(key)),
      keys: () => facade(() => needs("sessionState", "session-state").listKeys()),
    };
    this.catalog = catalog;
  }

  get requestId() {
    return interfaces.context.requestId();
  }
  /** The id of the trace this call belongs to (32 hex digits), for the
   * plugin's own logs or requests; undefined when the host does not trace. */
  get traceId() {
    return interfaces.context.traceId() ?? undefined;
  }
  get sessionId() {
    return interfaces.context.sessionId();
  }
  get protocolVersion() {
    return interfaces.context.protocolVersion();
  }
  get client() {
    return interfaces.context.client();
  }
  get principal() {
    return interfaces.context.principal();
  }
  /** What the policy grants this request's caller of `capability` ("sql",
   * "http", ...): `{granted, reason, scope}`, `scope` in the capability's own
   * keys (`databases`, `write`, `tables` for sql), to explain what is missing
   * before acting. */
  grant(capability) {
    const grant = interfaces.context.grant(capability);
    return { granted: grant.granted, reason: grant.reason, scope: JSON.parse(grant.scope) };
  }
  /** True once the client cancelled the request: stop early. */
  get cancelled() {
    return interfaces.context.isCancelled();
  }
  /** Wait `ms` milliseconds without burning fuel. The call's deadline and
   * cancellation still apply: a request cancelled or out of time while it
   * waits ends there. */
  sleep(ms) {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`sleep: ms must be a number, 0 or more (got ${ms})`);
    interfaces.context.sleep(BigInt(Math.round(ms)));
  }

  /** Log at one of the eight MCP levels; a non-string message is sent as data. */
  log(level, message, logger) {
    if (!LEVELS.includes(level)) throw new Error(`unknown log level "${level}" (one of ${LEVELS.join(", ")})`);
    if (typeof message === "string") interfaces.context.log(level, logger, message);
    else interfaces.context.logData(level, logger, JSON.stringify(message));
  }
  debug(message) {
    this.log("debug", message);
  }
  info(message) {
    this.log("info", message);
  }
  warning(message) {
    this.log("warning", message);
  }
  error(message) {
    this.log("error", message);
  }

  /** Report progress; sent only when the client asked for it. */
  progress(progress, total, message) {
    interfaces.context.progress(progress, total ?? undefined, message ?? undefined);
  }

  /** Open a span named `name` in the call's trace, with `attributes` (an
   * object; values converted with `String`), under the innermost span still
   * open, else the plugin's run; run `fn()` inside it, end the span (also
   * when `fn` throws, which is rethrown) and return what `fn` returned.
   * `attributes` may be left out: `ctx.span(name, fn)`. `fn` runs
   * synchronously, like `run`. The host keeps at most 32 attributes, cuts
   * long names and values, and opens at most 64 spans per call (beyond
   * that `fn` still runs, in no span of its own). */
  span(name, attributes, fn) {
    if (typeof attributes === "function" && fn === undefined) [attributes, fn] = [undefined, attributes];
    if (typeof fn !== "function") throw new TypeError(`span("${name}"): the last argument is the function to run`);
    const span = this.startSpan(name, attributes);
    try {
      return fn();
    } finally {
      span.end();
    }
  }

  /** Open a span like `span`, for work that does not fit in one function:
   * it stays open until its `end()` (and at the latest until the call ends). */
  startSpan(name, attributes) {
    return new Span(interfaces.context.openSpan(String(name), spanAttributes(attributes)));
  }

  /** Ask the user to fill a form: `{action: "accept"|"decline"|"cancel", content}`. */
  elicit(message, schema) {
    const elicitation = needs("elicitation", "elicitation");
    const requested = schema && schema.type === "object" ? schema : objectSchema(schema, "elicit");
    const outcome = facade(() => elicitation.elicitForm(message, JSON.stringify(requested)));
    if (outcome.tag === "accepted") return { action: "accept", content: JSON.parse(outcome.val) };
    return { action: outcome.tag === "declined" ? "decline" : "cancel" };
  }

  /** Send the user to a URL: "accept", "decline" or "cancel". */
  elicitUrl(message, url, elicitationId) {
    const elicitation = needs("elicitation", "elicitation");
    const outcome = facade(() => elicitation.elicitUrl(message, url, elicitationId));
    return { accepted: "accept", declined: "decline" }[outcome] ?? "cancel";
  }

  /** Ask the client's model: `{text, model, stopReason}`. `prompt` is one
   * user message or a list of `[role, text]` pairs. */
  sample(prompt, { maxTokens = 512, systemPrompt, temperature, modelHints = [] } = {}) {
    const sampling = needs("sampling", "sampling");
    const turns = typeof prompt === "string" ? [["user", prompt]] : prompt;
    const request = {
      messages: turns.map(([role, text]) => ({ role, content: [{ tag: "text", val: text }] })),
      systemPrompt,
      maxTokens,
      temperature,
      stopSequences: [],
      modelPreferences: modelHints.length
        ? { hints: modelHints, costPriority: undefined, speedPriority: undefined, intelligencePriority: undefined }
        : undefined,
      includeContext: undefined,
      tools: [],
      toolChoice: undefined,
      metadata: undefined,
    };
    const response = facade(() => sampling.createMessage(request));
    const text = response.content
      .filter((c) => c.tag === "text")
      .map((c) => c.val)
      .join("");
    return { text, model: response.model, stopReason: response.stopReason };
  }

  /** The client's roots: `[{uri, name}]`. */
  roots() {
    return facade(() => needs("roots", "roots").listRoots());
  }

  /** The key-value namespace `namespace` (one the manifest declares; others
   * answer ContextError `denied`). */
  keyvalue(namespace) {
    return new KeyValue(namespace);
  }

  /** Send an HTTP request through the host and read the whole response.
   * `request` is `{method = "GET", url, headers, body, json, timeoutMs}`:
   * `headers` an object or `[name, value]` pairs, `body` a string or a
   * Uint8Array, `json` any value sent as a JSON body. A response with an
   * error status is still a response (see `errorForStatus()`). */
  http(request) {
    return new HttpResponse(facade(() => needs("http", "http").send(httpRequest(request))));
  }

  /** The database the operator calls `name` (one the manifest declares;
   * others answer ContextError `denied`). */
  sql(name) {
    return new Database(name);
  }

  /** The operator's secret `name` (declared in `[capabilities.secrets]` and
   * granted by the policy). */
  secret(name) {
    return facade(() => needs("secrets", "secrets").get(name));
  }

  /** Tell subscribed clients that the resource `uri` changed. */
  resourceUpdated(uri) {
    interfaces.context.resourceUpdated(uri);
  }
  /** Tell clients that the set of resources changed. */
  resourceListChanged() {
    interfaces.context.resourceListChanged();
  }
}
