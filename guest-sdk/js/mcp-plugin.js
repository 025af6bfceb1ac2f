// The JavaScript SDK for mcp-wasm-host plugins (componentize-js).
//
// A plugin is an ES module whose default export declares its tools:
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
//     };
//
// `build.mjs` builds it: it generates an entry module that imports the
// plugin, this SDK and exactly the interfaces of the manifest's capabilities,
// binds them here, and exports the component's `tools`.
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

const TYPE_NAMES = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);
const SCHEMA_KEYS = ["type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"];
const LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

let interfaces = {};
let descriptors = [];
let runners = new Map();

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

// --- results ------------------------------------------------------------------

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

// --- the context ----------------------------------------------------------------

/** A context call that got no answer; `kind` says why. */
export class ContextError extends Error {
  constructor(kind, message) {
    super(message ? `${kind}: ${message}` : kind);
    this.name = "ContextError";
    this.kind = kind;
    this.detail = message;
  }
}

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
    this.keyvalue = {
      get: (namespace, key) => facade(() => needs("keyvalue", "keyvalue").get(namespace, key)),
      getText: (namespace, key) => {
        const value = facade(() => needs("keyvalue", "keyvalue").get(namespace, key));
        return value === undefined ? undefined : new TextDecoder().decode(value);
      },
      set: (namespace, key, value, ttlMs) =>
        facade(() =>
          needs("keyvalue", "keyvalue").set(
            namespace,
            key,
            typeof value === "string" ? new TextEncoder().encode(value) : value,
            optionalBigInt(ttlMs),
          ),
        ),
      delete: (namespace, key) => facade(() => needs("keyvalue", "keyvalue").delete(namespace, key)),
      keys: (namespace, prefix = "") => facade(() => needs("keyvalue", "keyvalue").listKeys(namespace, prefix)),
      increment: (namespace, key, delta = 1) =>
        Number(facade(() => needs("keyvalue", "keyvalue").increment(namespace, key, BigInt(delta)))),
    };
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

  resourceUpdated(uri) {
    interfaces.context.resourceUpdated(uri);
  }
  resourceListChanged() {
    interfaces.context.resourceListChanged();
  }
}

// --- binding and the export ----------------------------------------------------------

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Called by the generated entry module: the world's interfaces and the plugin. */
export function bind(bound, plugin) {
  interfaces = bound;
  descriptors = [];
  runners = new Map();
  const tools = (plugin && plugin.tools) || {};
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
    descriptors.push({
      name,
      title: spec.title,
      description: spec.description,
      inputSchema: JSON.stringify(objectSchema(spec.input || {}, name)),
      outputSchema: spec.output ? JSON.stringify(objectSchema(spec.output, `${name} output`)) : undefined,
      annotations,
    });
    runners.set(name, spec.run);
  }
}

/** The component's `tools` export. */
export const tools = {
  listTools() {
    return descriptors;
  },
  callTool(name, argumentsJson) {
    const run = runners.get(name);
    if (!run) throw { message: `unknown tool "${name}"`, content: [] };
    try {
      const args = argumentsJson ? JSON.parse(argumentsJson) : {};
      return result(run(args, new Context()));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw { message, content: [] };
    }
  },
};
