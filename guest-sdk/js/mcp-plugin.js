// The JavaScript SDK for mcp-wasm-host plugins (componentize-js): its public
// entry. Plugins and the generated entry module import this file; it owns
// the SDK's documentation and its public names, which it re-exports from
// the modules beside it:
//
//     exports.js       bind, the tools/resources/prompts/completions exports,
//                      Completion and the prompt message helpers
//     context.js       the Context plugin code receives, and the host services
//     errors.js        ContextError and ExportError
//     uri-template.js  UriTemplate
//     schema.js        input/output specs -> JSON Schema
//     content.js       content blocks, results and resource contents <-> WIT
//     bound.js         the interfaces `bind` was given (one copy, shared)
//
// All of them are one SDK: `build.mjs` imports them where they are or copies
// them together, and the scaffolder writes them all into a project's `sdk/`.
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
// A tool may also declare `title`, `annotations` (`{readOnly, destructive,
// idempotent, openWorld}`, hints for the client) and `task`, whether a call
// may run as an MCP task: "forbidden" (the default: always an ordinary call),
// "optional" (a task when the client supports tasks) or "required" (only as a
// task). `run` is the same either way.
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
// Tracing: `ctx.span(name, attributes, fn)` runs `fn()` in a span of the
// call's trace (attribute values converted with `String`; the span ends
// when `fn` returns or throws) and returns its result; `ctx.startSpan(name,
// attributes)` opens one that stays open until its `end()`. Spans nest under
// the innermost one still open; the host opens at most 64 per call (beyond
// that they do nothing) and ends those still open when the call ends.
// `ctx.traceId` is the trace's id (32 hex digits), undefined when the host
// does not trace.
//
// Throwing from `read`, `get` or a completer fails the request with the
// error's message; throw `new ExportError("not-found" | "invalid-params",
// message)` to say which. Any other uncaught error also has its stack
// written to stderr, which the host logs; the result never carries it.

export { ContextError, ExportError } from "./errors.js";
export {
  Completion,
  assistantText,
  bind,
  completions,
  prompts,
  resources,
  tools,
  userImage,
  userResource,
  userText,
} from "./exports.js";
export { UriTemplate } from "./uri-template.js";
