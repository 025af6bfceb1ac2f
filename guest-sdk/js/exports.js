// The component's four exports (`tools`, `resources`, `prompts`,
// `completions`), `bind` (which checks the plugin's declarations and
// registers them), and the helpers a plugin returns from them: prompt
// messages (`userText`, ...) and `Completion`, plus ExportError handling.

import { setInterfaces } from "./bound.js";
import { block, optionalBigInt, readResult, result } from "./content.js";
import { Context } from "./context.js";
import { ExportError } from "./errors.js";
import { objectSchema } from "./schema.js";
import { UriTemplate } from "./uri-template.js";

const ROLES = ["user", "assistant"];
const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
// A tool's `task`: whether a call may run as an MCP task (the WIT enum's names).
const TASK_SUPPORT = ["forbidden", "optional", "required"];

// What `bind` registered from the plugin's declarations; the exports serve it.
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

// --- errors thrown by plugin code ----------------------------------------------

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

// --- resources ------------------------------------------------------------------

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

function registerTools(tools) {
  for (const [name, spec] of Object.entries(tools)) {
    if (!NAME.test(name)) throw new Error(`tool name "${name}": letters, digits, _, - and . only`);
    if (typeof spec.run !== "function") throw new Error(`tool "${name}" has no run function`);
    const task = spec.task === undefined ? "forbidden" : spec.task;
    if (!TASK_SUPPORT.includes(task)) {
      const given = JSON.stringify(task) ?? String(task);
      throw new Error(`tool "${name}": task must be "forbidden", "optional" or "required", not ${given}`);
    }
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
      taskSupport: task,
    });
    registry.runners.set(name, spec.run);
  }
}

/** Called by the generated entry module: the world's interfaces and the
 * plugin's default export. Checks every declaration and throws on a mistake
 * (so a broken plugin fails to build). */
export function bind(bound, plugin) {
  setInterfaces(bound);
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
