// Format and query JSON, and stash documents for the session: an example
// plugin in JavaScript. Shows declarative input specs, structured results,
// tool errors, logging, progress, session state and an elicitation.

function parse(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON: ${error.message}`);
  }
}

// `a.b[0].c` -> ["a", "b", 0, "c"]
function steps(path) {
  const out = [];
  for (const part of path.split(".").filter((p) => p.length)) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!match) throw new Error(`bad path segment "${part}"`);
    if (match[1]) out.push(match[1]);
    for (const index of match[2].matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

export default {
  tools: {
    format: {
      description: "Pretty-print (or, with indent 0, minify) a JSON document.",
      annotations: { readOnly: true },
      input: {
        json: { type: "string", description: "The JSON text" },
        indent: { type: "integer", minimum: 0, maximum: 8, default: 2 },
      },
      run({ json, indent = 2 }) {
        return JSON.stringify(parse(json), null, indent);
      },
    },

    query: {
      description: "The value at a path such as `items[0].name` in a JSON document.",
      annotations: { readOnly: true },
      input: { json: "string", path: "string" },
      output: { found: "boolean", "value?": "any" },
      run({ json, path }, ctx) {
        let value = parse(json);
        const route = steps(path);
        for (const [i, step] of route.entries()) {
          ctx.progress(i + 1, route.length, `step ${step}`);
          if (value === null || typeof value !== "object" || !(step in value)) return { found: false };
          value = value[step];
        }
        return { found: true, value };
      },
    },

    stash: {
      description: "Keep a JSON document under a name for the rest of the session.",
      input: { name: "string", json: "string" },
      run({ name, json }, ctx) {
        ctx.session.set(`doc:${name}`, parse(json));
        const count = ctx.session.keys().length;
        ctx.info(`stashed ${name}; ${count} document(s) in the session`);
        return `stashed ${name} (${count} in the session)`;
      },
    },

    unstash: {
      description: "A document stashed earlier in the session.",
      annotations: { readOnly: true },
      input: { name: "string" },
      run({ name }, ctx) {
        const doc = ctx.session.get(`doc:${name}`);
        if (doc === undefined) throw new Error(`nothing stashed as ${name}`);
        return { name, document: doc };
      },
    },

    clear_stash: {
      description: "Forget every stashed document, after the user confirms.",
      annotations: { destructive: true },
      input: {},
      run(_args, ctx) {
        const names = ctx.session.keys();
        const answer = ctx.elicit(`Forget ${names.length} stashed document(s)?`, {
          confirm: { type: "boolean", description: "Yes, forget them" },
        });
        if (answer.action !== "accept" || !answer.content.confirm) return "kept everything";
        for (const key of names) ctx.session.delete(key);
        return `forgot ${names.length} document(s)`;
      },
    },
  },
};
