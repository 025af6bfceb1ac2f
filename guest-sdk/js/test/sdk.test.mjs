// The JavaScript SDK without a component: specs to schemas, results to WIT
// values, the resources, prompts and completions exports, and context calls
// against fake interfaces.
// Run with: node --test guest-sdk/js/test/

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  Completion,
  ContextError,
  ExportError,
  UriTemplate,
  assistantText,
  bind,
  completions,
  prompts,
  resources,
  tools,
  userText,
} from "../mcp-plugin.js";

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

// Run `call` with console.error captured: [its result, the lines written].
function capturingStderr(call) {
  const lines = [];
  const original = console.error;
  console.error = (...parts) => lines.push(parts.join(" "));
  try {
    return [call(), lines];
  } finally {
    console.error = original;
  }
}

// The WIT export error thrown by `call`, and what went to stderr meanwhile.
function exportError(call) {
  const [thrown, stderr] = capturingStderr(() => {
    try {
      call();
    } catch (error) {
      return error;
    }
    assert.fail("expected an export error");
  });
  return { ...thrown, stderr };
}

function text(value) {
  return { tag: "text", val: value };
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

test("a tool says whether a call may run as a task: forbidden by default", () => {
  bind(
    { context: fakeContext([]) },
    {
      tools: {
        plain: { run: () => "done" },
        never: { task: "forbidden", run: () => "done" },
        maybe: {
          task: "optional",
          annotations: { readOnly: true },
          input: { seconds: "integer" },
          run: ({ seconds }) => `waited ${seconds}`,
        },
        always: { task: "required", run: () => "done" },
      },
    },
  );
  const listed = Object.fromEntries(tools.listTools().map((tool) => [tool.name, tool]));
  assert.equal(listed.plain.taskSupport, "forbidden");
  assert.equal(listed.never.taskSupport, "forbidden");
  assert.equal(listed.maybe.taskSupport, "optional");
  assert.equal(listed.maybe.annotations.readOnlyHint, true);
  assert.deepEqual(JSON.parse(listed.maybe.inputSchema).required, ["seconds"]);
  assert.equal(listed.always.taskSupport, "required");
  assert.equal(listed.always.annotations, undefined);
  // `run` is called the same way either way.
  assert.deepEqual(tools.callTool("maybe", '{"seconds": 1}'), {
    content: [text("waited 1")],
    structuredContent: undefined,
  });
});

test("a task value other than forbidden, optional or required is refused", () => {
  for (const [task, shown] of [
    ["sometimes", '"sometimes"'],
    ["Optional", '"Optional"'],
    [true, "true"],
    [null, "null"],
  ]) {
    assert.throws(
      () => bind({}, { tools: { slow: { task, run() {} } } }),
      (error) => error.message === `tool "slow": task must be "forbidden", "optional" or "required", not ${shown}`,
    );
  }
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
  const [, stderr] = capturingStderr(() =>
    assert.throws(() => tools.callTool("fails", "{}"), (e) => e.message === "it broke"),
  );
  assert.equal(stderr.length, 1);
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
  capturingStderr(() => {
    assert.throws(
      () => tools.callTool("read", "{}"),
      (e) => e.message === "unsupported-by-client: no session",
    );
    assert.throws(
      () => tools.callTool("ask", "{}"),
      (e) => e.message.startsWith("not-declared: this plugin was built without the `elicitation` capability"),
    );
  });
});

test("uncaught errors: the message in the result, the stack on stderr only", () => {
  bind(
    { context: fakeContext([]) },
    {
      tools: {
        boom: {
          run() {
            throw new Error("kaboom");
          },
        },
      },
      resources: {
        "x://broken": {
          name: "broken",
          read() {
            throw new Error("unreadable");
          },
        },
      },
    },
  );
  const [, stderr] = capturingStderr(() =>
    assert.throws(
      () => tools.callTool("boom", "{}"),
      (e) => {
        assert.deepEqual(e, { message: "kaboom", content: [] });
        return true;
      },
    ),
  );
  assert.equal(stderr.length, 1);
  assert.match(stderr[0], /^tool "boom" failed: Error: kaboom\n/);
  assert.match(stderr[0], /sdk\.test\.mjs/, "the stack names where it was thrown");

  const failed = exportError(() => resources.readResource("x://broken"));
  assert.deepEqual({ tag: failed.tag, val: failed.val }, { tag: "failed", val: "unreadable" });
  assert.match(failed.stderr[0], /^resource "x:\/\/broken" failed: Error: unreadable\n.*sdk\.test\.mjs/s);
});

test("URI templates match {name} and {+name}, percent-decoded", () => {
  const vars = (template, uri) => new UriTemplate(template).match(uri);
  assert.deepEqual(vars("test://template/{id}/data", "test://template/123/data"), { id: "123" });
  assert.deepEqual(vars("db://{table}/{row}.json", "db://users/42.json"), { table: "users", row: "42" });
  assert.deepEqual(vars("note://{name}", "note://my%20list%C3%A9"), { name: "my listé" });
  assert.deepEqual(vars("file:///{+path}", "file:///a/b%20c.txt"), { path: "a/b c.txt" });
  assert.deepEqual(vars("fixed://x", "fixed://x"), {});
  for (const [template, uri] of [
    ["test://template/{id}/data", "test://template/123"],
    ["test://template/{id}/data", "test://template//data"],
    ["test://template/{id}/data", "test://template/1/2/data"],
    ["test://template/{id}/data", "test://template/1/data/x"],
    ["note://{name}", "notes://a"],
    ["note://{name}", "note://a/b"],
    ["note://{name}", "note://a?b"],
    ["note://{name}", "note://a#b"],
    ["note://{name}", "note://"],
    ["note://{name}", "note://bad%2"],
    ["note://{name}", "note://bad%zz"],
    ["file:///{+path}", "file:///"],
    ["fixed://x", "fixed://xy"],
  ]) {
    assert.equal(vars(template, uri), undefined, `${template} against ${uri}`);
  }
  assert.deepEqual(new UriTemplate("db://{table}/{+rest}").variables, ["table", "rest"]);
});

test("malformed URI templates say why", () => {
  const problem = (template) => {
    try {
      new UriTemplate(template);
    } catch (error) {
      return error.message;
    }
    assert.fail(`${template} parsed`);
  };
  assert.equal(problem("a://{x"), "URI template `a://{x` has a `{` without a matching `}`");
  assert.equal(problem("a://x}"), "URI template `a://x}` has a `}` without a matching `{`");
  assert.equal(problem("a://{}"), "URI template `a://{}` has an empty `{}`");
  assert.match(problem("a://{#x}"), /only `\{name\}` and `\{\+name\}` expressions/);
  assert.match(problem("a://{x,y}"), /only `\{name\}` and `\{\+name\}` expressions/);
  assert.match(problem("a://{x*}"), /only `\{name\}` and `\{\+name\}` expressions/);
  assert.match(problem("a://{x}{y}"), /right after another variable/);
  assert.match(problem("a://{x}/{x}"), /uses `\{x\}` twice/);
  assert.match(problem("a://{a b}"), /variable name `a b`/);
  assert.equal(problem(""), "URI template `` is empty");
});

test("resources: fixed URIs first, then templates; read results become contents", () => {
  const png = new Uint8Array([137, 80, 78, 71]);
  bind(
    { context: fakeContext([]) },
    {
      resources: {
        "r://text": { name: "text", title: "Text", mimeType: "text/plain", size: 5, read: () => "hello" },
        "r://bytes": { name: "bytes", mimeType: "image/png", read: () => png },
        "r://object": { name: "object", read: () => ({ n: 1 }) },
        "r://contents": { name: "contents", mimeType: "text/plain", read: () => ({ text: "hi", mimeType: "text/x" }) },
        "r://list": {
          name: "list",
          read: () => [
            { text: "one", uri: "r://list#1" },
            { blob: "AQID", mimeType: "application/octet-stream" },
          ],
        },
        "r://nothing": { name: "nothing", read: () => undefined },
        "notes://fixed": { name: "fixed", read: () => "the fixed one" },
      },
      resourceTemplates: {
        "notes://{name}": {
          name: "note",
          description: "A note",
          mimeType: "text/markdown",
          read: ({ name }, ctx) => {
            assert.equal(typeof ctx.info, "function");
            if (name === "missing") throw new ExportError("not-found", "no such note");
            return `# ${name}`;
          },
        },
      },
    },
  );
  assert.deepEqual(resources.describeResources(), {
    templates: [
      {
        uriTemplate: "notes://{name}",
        name: "note",
        title: undefined,
        description: "A note",
        mimeType: "text/markdown",
      },
    ],
    listsResources: true,
  });
  const listed = resources.listResources();
  assert.deepEqual(listed[0], {
    uri: "r://text",
    name: "text",
    title: "Text",
    description: undefined,
    mimeType: "text/plain",
    size: 5n,
  });
  assert.deepEqual(
    listed.map((r) => r.uri),
    ["r://text", "r://bytes", "r://object", "r://contents", "r://list", "r://nothing", "notes://fixed"],
  );

  const read = (uri) => resources.readResource(uri);
  assert.deepEqual(read("r://text"), [{ uri: "r://text", mimeType: "text/plain", body: text("hello") }]);
  assert.deepEqual(read("r://bytes"), [{ uri: "r://bytes", mimeType: "image/png", body: { tag: "blob", val: png } }]);
  assert.deepEqual(read("r://object"), [{ uri: "r://object", mimeType: "application/json", body: text('{"n":1}') }]);
  assert.deepEqual(read("r://contents"), [{ uri: "r://contents", mimeType: "text/x", body: text("hi") }]);
  assert.deepEqual(read("r://list"), [
    { uri: "r://list#1", mimeType: undefined, body: text("one") },
    { uri: "r://list", mimeType: "application/octet-stream", body: { tag: "blob", val: new Uint8Array([1, 2, 3]) } },
  ]);
  assert.deepEqual(read("r://nothing"), []);
  assert.deepEqual(read("notes://fixed"), [{ uri: "notes://fixed", mimeType: undefined, body: text("the fixed one") }]);
  assert.deepEqual(read("notes://my%20list"), [
    { uri: "notes://my%20list", mimeType: "text/markdown", body: text("# my list") },
  ]);

  const missing = exportError(() => read("notes://missing"));
  assert.deepEqual([missing.tag, missing.val, missing.stderr], ["not-found", "no such note", []]);
  const unknown = exportError(() => read("other://x"));
  assert.deepEqual([unknown.tag, unknown.val], ["not-found", "no resource other://x"]);
});

test("resources listed per request join the fixed ones", () => {
  bind(
    { context: fakeContext([]) },
    {
      resources: { "a://fixed": { name: "fixed", read: () => "" } },
      listResources: (ctx) => [{ uri: "a://listed", name: "listed", mimeType: "text/plain" }],
    },
  );
  assert.deepEqual(
    resources.listResources().map((r) => [r.uri, r.mimeType]),
    [
      ["a://fixed", undefined],
      ["a://listed", "text/plain"],
    ],
  );
  bind({ context: fakeContext([]) }, { listResources: () => [] });
  assert.equal(resources.describeResources().listsResources, true);
});

test("bad resource declarations are refused naming them", () => {
  assert.throws(() => bind({}, { resources: { "a://x": { read() {} } } }), /resource "a:\/\/x" has no name/);
  assert.throws(() => bind({}, { resources: { "a://x": { name: "x" } } }), /resource "a:\/\/x" has no read function/);
  assert.throws(
    () => bind({}, { resourceTemplates: { "a://{x": { name: "x", read() {} } } }),
    /URI template `a:\/\/\{x` has a `\{` without/,
  );
  assert.throws(
    () => bind({}, { resourceTemplates: { "a://{x}": { name: "x", read() {}, complete: { y: () => [] } } } }),
    /resource template "a:\/\/\{x\}" completes `y`, which is not one of its variables/,
  );
});

test("a plugin without resources, prompts or completions serves none", () => {
  bind({ context: fakeContext([]) }, { tools: { t: { run() {} } } });
  assert.deepEqual(resources.describeResources(), { templates: [], listsResources: false });
  assert.deepEqual(resources.listResources(), []);
  assert.deepEqual(prompts.listPrompts(), []);
  const prompt = exportError(() => prompts.getPrompt("greet", []));
  assert.deepEqual([prompt.tag, prompt.val], ["not-found", "no prompt named greet"]);
  const completion = exportError(() => completions.complete({ tag: "prompt", val: "greet" }, "name", "", []));
  assert.deepEqual([completion.tag, completion.val], ["not-found", "no prompt named greet"]);
  const template = exportError(() => completions.complete({ tag: "resource-template", val: "a://{x}" }, "x", "", []));
  assert.deepEqual([template.tag, template.val], ["not-found", "no resource template a://{x}"]);
});

test("prompt arguments: descriptions or objects, a `?` for optional", () => {
  bind(
    { context: fakeContext([]) },
    {
      prompts: {
        greet: {
          title: "Greeting",
          description: "Greet someone",
          arguments: {
            name: "Who to greet",
            "style?": "How",
            tone: { description: "The tone", title: "Tone", required: false },
            "mood?": { description: "The mood" },
          },
          get: () => "",
        },
        bare: { get: () => "" },
      },
    },
  );
  assert.deepEqual(prompts.listPrompts(), [
    {
      name: "greet",
      title: "Greeting",
      description: "Greet someone",
      arguments: [
        { name: "name", title: undefined, description: "Who to greet", required: true },
        { name: "style", title: undefined, description: "How", required: false },
        { name: "tone", title: "Tone", description: "The tone", required: false },
        { name: "mood", title: undefined, description: "The mood", required: false },
      ],
    },
    { name: "bare", title: undefined, description: undefined, arguments: [] },
  ]);
});

test("bad prompt declarations are refused naming them", () => {
  const refused = (declared, pattern) => assert.throws(() => bind({}, { prompts: declared }), pattern);
  refused({ "a prompt": { get() {} } }, /prompt name "a prompt": letters, digits/);
  refused({ p: {} }, /prompt "p" has no get function/);
  refused({ p: { arguments: { a: "A", "a?": "A" }, get() {} } }, /prompt "p" declares the argument `a` twice/);
  refused({ p: { arguments: { "a?": { required: true } }, get() {} } }, /`a\?` ends in `\?` but says required: true/);
  refused({ p: { arguments: { a: 3 }, get() {} } }, /the argument `a` is a description or/);
  refused(
    { p: { arguments: { a: "A" }, get() {}, complete: { b: () => [] } } },
    /completes `b`, which is not one of its arguments/,
  );
});

test("prompts render strings, messages, lists and {description, messages}", () => {
  const image = new Uint8Array([1, 2]);
  bind(
    { context: fakeContext([]) },
    {
      prompts: {
        plain: { arguments: { name: "Who" }, get: ({ name }) => `Hello, ${name}!` },
        one: { get: () => assistantText("Sure.") },
        list: {
          get: () => [
            "first",
            userText("second"),
            { role: "assistant", content: "third" },
            { role: "user", content: { type: "image", data: image, mimeType: "image/png" } },
          ],
        },
        described: {
          arguments: { "topic?": "A topic" },
          get: (args) => ({ description: `about ${args.topic ?? "nothing"}`, messages: ["go"] }),
        },
        wrong: { get: () => 42 },
        badRole: { get: () => [{ role: "system", content: "x" }] },
      },
    },
  );
  const user = (val) => ({ role: "user", content: text(val) });
  assert.deepEqual(prompts.getPrompt("plain", [["name", "Ada"], ["extra", "ignored"]]), {
    description: undefined,
    messages: [user("Hello, Ada!")],
  });
  assert.deepEqual(prompts.getPrompt("one", []).messages, [{ role: "assistant", content: text("Sure.") }]);
  assert.deepEqual(prompts.getPrompt("list", []).messages, [
    user("first"),
    user("second"),
    { role: "assistant", content: text("third") },
    { role: "user", content: { tag: "image", val: { data: image, mimeType: "image/png" } } },
  ]);
  assert.deepEqual(prompts.getPrompt("described", [["topic", "cats"]]), {
    description: "about cats",
    messages: [user("go")],
  });
  const missing = exportError(() => prompts.getPrompt("plain", []));
  assert.deepEqual([missing.tag, missing.val], ["invalid-params", "prompt `plain` needs the argument `name`"]);
  const wrong = exportError(() => prompts.getPrompt("wrong", []));
  assert.equal(wrong.tag, "failed");
  assert.match(wrong.val, /prompt "wrong" returned 42: expected a string, a message/);
  assert.match(exportError(() => prompts.getPrompt("badRole", [])).val, /a message is a string or \{role/);
});

test("Completion: at most 100 values, and byPrefix", () => {
  const many = new Completion(Array.from({ length: 150 }, (_, i) => String(i)));
  assert.equal(many.values.length, 100);
  assert.equal(many.total, 150);
  assert.equal(many.hasMore, true);
  assert.deepEqual({ ...new Completion(["a", "b"]) }, { values: ["a", "b"], total: 2, hasMore: false });
  assert.deepEqual(Completion.byPrefix("gr", ["groceries", "ideas", "grades"]).values, ["groceries", "grades"]);
  assert.deepEqual(Completion.byPrefix("", ["a", "b"]).values, ["a", "b"]);
});

test("completions go to the prompt's argument or the template's variable", () => {
  const seen = [];
  bind(
    { context: fakeContext([]) },
    {
      prompts: {
        greet: {
          arguments: { name: "Who", "style?": "How" },
          get: () => "",
          complete: {
            style: (value, context, ctx) => {
              seen.push([value, context, typeof ctx.info]);
              return Completion.byPrefix(value, ["formal", "friendly", "funny"]);
            },
          },
        },
        odd: {
          arguments: { a: "A", b: "B", c: "C" },
          get: () => "",
          complete: {
            a: () => ({ values: ["x"], total: 10, hasMore: true }),
            b: () => 7,
            c: () => {
              throw new Error("no ideas");
            },
          },
        },
      },
      resourceTemplates: {
        "notes://{name}": {
          name: "note",
          read: () => "",
          complete: { name: (value) => ["alpha", "beta", "gamma"].filter((c) => c.startsWith(value)) },
        },
      },
    },
  );
  const prompt = { tag: "prompt", val: "greet" };
  assert.deepEqual(completions.complete(prompt, "style", "f", [["name", "Ada"]]), {
    values: ["formal", "friendly", "funny"],
    total: 3,
    hasMore: false,
  });
  assert.deepEqual(seen, [["f", { name: "Ada" }, "function"]]);
  assert.deepEqual(completions.complete(prompt, "name", "A", []), { values: [], total: undefined, hasMore: false });
  const unknownArgument = exportError(() => completions.complete(prompt, "color", "", []));
  assert.deepEqual(
    [unknownArgument.tag, unknownArgument.val],
    ["invalid-params", "prompt `greet` has no argument `color`"],
  );

  const template = { tag: "resource-template", val: "notes://{name}" };
  assert.deepEqual(completions.complete(template, "name", "b", []), { values: ["beta"], total: 1, hasMore: false });
  const unknownVariable = exportError(() => completions.complete(template, "id", "", []));
  assert.deepEqual(
    [unknownVariable.tag, unknownVariable.val],
    ["invalid-params", "resource template `notes://{name}` has no variable `id`"],
  );

  const odd = { tag: "prompt", val: "odd" };
  assert.deepEqual(completions.complete(odd, "a", "", []), { values: ["x"], total: 10, hasMore: true });
  const wrong = exportError(() => completions.complete(odd, "b", "", []));
  assert.deepEqual([wrong.tag, wrong.stderr.length], ["failed", 1]);
  assert.match(wrong.val, /returned 7: expected a list of strings or \{values, total, hasMore\}/);
  const thrown = exportError(() => completions.complete(odd, "c", "", []));
  assert.deepEqual([thrown.tag, thrown.val], ["failed", "no ideas"]);
  assert.match(thrown.stderr[0], /^completion of `c` failed: Error: no ideas/);
});

// What `body(ctx)` returns when run by a tool of a plugin bound to these
// interfaces (and a fake context); what it throws becomes the tool error.
function withContext(bound, body) {
  let value;
  bind({ context: fakeContext([]), ...bound }, { tools: { t: { run: (_args, ctx) => (value = body(ctx), "") } } });
  tools.callTool("t", "{}");
  return value;
}

test("http: requests are converted, responses have helpers", () => {
  const sent = [];
  const http = {
    send(request) {
      sent.push(request);
      return {
        status: 404,
        headers: [
          ["content-type", "application/json"],
          ["x-many", "1"],
          ["x-many", "2"],
        ],
        body: new TextEncoder().encode('{"error":"gone"}'),
        url: "https://api.example.com/final",
      };
    },
  };
  const answer = withContext({ http }, (ctx) => {
    const response = ctx.http({ url: "https://api.example.com/a", headers: { accept: "application/json" } });
    let failure;
    try {
      response.errorForStatus();
    } catch (error) {
      failure = error;
    }
    ctx.http({
      method: "POST",
      url: "https://api.example.com/b",
      headers: [["x-one", "1"]],
      json: { a: 1 },
      timeoutMs: 500,
    });
    ctx.http({ method: "PUT", url: "https://api.example.com/c", body: new Uint8Array([1]) });
    return {
      status: response.status,
      ok: response.isSuccess(),
      type: response.header("Content-Type"),
      many: response.header("x-many"),
      absent: response.header("x-absent") ?? null,
      text: response.text(),
      json: response.json(),
      url: response.url,
      failure: [failure instanceof ContextError, failure.kind, failure.message],
    };
  });
  assert.deepEqual(answer, {
    status: 404,
    ok: false,
    type: "application/json",
    many: "1",
    absent: null,
    text: '{"error":"gone"}',
    json: { error: "gone" },
    url: "https://api.example.com/final",
    failure: [true, "failed", "failed: https://api.example.com/final answered with status 404"],
  });
  assert.deepEqual(sent[0], {
    method: "GET",
    url: "https://api.example.com/a",
    headers: [["accept", "application/json"]],
    body: undefined,
    timeoutMs: undefined,
  });
  assert.deepEqual(sent[1], {
    method: "POST",
    url: "https://api.example.com/b",
    headers: [
      ["x-one", "1"],
      ["content-type", "application/json"],
    ],
    body: new TextEncoder().encode('{"a":1}'),
    timeoutMs: 500,
  });
  assert.deepEqual(sent[2].body, new Uint8Array([1]));
});

test("http: a successful response passes errorForStatus; bodies that are not JSON say so", () => {
  const http = {
    send: () => ({ status: 200, headers: [], body: new TextEncoder().encode("plain"), url: "http://x/" }),
  };
  const answer = withContext({ http }, (ctx) => {
    const response = ctx.http({ url: "http://x/" });
    assert.equal(response.errorForStatus(), response);
    try {
      response.json();
    } catch (error) {
      return [error.kind, error.message.startsWith("invalid-input: the response from http://x/ is not JSON")];
    }
  });
  assert.deepEqual(answer, ["invalid-input", true]);
  const denied = {
    send() {
      throw { payload: { tag: "denied", val: "http://y/ is not allowed" } };
    },
  };
  capturingStderr(() =>
    assert.throws(
      () => withContext({ http: denied }, (ctx) => ctx.http({ url: "http://y/" })),
      (e) => e.message === "denied: http://y/ is not allowed",
    ),
  );
});

test("the key-value handle works on one namespace", () => {
  const entries = new Map();
  const calls = [];
  const keyvalue = {
    get: (namespace, key) => entries.get(`${namespace}/${key}`),
    set: (namespace, key, value, ttl) => {
      calls.push(["set", namespace, key, ttl]);
      entries.set(`${namespace}/${key}`, value);
    },
    delete: (namespace, key) => entries.delete(`${namespace}/${key}`),
    listKeys: (namespace, prefix) =>
      [...entries.keys()]
        .filter((k) => k.startsWith(`${namespace}/${prefix}`))
        .map((k) => k.slice(namespace.length + 1))
        .sort(),
    increment: (namespace, key, delta) => {
      assert.equal(typeof delta, "bigint");
      const next = BigInt(new TextDecoder().decode(entries.get(`${namespace}/${key}`) ?? new Uint8Array([48]))) + delta;
      entries.set(`${namespace}/${key}`, new TextEncoder().encode(String(next)));
      return next;
    },
  };
  const answer = withContext({ keyvalue }, (ctx) => {
    const store = ctx.keyvalue("cache");
    store.set("a", "b");
    store.set("bytes", new Uint8Array([1, 2]), 1000);
    store.setJson("doc", { key: "a" });
    return {
      text: store.getText("a"),
      bytes: [...store.get("bytes")],
      json: store.getJson("doc"),
      count: store.increment("count", 2),
      again: store.increment("count"),
      keys: store.keys(),
      prefixed: store.keys("b"),
      deleted: store.delete("a"),
      after: store.get("a") ?? null,
      textAfter: store.getText("a") ?? null,
      jsonAfter: store.getJson("a") ?? null,
    };
  });
  assert.deepEqual(answer, {
    text: "b",
    bytes: [1, 2],
    json: { key: "a" },
    count: 2,
    again: 3,
    keys: ["a", "bytes", "count", "doc"],
    prefixed: ["bytes"],
    deleted: true,
    after: null,
    textAfter: null,
    jsonAfter: null,
  });
  assert.deepEqual(calls, [
    ["set", "cache", "a", undefined],
    ["set", "cache", "bytes", 1000n],
    ["set", "cache", "doc", undefined],
  ]);
  const notJson = withContext({ keyvalue }, (ctx) => {
    try {
      ctx.keyvalue("cache").getJson("bytes");
    } catch (error) {
      return error.message;
    }
  });
  assert.match(notJson, /^invalid-input: the value under `bytes` is not JSON/);
});

test("the catalog answers plain objects", () => {
  const hostCatalog = {
    listResources: () => [
      { uri: "a://1", name: "one", title: undefined, description: "One", mimeType: "text/plain", size: 3n },
    ],
    listResourceTemplates: () => [
      { uriTemplate: "a://{x}", name: "x", title: undefined, description: undefined, mimeType: undefined },
    ],
    readResource: (uri) => [
      { uri, mimeType: "text/plain", body: { tag: "text", val: "hello" } },
      { uri, mimeType: undefined, body: { tag: "blob", val: new Uint8Array([1]) } },
    ],
    listPrompts: () => [
      {
        name: "greet",
        title: undefined,
        description: "Greet",
        arguments: [{ name: "name", title: undefined, description: "Who", required: true }],
      },
    ],
    getPrompt: (name, args) => ({
      description: `${name} with ${args}`,
      messages: [
        { role: "user", content: { tag: "text", val: "Hello" } },
        { role: "assistant", content: { tag: "image", val: { data: new Uint8Array([2]), mimeType: "image/png" } } },
        {
          role: "user",
          content: {
            tag: "resource-link",
            val: { uri: "a://1", name: "one", title: undefined, description: undefined, mimeType: undefined, size: 3n },
          },
        },
        {
          role: "user",
          content: {
            tag: "embedded-resource",
            val: { uri: "a://1", mimeType: "text/plain", body: { tag: "text", val: "hi" } },
          },
        },
      ],
    }),
  };
  const answer = withContext({ hostCatalog }, (ctx) => {
    const catalog = ctx.catalog;
    return {
      resources: catalog.listResources(),
      templates: catalog.listResourceTemplates(),
      read: catalog.readResource("a://1"),
      prompts: catalog.listPrompts(),
      prompt: catalog.getPrompt("greet", { name: "Ada", n: 3 }),
    };
  });
  assert.deepEqual(answer.resources, [
    { uri: "a://1", name: "one", title: undefined, description: "One", mimeType: "text/plain", size: 3 },
  ]);
  assert.equal(answer.templates[0].uriTemplate, "a://{x}");
  assert.deepEqual(answer.read, [
    { uri: "a://1", mimeType: "text/plain", text: "hello" },
    { uri: "a://1", mimeType: undefined, blob: new Uint8Array([1]) },
  ]);
  assert.deepEqual(answer.prompts[0].arguments[0], {
    name: "name",
    title: undefined,
    description: "Who",
    required: true,
  });
  assert.deepEqual(answer.prompt, {
    description: 'greet with {"name":"Ada","n":"3"}',
    messages: [
      { role: "user", content: { type: "text", text: "Hello" } },
      { role: "assistant", content: { type: "image", data: new Uint8Array([2]), mimeType: "image/png" } },
      {
        role: "user",
        content: {
          type: "resource_link",
          uri: "a://1",
          name: "one",
          title: undefined,
          description: undefined,
          mimeType: undefined,
          size: 3,
        },
      },
      { role: "user", content: { type: "resource", resource: { uri: "a://1", mimeType: "text/plain", text: "hi" } } },
    ],
  });
});

test("secrets, and capabilities the plugin was built without", () => {
  const secrets = { get: (name) => `value of ${name}` };
  assert.equal(withContext({ secrets }, (ctx) => ctx.secret("token")), "value of token");
  for (const [capability, use] of [
    ["http", (ctx) => ctx.http({ url: "http://x/" })],
    ["secrets", (ctx) => ctx.secret("token")],
    ["keyvalue", (ctx) => ctx.keyvalue("cache").get("a")],
    ["host-catalog", (ctx) => ctx.catalog.listPrompts()],
  ]) {
    const kind = withContext({}, (ctx) => {
      try {
        use(ctx);
      } catch (error) {
        return [error instanceof ContextError, error.kind, error.message];
      }
    });
    assert.deepEqual(kind.slice(0, 2), [true, "not-declared"], capability);
    assert.match(kind[2], new RegExp(`built without the \`${capability}\` capability`));
  }
});

// A context whose spans are recorded in `calls`; handles count up from 7
// (`openSpan` answers `refuse ? undefined : handle`).
function tracingContext(calls, { refuse = false, traceId } = {}) {
  let next = 7;
  return {
    ...fakeContext(calls),
    openSpan(name, attributes) {
      const handle = refuse ? undefined : next++;
      calls.push(["open", name, attributes, handle]);
      return handle;
    },
    endSpan: (span) => calls.push(["end", span]),
    traceId: () => traceId,
  };
}

test("span: opened with string attributes, ended when fn returns or throws", () => {
  const calls = [];
  const answer = withContext({ context: tracingContext(calls) }, (ctx) => {
    const inner = ctx.span("parse", { rows: 10, strict: true, note: "n" }, () => {
      calls.push(["body"]);
      return ctx.span("inner", () => "result");
    });
    const error = new Error("nope");
    let thrown;
    try {
      ctx.span("fails", { step: 1 }, () => {
        throw error;
      });
    } catch (caught) {
      thrown = caught;
    }
    return [inner, thrown === error];
  });
  assert.deepEqual(answer, ["result", true]);
  assert.deepEqual(calls, [
    ["open", "parse", [["rows", "10"], ["strict", "true"], ["note", "n"]], 7],
    ["body"],
    ["open", "inner", [], 8],
    ["end", 8],
    ["end", 7],
    ["open", "fails", [["step", "1"]], 9],
    ["end", 9],
  ]);
});

test("startSpan: open until end(), which only ends it once", () => {
  const calls = [];
  const open = withContext({ context: tracingContext(calls) }, (ctx) => {
    const span = ctx.startSpan("fetch", { url: "http://x/" });
    const before = span.isOpen;
    ctx.info("inside");
    span.end();
    span.end();
    ctx.startSpan("bare").end();
    return [before, span.isOpen];
  });
  assert.deepEqual(open, [true, false]);
  assert.deepEqual(calls, [
    ["open", "fetch", [["url", "http://x/"]], 7],
    ["info", "inside"],
    ["end", 7],
    ["open", "bare", [], 8],
    ["end", 8],
  ]);
  const refused = withContext({}, (ctx) => {
    try {
      ctx.startSpan("bad", ["not", "an", "object"]);
    } catch (error) {
      return error instanceof TypeError;
    }
  });
  assert.equal(refused, true);
});

test("span: without a handle it does nothing but run fn", () => {
  const calls = [];
  const answer = withContext({ context: tracingContext(calls, { refuse: true }) }, (ctx) => {
    const value = ctx.span("one too many", { n: 65 }, () => 42);
    const span = ctx.startSpan("still none");
    const open = span.isOpen;
    span.end();
    let thrown;
    try {
      ctx.span("throws", () => {
        throw new RangeError("x");
      });
    } catch (error) {
      thrown = error instanceof RangeError;
    }
    return [value, open, thrown];
  });
  assert.deepEqual(answer, [42, false, true]);
  assert.deepEqual(calls, [
    ["open", "one too many", [["n", "65"]], undefined],
    ["open", "still none", [], undefined],
    ["open", "throws", [], undefined],
  ]);
});

test("the trace id passes through", () => {
  const id = "4bf92f3577b34da6a3ce929d0e0e4736";
  assert.equal(withContext({ context: tracingContext([], { traceId: id }) }, (ctx) => ctx.traceId), id);
  assert.equal(withContext({ context: tracingContext([]) }, (ctx) => ctx.traceId), undefined);
});

test("errors are recognised across copies of the SDK", async () => {
  // A second instance of the module defining the errors (mcp-plugin.js only
  // re-exports them, so a query on it would still share errors.js).
  const copy = await import("../errors.js?copy");
  assert.notEqual(copy.ExportError, ExportError);
  bind(
    { context: fakeContext([]) },
    {
      resources: {
        "a://x": {
          name: "x",
          read() {
            throw new copy.ExportError("not-found", "gone");
          },
        },
      },
    },
  );
  const error = exportError(() => resources.readResource("a://x"));
  assert.deepEqual([error.tag, error.val, error.stderr], ["not-found", "gone", []]);
  assert.ok(new copy.ContextError("denied", "no") instanceof ContextError);
  assert.throws(() => new ExportError("gone", "x"), /unknown export error kind "gone"/);
});

test("sql: values bind by kind and rows come back as JavaScript values", () => {
  const seen = [];
  const sql = {
    query(database, statement, params) {
      seen.push([database, statement, params]);
      return {
        columns: ["id", "big", "doc", "name", "gone"],
        rows: [[
          { tag: "integer", val: 7n },
          { tag: "integer", val: 9007199254740993n },
          { tag: "json", val: '{"a":1}' },
          { tag: "text", val: "Ada" },
          { tag: "null" },
        ]],
        truncated: false,
      };
    },
    execute: () => 3n,
    transaction: (database, statements) => {
      seen.push([database, statements]);
      return [1n, 2n];
    },
  };
  const answer = withContext({ sql }, (ctx) => {
    const db = ctx.sql("crm");
    const rows = db.query("SELECT ?1", [1, 2.5, 3n, "x", null, true, new Uint8Array([1]), { k: 1 }]);
    return {
      rows: rows.rows,
      objects: rows.objects(),
      changed: db.execute("DELETE FROM t"),
      each: db.transaction([["INSERT ?1", [1]], ["UPDATE t SET a = 1"]]),
    };
  });
  assert.deepEqual(
    seen[0][2].map((p) => p.tag),
    ["integer", "real", "integer", "text", "null", "boolean", "blob", "json"],
  );
  assert.equal(seen[0][2][0].val, 1n);
  assert.deepEqual(answer.rows, [[7, 9007199254740993n, { a: 1 }, "Ada", null]]);
  assert.equal(answer.objects[0].name, "Ada");
  assert.equal(answer.changed, 3);
  assert.deepEqual(answer.each, [1, 2]);
  assert.deepEqual(seen[1][1][1], { sql: "UPDATE t SET a = 1", params: [] });
});

test("grant: what the caller may do, with its scope parsed", () => {
  const context = fakeContext([]);
  context.grant = (name) => ({ granted: name === "sql", reason: undefined, scope: '{"write":false}' });
  let grant;
  bind({ context }, { tools: { t: { run: (_args, ctx) => ((grant = ctx.grant("sql")), "") } } });
  tools.callTool("t", "{}");
  assert.deepEqual(grant, { granted: true, reason: undefined, scope: { write: false } });
});
