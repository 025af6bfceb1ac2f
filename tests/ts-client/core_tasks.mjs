// Drives the host with the TypeScript SDK's experimental tasks client (the
// 2025-11-25 tasks format) and prints what it saw as one JSON object.
//
// Usage: node core_tasks.mjs SDK_DIR stdio HOST_BINARY [HOST_ARGS...]
//        node core_tasks.mjs SDK_DIR http MCP_URL
// SDK_DIR is the installed @modelcontextprotocol/sdk package.

import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [sdkDir, transportKind, target, ...hostArgs] = process.argv.slice(2);
const sdk = (file) => import(pathToFileURL(path.join(sdkDir, 'dist/esm', file)).href);

const { Client } = await sdk('client/index.js');
const { StdioClientTransport } = await sdk('client/stdio.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
const { CallToolResultSchema, ElicitRequestSchema } = await sdk('types.js');

const client = new Client(
    { name: 'ts-tasks-client', version: '1.0.0' },
    { capabilities: { tasks: { list: {}, cancel: {}, requests: {} }, elicitation: { form: {} } } }
);
const elicitations = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
    elicitations.push(request.params);
    return { action: 'accept', content: { name: 'Ada' } };
});

const transport =
    transportKind === 'stdio'
        ? new StdioClientTransport({ command: target, args: hostArgs, stderr: 'inherit' })
        : new StreamableHTTPClientTransport(new URL(target));
await client.connect(transport);

const seen = {};
seen.tasksCapability = client.getServerCapabilities()?.tasks ?? null;
seen.countdownTaskSupport =
    (await client.listTools()).tools.find((t) => t.name === 'countdown')?.execution?.taskSupport ?? null;

/** Run a task-augmented call to its end: the kinds of messages, and the result's text. */
async function run(name, args) {
    const kinds = [];
    let text = null;
    let error = null;
    let taskId = null;
    const stream = client.experimental.tasks.callToolStream(
        { name, arguments: args },
        CallToolResultSchema,
        { task: { ttl: 60000 } }
    );
    for await (const message of stream) {
        kinds.push(message.type === 'taskStatus' ? `status:${message.task.status}` : message.type);
        if (message.type === 'taskCreated') taskId = message.task.taskId;
        if (message.type === 'result') text = message.result.content?.[0]?.text ?? null;
        if (message.type === 'error') error = String(message.error?.message ?? message.error);
    }
    return { kinds, text, error, taskId };
}

seen.countdown = await run('countdown', { seconds: 1, step_ms: 100 });
seen.listed = (await client.experimental.tasks.listTasks()).tasks.some(
    (t) => t.taskId === seen.countdown.taskId
);
seen.fetched = await client.experimental.tasks.getTask(seen.countdown.taskId);

// A long countdown, cancelled once it runs.
const long = client.experimental.tasks.callToolStream(
    { name: 'countdown', arguments: { seconds: 60, step_ms: 100 } },
    CallToolResultSchema,
    { task: { ttl: 60000 } }
);
for await (const message of long) {
    if (message.type === 'taskCreated') {
        seen.cancelled = (await client.experimental.tasks.cancelTask(message.task.taskId)).status;
        break;
    }
}

// A tool that asks the user: the question comes through tasks/result.
seen.elicited = await run('elicit_name', {});
seen.elicitations = elicitations.length;

// Without `task`, an ordinary result.
seen.plain = (await client.callTool({ name: 'countdown', arguments: { seconds: 0 } })).content[0].text;

console.log(JSON.stringify(seen));
await client.close();
process.exit(0);
