// The JavaScript SDK without a component: specs to schemas, results to WIT
// values, and context calls against fake interfaces.
// Run with: node --test guest-sdk/js/test/

import assert from "node:assert/strict";
import { test } from "node:test";

import { bind, tools } from "../mcp-plugin.js";

function fakeContext(logs) {
  return {
    log: (level, logger, message) => logs.push([level, message]),
    logData: (level, logger, data) => logs.push([level, JSON.parse(data)]),
    progress: () => {},
    stateGet: () => undefined,
    stateSet: () => {},
    stateDelete: () => false,
  };
}

function schemaOf(name) {
  const tool = tools.listTools().find((t) => t.name === name);
  return JSON.parse(tool.inputSchema);
}

test("specs become JSON Schemas", () => {
  bind(
    { context: fakeContext([]) },
    {
      tools: {
        spec: {
          input: {
            text: "string",
            "limit?": "integer",
            tags: ["string"],
            mode: { enum: ["a", "b"], default: "a" },
            point: { x: "number", "y?": "number" },
            anything: "any?",
          },
          run() {},
        },
        raw: {
          input: { type: "object", properties: { n: { type: "number" } } },
          run() {},
        },
      },
    },
  );
  assert.deepEqual(schemaOf("spec"), {
    type: "object",
    properties: {
      text: { type: "string" },
      limit: { type: "integer" },
      tags: { type: "array", items: { type: "string" } },
      mode: { enum: ["a", "b"], default: "a" },
      point: {
        type: "object",
        properties: { x: { type: "number" }, y: { type: "number" } },
        required: ["x"],
        additionalProperties: false,
      },
      anything: {},
    },
    required: ["text", "tags", "point"],
    additionalProperties: false,
  });
  assert.deepEqual(schemaOf("raw"), { type: "object", properties: { n: { type: "number" } } });
});

test("bad specs are refused naming the place", () => {
  assert.throws(
    () => bind({}, { tools: { t: { input: { n: "float" }, run() {} } } }),
    /t\.n: unknown type "float"/,
  );
  assert.throws(() => bind({}, { tools: { "bad name": { run() {} } } }), /letters, digits/);
  assert.throws(() => bind({}, { tools: { t: { input: {} } } }), /no run function/);
});

test("results and errors become WIT values", () => {
  const logs = [];
  bind(
    { context: fakeContext(logs) },
    {
      tools: {
        text: { run: ({ who }, ctx) => (ctx.info(`hi ${who}`), `hello ${who}`) },
        object: { run: () => ({ sum: 3 }) },
        blocks: {
          run: () => ({
            content: [
              { type: "text", text: "see" },
              { type: "image", data: "AQID", mimeType: "image/png" },
            ],
            structuredContent: { n: 1 },
          }),
        },
        fails: {
          run: () => {
            throw new Error("it broke");
          },
        },
      },
    },
  );
  assert.deepEqual(tools.callTool("text", '{"who":"Ada"}'), {
    content: [{ tag: "text", val: "hello Ada" }],
    structuredContent: undefined,
  });
  assert.deepEqual(logs, [["info", "hi Ada"]]);
  assert.deepEqual(tools.callTool("object", "{}"), {
    content: [{ tag: "text", val: '{"sum":3}' }],
    structuredContent: '{"sum":3}',
  });
  const blocks = tools.callTool("blocks", "{}");
  assert.deepEqual(blocks.content[1], {
    tag: "image",
    val: { data: new Uint8Array([1, 2, 3]), mimeType: "image/png" },
  });
  assert.equal(blocks.structuredContent, '{"n":1}');
  assert.throws(() => tools.callTool("fails", "{}"), (e) => e.message === "it broke");
  assert.throws(() => tools.callTool("nope", "{}"), (e) => e.message === 'unknown tool "nope"');
});

test("context errors carry their kind; undeclared capabilities say so", () => {
  const session = {
    get: () => {
      throw { payload: { tag: "unsupported-by-client", val: "no session" } };
    },
  };
  bind(
    { context: fakeContext([]), sessionState: session },
    {
      tools: {
        read: { run: (_a, ctx) => ctx.session.get("k") },
        ask: { run: (_a, ctx) => ctx.elicit("name?", { name: "string" }) },
      },
    },
  );
  assert.throws(
    () => tools.callTool("read", "{}"),
    (e) => e.message === "unsupported-by-client: no session",
  );
  assert.throws(
    () => tools.callTool("ask", "{}"),
    (e) => e.message.startsWith("not-declared: this plugin was built without the `elicitation` capability"),
  );
});
