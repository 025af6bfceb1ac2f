// The {{name}} plugin: tools written in JavaScript.
// Build with ./build.sh; see docs/writing-plugins-js.md for the SDK.

export default {
  tools: {
    greet: {
      description: "Greet someone, counting the greetings of this session.",
      annotations: { readOnly: true },
      input: { name: { type: "string", minLength: 1, description: "Who to greet" } },
      run({ name }, ctx) {
        let count = 1;
        try {
          count = (ctx.session.get("greetings") ?? 0) + 1;
          ctx.session.set("greetings", count);
        } catch {
          // no session for this request: count from one
        }
        ctx.info(`greeting ${name} (greeting ${count} of this session)`);
        return `Hello, ${name}! (greeting ${count})`;
      },
    },
  },
};
