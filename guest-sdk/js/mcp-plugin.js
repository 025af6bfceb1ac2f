// The JavaScript SDK for mcp-wasm-host plugins (componentize-js).
//
// A plugin is an ES module whose default export declares what it serves:
//
//     import { Completion } from "./sdk/mcp-plugin.js"; // only for the helpers
//
//     export default {
//       tools: {
//         shout: {
//           description: "Shout a text",
//           input: { text: "string", "times?": { type: "integer", minimum: 1, default: 1 } },
//           run({ text, times = 1 }, ctx) {
//             ctx.info(`shouting ${times} time(s)`);
//             return Array(times).fill(text.toUpperCase() + "!").join(" ");
//           },
//         },
//       },
//       resources: {
//         "motd://today": { name: "motd", mimeType: "text/plain", read: (ctx) => "Be kind." },
//       },
//       resourceTemplates: {
//         "notes://{name}": {
//           name: "note",
//           mimeType: "text/markdown",
//           read: ({ name }, ctx) => `# ${name}`,
//           complete: { name: (typed) => Completion.byPrefix(typed, ["groceries", "ideas"]) },
//         },
//       },
//       prompts: {
//         greet: {
//           description: "Greet someone",
//           arguments: { name: "Who to greet", "style?": "How" },
//           get: ({ name, style }) => `Greet ${name}${style ? ` (${style})` : ""}.`,
//         },
//       },
//     };
//
// `build.mjs` builds it: it generates an entry module that imports the
// plugin, this SDK and exactly the interfaces of the manifest's capabilities,
// binds them here, and exports the component's `tools`, `resources`,
// `prompts` and `completions`. A plugin declares any of them; the others
// serve nothing.
//
// Input and output specs: a full JSON Schema object (one with `type: "object"`)
// is used as it is. Otherwise each key is a property; a key ending in `?` is
// optional, and so is one with a `default`. A value is a type name (`"string"`,
// `"number"`, `"integer"`, `"boolean"`, `"object"`, `"array"`, `"any"`, with
// `?` for optional: `"string?"`), an array of one spec (`["string"]`: an array
// of strings), a JSON Schema (any object with `type`, `enum`, `const`,
// `anyOf`, `oneOf`, `allOf` or `$ref`; `optional: true` makes it optional), or
// a plain object of further properties (a nested object).
//
// What `run` returns: a string is one text block; an object with a `content`
// array is MCP-shaped content (`{type: "text", text}`, `{type: "image", data,
// mimeType}` with `data` a Uint8Array or base64 string, `audio`,
// `resource_link`, `resource`), with `structuredContent` optional; any other
// value is structured content (objects) and its JSON as text. Throwing ends
// the call with an error result carrying the error's message.
//
// Resources: `read` returns a string (text), a Uint8Array (bytes), a
// contents object `{text | blob, mimeType?, uri?}` or a list of them, or any
// other value (its JSON, as `application/json`). A template's `{name}`
// matches one or more characters other than `/`, `?` and `#`, its `{+name}`
// any characters; `read(vars, ctx)` gets the percent-decoded values.
// Prompts: `arguments` maps each name (a `?` at the end: optional) to its
// description or `{description, title, required}`; `get(args, ctx)` returns
// a string (one user message), a message (`userText(...)`), a list of them,
// or `{description, messages}`. Completers (`complete: {argument(value,
// context, ctx)}`) return a list of strings or a `Completion`.
//
// Throwing from `read`, `get` or a completer fails the request with the
// error's message; throw `new ExportError("not-found" | "invalid-params",
// message)` to say which. Any other uncaught error also has its stack
// written to stderr, which the host logs; the result never carries it.

const TYPE_NAMES = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);
const SCHEMA_KEYS = ["type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"];
const LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];
const ROLES = ["user", "assistant"];
const EXPORT_ERROR_KINDS = ["not-found", "invalid-params", "failed"];

let interfaces = {};
let registry = emptyRegistry();

function emptyRegistry() {
  return {
    tools: [],
    runners: new Map(),
    resources: new Map(),
    listResources: undefined,
    templates: [],
    prompts: new Map(),
  };
}

// --- schemas from specs -------------------------------------------------------

function isSchema(value) {
  return SCHEMA_KEYS.some((key) => Object.prototype.hasOwnProperty.call(value, key));
}

function typeSchema(name, where) {
  if (name === "any") return {};
  if (!TYPE_NAMES.has(name)) {
    throw new Error(`${where}: unknown type "${name}" (one of ${[...TYPE_NAMES, "any"].join(", ")})`);
  }
  return { type: name };
}

// One value spec -> [schema, optional].
function valueSchema(spec, where) {
  if (typeof spec === "string") {
    const optional = spec.endsWith("?");
    return [typeSchema(optional ? spec.slice(0, -1) : spec, where), optional];
  }
  if (Array.isArray(spec)) {
    if (spec.length !== 1) throw new Error(`${where}: an array spec holds exactly one item spec`);
    return [{ type: "array", items: valueSchema(spec[0], `${where}[]`)[0] }, false];
  }
  if (spec && typeof spec === "object") {
    if (isSchema(spec)) {
      const { optional = false, ...schema } = spec;
      return [schema, optional || "default" in schema];
    }
    return [objectSchema(spec, where), false];
  }
  throw new Error(`${where}: a spec is a type name, an array of one spec, or an object`);
}

function objectSchema(spec, where) {
  if (spec.type === "object") return spec;
  const properties = {};
  const required = [];
  for (const [rawKey, value] of Object.entries(spec)) {
    const keyOptional = rawKey.endsWith("?");
    const key = keyOptional ? rawKey.slice(0, -1) : rawKey;
    const [schema, optional] = valueSchema(value, `${where}.${key}`);
    properties[key] = schema;
    if (!keyOptional && !optional) required.push(key);
  }
  const schema = { type: "object", properties, additionalProperties: false };
  if (required.length) schema.required = required;
  return schema;
}

// --- content: MCP-shaped blocks to WIT values and back ------------------------

function bytes(data) {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") {
    const binary = atob(data);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }
  throw new Error("binary content needs a Uint8Array or a base64 string");
}

function optionalBigInt(value) {
  return value === undefined || value === null ? undefined : BigInt(value);
}

function optionalNumber(value) {
  return value === undefined ? undefined : Number(value);
}

function encodeText(text) {
  return new TextEncoder().encode(text);
}

function decodeText(data) {
  return new TextDecoder().decode(data);
}

function block(item) {
  if (typeof item === "string") return { tag: "text", val: item };
  switch (item && item.type) {
    case "text":
      return { tag: "text", val: String(item.text) };
    case "image":
    case "audio":
      return { tag: item.type, val: { data: bytes(item.data), mimeType: item.mimeType } };
    case "resource_link":
      return {
        tag: "resource-link",
        val: {
          uri: item.uri,
          name: item.name,
          title: item.title,
          description: item.description,
          mimeType: item.mimeType,
          size: optionalBigInt(item.size),
        },
      };
    case "resource": {
      const r = item.resource || {};
      const body = r.text !== undefined ? { tag: "text", val: r.text } : { tag: "blob", val: bytes(r.blob) };
      return { tag: "embedded-resource", val: { uri: r.uri, mimeType: r.mimeType, body } };
    }
    default:
      throw new Error(`unknown content block ${JSON.stringify(item)}`);
  }
}

// WIT resource contents -> `{uri, mimeType, text}` or `{uri, mimeType, blob}`.
function contentsFromWit(contents) {
  const { uri, mimeType, body } = contents;
  return body.tag === "text" ? { uri, mimeType, text: body.val } : { uri, mimeType, blob: body.val };
}

// A WIT content block -> the MCP-shaped block `block` accepts.
function blockFromWit(content) {
  const value = content.val;
  switch (content.tag) {
    case "text":
      return { type: "text", text: value };
    case "image":
    case "audio":
      return { type: content.tag, data: value.data, mimeType: value.mimeType };
    case "resource-link":
      return { type: "resource_link", ...value, size: optionalNumber(value.size) };
    case "embedded-resource":
      return { type: "resource", resource: contentsFromWit(value) };
    default:
      throw new Error(`unknown content block "${content.tag}"`);
  }
}

function result(value) {
  if (value === undefined || value === null) return { content: [], structuredContent: undefined };
  if (typeof value === "string") return { content: [block(value)], structuredContent: undefined };
  if (typeof value === "object" && Array.isArray(value.content)) {
    const structured = value.structuredContent;
    return {
      content: value.content.map(block),
      structuredContent: structured === undefined ? undefined : JSON.stringify(structured),
    };
  }
  const text = JSON.stringify(value);
  const structured = typeof value === "object" && !Array.isArray(value) ? text : undefined;
  return { content: [{ tag: "text", val: text }], structuredContent: structured };
}

// --- errors -------------------------------------------------------------------

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

function messageOf(error) {
  return error && typeof error.message === "string" ? error.message : String(error);
}

// The error with its stack, for the log: SpiderMonkey's `stack` holds only
// the frames, V8's starts with the name and message.
function stackOf(error) {
  if (!(error instanceof Error)) return String(error);
  const headline = `${error.name}: ${error.message}`;
  const stack = (error.stack || "").trimEnd();
  if (!stack) return headline;
  return stack.startsWith(headline) ? stack : `${headline}\n${stack}`;
}

// Write an uncaught error's stack to stderr (the host logs each line).
function logUncaught(where, error) {
  console.error(`${where} failed: ${stackOf(error)}`);
}

// Run one export call: an `ExportError` becomes its WIT variant as it is,
// anything else thrown becomes `failed` with its message (and its stack in
// the log).
function exportCall(where, call) {
  try {
    return call();
  } catch (error) {
    if (error instanceof ExportError) throw { tag: error.kind, val: error.message };
    logUncaught(where, error);
    throw { tag: "failed", val: messageOf(error) };
  }
}

// --- the context ----------------------------------------------------------------

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

class Context {
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
  /** True once the client cancelled the request: stop early. */
  get cancelled() {
    return interfaces.context.isCancelled();
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

// --- URI templates --------------------------------------------------------------

const OPERATORS = "+#./;?&=,!@|";

// `template` -> its parts: `{literal}` and `{variable, reserved}`; the error
// says what is wrong with it.
function parseUriTemplate(template) {
  const parts = [];
  let rest = template;
  while (rest.length) {
    const at = rest.search(/[{}]/);
    if (at < 0) {
      parts.push({ literal: rest });
      break;
    }
    if (rest[at] === "}") throw new Error("has a `}` without a matching `{`");
    if (at > 0) parts.push({ literal: rest.slice(0, at) });
    const end = rest.indexOf("}", at);
    if (end < 0) throw new Error("has a `{` without a matching `}`");
    const expression = rest.slice(at + 1, end);
    const reserved = expression.startsWith("+");
    const name = reserved ? expression.slice(1) : expression;
    if (!name) throw new Error(`has an empty \`{${expression}}\``);
    if (OPERATORS.includes(name[0]) || /[,*:]/.test(name)) {
      throw new Error(`uses \`{${expression}}\`; only \`{name}\` and \`{+name}\` expressions are supported`);
    }
    if (!/^[A-Za-z0-9_.%]+$/.test(name)) {
      throw new Error(`has the variable name \`${name}\`; use ASCII letters, digits and \`_\``);
    }
    if (parts.length && parts[parts.length - 1].variable !== undefined) {
      throw new Error(`puts \`{${expression}}\` right after another variable; separate variables with literal text`);
    }
    if (parts.some((part) => part.variable === name)) throw new Error(`uses \`{${name}}\` twice`);
    parts.push({ variable: name, reserved });
    rest = rest.slice(end + 1);
  }
  if (!parts.length) throw new Error("is empty");
  return parts;
}

/** An RFC 6570 URI template of `{name}` and `{+name}` expressions between
 * literal text, as resource templates declare them. */
export class UriTemplate {
  /** Parse `template`; throws an Error saying what is wrong with it. */
  constructor(template) {
    this.template = template;
    try {
      this.parts = parseUriTemplate(template);
    } catch (error) {
      throw new Error(`URI template \`${template}\` ${error.message}`);
    }
  }

  /** The variables' names, in order. */
  get variables() {
    return this.parts.filter((part) => part.variable !== undefined).map((part) => part.variable);
  }

  /** The variables of `uri` (an object of percent-decoded values) if it is
   * an expansion of this template, else undefined. A `{name}` value is one
   * or more characters other than `/`, `?` and `#`; a `{+name}` value, one
   * or more of any; each ends where the following literal text first
   * appears. */
  match(uri) {
    const values = [];
    let rest = uri;
    for (const [i, part] of this.parts.entries()) {
      if (part.variable === undefined) {
        if (!rest.startsWith(part.literal)) return undefined;
        rest = rest.slice(part.literal.length);
        continue;
      }
      const next = this.parts[i + 1];
      const end = next ? rest.indexOf(next.literal) : rest.length;
      if (end <= 0) return undefined;
      const raw = rest.slice(0, end);
      if (!part.reserved && /[/?#]/.test(raw)) return undefined;
      let value;
      try {
        value = decodeURIComponent(raw);
      } catch {
        return undefined;
      }
      values.push([part.variable, value]);
      rest = rest.slice(end);
    }
    return rest === "" ? Object.fromEntries(values) : undefined;
  }
}

// --- resources ------------------------------------------------------------------

function isContents(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    ("text" in value || "blob" in value)
  );
}

function contentsToWit(item, uri, mimeType) {
  const body =
    item.text !== undefined ? { tag: "text", val: String(item.text) } : { tag: "blob", val: bytes(item.blob) };
  return { uri: item.uri ?? uri, mimeType: item.mimeType ?? mimeType, body };
}

/** What `read` returned -> WIT resource contents of `uri`, with the
 * resource's declared `mimeType` where the contents set none. */
function readResult(value, uri, mimeType) {
  if (value === undefined) return [];
  if (typeof value === "string") return [{ uri, mimeType, body: { tag: "text", val: value } }];
  if (value instanceof Uint8Array) return [{ uri, mimeType, body: { tag: "blob", val: value } }];
  if (isContents(value)) return [contentsToWit(value, uri, mimeType)];
  if (Array.isArray(value) && value.length && value.every(isContents)) {
    return value.map((item) => contentsToWit(item, uri, mimeType));
  }
  const json = JSON.stringify(value);
  return [{ uri, mimeType: mimeType ?? "application/json", body: { tag: "text", val: json } }];
}

function resourceDescriptor(uri, spec) {
  return {
    uri,
    name: spec.name,
    title: spec.title,
    description: spec.description,
    mimeType: spec.mimeType,
    size: optionalBigInt(spec.size),
  };
}

// A `{varName(value, context, ctx)}` object -> a Map, each name checked
// against `names` (a template's variables or a prompt's arguments).
function completers(spec = {}, names, where, noun) {
  const map = new Map();
  for (const [name, complete] of Object.entries(spec)) {
    if (!names.includes(name)) throw new Error(`${where} completes \`${name}\`, which is not one of its ${noun}s`);
    if (typeof complete !== "function") throw new Error(`${where}: the completer of \`${name}\` is not a function`);
    map.set(name, complete);
  }
  return map;
}

function registerResources(resources) {
  for (const [uri, spec] of Object.entries(resources)) {
    if (!uri) throw new Error("a resource has an empty URI");
    if (!spec.name) throw new Error(`resource "${uri}" has no name`);
    if (typeof spec.read !== "function") throw new Error(`resource "${uri}" has no read function`);
    registry.resources.set(uri, { descriptor: resourceDescriptor(uri, spec), read: spec.read });
  }
}

function registerTemplates(templates) {
  for (const [uriTemplate, spec] of Object.entries(templates)) {
    const template = new UriTemplate(uriTemplate);
    const where = `resource template "${uriTemplate}"`;
    if (!spec.name) throw new Error(`${where} has no name`);
    if (typeof spec.read !== "function") throw new Error(`${where} has no read function`);
    registry.templates.push({
      descriptor: {
        uriTemplate,
        name: spec.name,
        title: spec.title,
        description: spec.description,
        mimeType: spec.mimeType,
      },
      template,
      read: spec.read,
      completers: completers(spec.complete, template.variables, where, "variable"),
    });
  }
}

// --- prompts ----------------------------------------------------------------------

/** A user message of text, for a prompt's `get`. */
export function userText(text) {
  return { role: "user", content: { type: "text", text } };
}

/** An assistant message of text, for a prompt's `get`. */
export function assistantText(text) {
  return { role: "assistant", content: { type: "text", text } };
}

/** A user message holding an image (`data` a Uint8Array or base64 string). */
export function userImage(data, mimeType) {
  return { role: "user", content: { type: "image", data, mimeType } };
}

/** A user message embedding a resource's contents (`{uri, text | blob, mimeType}`). */
export function userResource(contents) {
  return { role: "user", content: { type: "resource", resource: contents } };
}

/** A prompt's `arguments` spec -> the WIT prompt arguments, in order. Each
 * key is an argument (ending in `?`: optional); each value its description
 * or `{description, title, required}`. */
function promptArguments(spec, where) {
  const declared = [];
  for (const [rawKey, value] of Object.entries(spec || {})) {
    const optional = rawKey.endsWith("?");
    const name = optional ? rawKey.slice(0, -1) : rawKey;
    if (!name) throw new Error(`${where} has an argument without a name`);
    if (declared.some((argument) => argument.name === name)) {
      throw new Error(`${where} declares the argument \`${name}\` twice`);
    }
    if (typeof value === "string") {
      declared.push({ name, title: undefined, description: value, required: !optional });
    } else if (value && typeof value === "object") {
      const { description, title, required = !optional } = value;
      if (optional && required) throw new Error(`${where}: \`${rawKey}\` ends in \`?\` but says required: true`);
      declared.push({ name, title, description, required: Boolean(required) });
    } else {
      throw new Error(`${where}: the argument \`${name}\` is a description or {description, title, required}`);
    }
  }
  return declared;
}

function promptMessage(message, where) {
  if (typeof message === "string") return { role: "user", content: block(message) };
  if (message && typeof message === "object" && ROLES.includes(message.role)) {
    return { role: message.role, content: block(message.content) };
  }
  throw new Error(
    `${where}: a message is a string or {role: "user" | "assistant", content}, not ${JSON.stringify(message)}`,
  );
}

/** What a prompt's `get` returned -> the WIT prompt result. */
function promptResult(value, where) {
  const messages = (list) => list.map((message) => promptMessage(message, where));
  if (typeof value === "string") return { description: undefined, messages: messages([value]) };
  if (Array.isArray(value)) return { description: undefined, messages: messages(value) };
  if (value && typeof value === "object" && Array.isArray(value.messages)) {
    return { description: value.description, messages: messages(value.messages) };
  }
  if (value && typeof value === "object" && "role" in value) {
    return { description: undefined, messages: messages([value]) };
  }
  throw new Error(
    `${where} returned ${JSON.stringify(value)}: ` +
      "expected a string, a message, a list of messages or {description, messages}",
  );
}

function registerPrompts(prompts) {
  for (const [name, spec] of Object.entries(prompts)) {
    if (!NAME.test(name)) throw new Error(`prompt name "${name}": letters, digits, _, - and . only`);
    const where = `prompt "${name}"`;
    if (typeof spec.get !== "function") throw new Error(`${where} has no get function`);
    const args = promptArguments(spec.arguments, where);
    registry.prompts.set(name, {
      descriptor: { name, title: spec.title, description: spec.description, arguments: args },
      get: spec.get,
      completers: completers(
        spec.complete,
        args.map((argument) => argument.name),
        where,
        "argument",
      ),
    });
  }
}

// --- completions ------------------------------------------------------------------

/** Suggested values for an argument: `values` (at most
 * `Completion.MAX_VALUES`, best first), `total` and `hasMore`. */
export class Completion {
  static MAX_VALUES = 100;

  /** Suggest `values`; beyond `MAX_VALUES` the rest are dropped, and
   * `total` and `hasMore` say so. */
  constructor(values) {
    const all = [...values].map(String);
    this.values = all.slice(0, Completion.MAX_VALUES);
    this.total = all.length;
    this.hasMore = all.length > this.values.length;
  }

  /** The `candidates` that start with `prefix` (what the user typed so
   * far), in their order. */
  static byPrefix(prefix, candidates) {
    return new Completion([...candidates].filter((candidate) => String(candidate).startsWith(prefix)));
  }
}

/** What a completer returned -> the WIT completion. */
function completionResult(value, where) {
  const completion = Array.isArray(value) ? new Completion(value) : value;
  if (completion && typeof completion === "object" && Array.isArray(completion.values)) {
    return {
      values: completion.values.map(String),
      total: completion.total ?? undefined,
      hasMore: Boolean(completion.hasMore),
    };
  }
  throw new Error(`${where} returned ${JSON.stringify(value)}: expected a list of strings or {values, total, hasMore}`);
}

// The WIT completion reference -> what it names: its completers, its
// argument (or variable) names, and how to name it in errors.
function completionTarget(reference) {
  if (reference.tag === "prompt") {
    const prompt = registry.prompts.get(reference.val);
    if (!prompt) throw new ExportError("not-found", `no prompt named ${reference.val}`);
    return {
      what: `prompt \`${reference.val}\``,
      noun: "argument",
      names: prompt.descriptor.arguments.map((argument) => argument.name),
      completers: prompt.completers,
    };
  }
  const template = registry.templates.find((t) => t.descriptor.uriTemplate === reference.val);
  if (!template) throw new ExportError("not-found", `no resource template ${reference.val}`);
  return {
    what: `resource template \`${reference.val}\``,
    noun: "variable",
    names: template.template.variables,
    completers: template.completers,
  };
}

// --- binding and the exports ------------------------------------------------------

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

function registerTools(tools) {
  for (const [name, spec] of Object.entries(tools)) {
    if (!NAME.test(name)) throw new Error(`tool name "${name}": letters, digits, _, - and . only`);
    if (typeof spec.run !== "function") throw new Error(`tool "${name}" has no run function`);
    const hints = spec.annotations || {};
    const annotations =
      spec.title !== undefined || Object.keys(hints).length
        ? {
            title: spec.title,
            readOnlyHint: hints.readOnly,
            destructiveHint: hints.destructive,
            idempotentHint: hints.idempotent,
            openWorldHint: hints.openWorld,
          }
        : undefined;
    registry.tools.push({
      name,
      title: spec.title,
      description: spec.description,
      inputSchema: JSON.stringify(objectSchema(spec.input || {}, name)),
      outputSchema: spec.output ? JSON.stringify(objectSchema(spec.output, `${name} output`)) : undefined,
      annotations,
    });
    registry.runners.set(name, spec.run);
  }
}

/** Called by the generated entry module: the world's interfaces and the
 * plugin's default export. Checks every declaration and throws on a mistake
 * (so a broken plugin fails to build). */
export function bind(bound, plugin) {
  interfaces = bound;
  registry = emptyRegistry();
  const declared = plugin || {};
  registerTools(declared.tools || {});
  registerResources(declared.resources || {});
  registerTemplates(declared.resourceTemplates || {});
  if (declared.listResources !== undefined) {
    if (typeof declared.listResources !== "function") throw new Error("listResources is not a function");
    registry.listResources = declared.listResources;
  }
  registerPrompts(declared.prompts || {});
}

/** The component's `tools` export. */
export const tools = {
  listTools() {
    return registry.tools;
  },
  callTool(name, argumentsJson) {
    const run = registry.runners.get(name);
    if (!run) throw { message: `unknown tool "${name}"`, content: [] };
    try {
      const args = argumentsJson ? JSON.parse(argumentsJson) : {};
      return result(run(args, new Context()));
    } catch (error) {
      logUncaught(`tool "${name}"`, error);
      throw { message: messageOf(error), content: [] };
    }
  },
};

/** The component's `resources` export: fixed resources first, then the
 * plugin's `listResources(ctx)`; reads go to the resource with the URI,
 * else to the first template matching it. */
export const resources = {
  describeResources() {
    return {
      templates: registry.templates.map((template) => template.descriptor),
      listsResources: registry.resources.size > 0 || registry.listResources !== undefined,
    };
  },
  listResources() {
    return exportCall("listResources", () => {
      const fixed = [...registry.resources.values()].map((resource) => resource.descriptor);
      if (!registry.listResources) return fixed;
      const listed = registry.listResources(new Context()) || [];
      return fixed.concat(listed.map((spec) => resourceDescriptor(spec.uri, spec)));
    });
  },
  readResource(uri) {
    return exportCall(`resource "${uri}"`, () => {
      const fixed = registry.resources.get(uri);
      if (fixed) return readResult(fixed.read(new Context()), uri, fixed.descriptor.mimeType);
      for (const template of registry.templates) {
        const vars = template.template.match(uri);
        if (vars) return readResult(template.read(vars, new Context()), uri, template.descriptor.mimeType);
      }
      throw new ExportError("not-found", `no resource ${uri}`);
    });
  },
};

/** The component's `prompts` export. */
export const prompts = {
  listPrompts() {
    return [...registry.prompts.values()].map((prompt) => prompt.descriptor);
  },
  getPrompt(name, pairs) {
    const where = `prompt "${name}"`;
    return exportCall(where, () => {
      const prompt = registry.prompts.get(name);
      if (!prompt) throw new ExportError("not-found", `no prompt named ${name}`);
      const args = Object.fromEntries(pairs);
      const missing = prompt.descriptor.arguments.find((a) => a.required && !Object.hasOwn(args, a.name));
      if (missing) {
        throw new ExportError("invalid-params", `prompt \`${name}\` needs the argument \`${missing.name}\``);
      }
      return promptResult(prompt.get(args, new Context()), where);
    });
  },
};

/** The component's `completions` export: the completer of the prompt's
 * argument or the template's variable; one without a completer completes
 * to nothing. */
export const completions = {
  complete(reference, argument, value, context) {
    const where = `completion of \`${argument}\``;
    return exportCall(where, () => {
      const target = completionTarget(reference);
      const complete = target.completers.get(argument);
      if (complete) return completionResult(complete(value, Object.fromEntries(context), new Context()), where);
      if (target.names.includes(argument)) return { values: [], total: undefined, hasMore: false };
      throw new ExportError("invalid-params", `${target.what} has no ${target.noun} \`${argument}\``);
    });
  },
};
