/**
 * A call the journal already answers never starts or contacts its connector (review finding 10):
 * replaying a run and running a `keel test` case take an MCP tool's answer from the journal (or
 * capture the call) without spawning the server, counted by a wrapper that notes each start of
 * the real `@modelcontextprotocol/server-filesystem`; replaying an email send opens no connection
 * to the IMAP or SMTP server, counted by loopback relays in front of the real Dovecot and Postfix.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  RunbookTestRequest,
  RunGetRequest,
  RunReplayRequest,
  RunStartRequest,
  type RunTrace,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { startMailServers, type MailServers } from '../helpers/mailServers';
import { ModelServer } from '../helpers/modelServer';
import { REPO_ROOT, waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const FILESYSTEM_SERVER = join(
  REPO_ROOT,
  'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js',
);

/** Notes its own start in argv[2], then becomes the filesystem server for the folders after argv[3]. */
const COUNTING_WRAPPER = `import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
appendFileSync(process.argv[2], process.pid + '\\n');
const server = process.argv[3];
process.argv.splice(2, 2);
await import(pathToFileURL(server).href);
`;

let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;

async function start(): Promise<void> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

/** A new daemon on the same workspace: nothing of the first one's connectors is left running. */
async function restart(): Promise<void> {
  await daemon?.stop('test');
  daemon = null;
  await start();
}

async function runbook(name: string, steps: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'runbooks', `${name}.yaml`),
    `apiVersion: keel/v1\nname: ${name}\nrole: Tester\ndescription: Uses a connector.\nsteps:\n${steps}`,
  );
}

async function runToEnd(name: string, recordCassette?: string): Promise<RunTrace> {
  const started = await client.request(RunStartRequest, {
    runbook: name,
    inputs: {},
    ...(recordCassette ? { recordCassette } : {}),
  });
  return waitFor(
    `run ${started.id} to end`,
    async () => {
      const trace = await client.request(RunGetRequest, { id: started.id });
      return ['succeeded', 'failed'].includes(trace.run.status) ? trace : null;
    },
    30_000,
  );
}

beforeEach(async () => {
  dirs = await makeTempDirs('keel-lazy-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await dirs.cleanup();
});

describe('an MCP server the journal already answers for', () => {
  let model: ModelServer;
  beforeEach(async () => {
    model = await ModelServer.start();
  });
  afterEach(async () => {
    await model.close();
  });

  /** How many times the filesystem server was started. */
  const starts = async (): Promise<number> =>
    (await readFile(join(dirs.workspace, 'starts.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean)
      .length;

  it('is not started by a replay of a connector step and an agent, nor by a keel test case', async () => {
    const wrapper = join(dirs.workspace, 'counting-server.mjs');
    await writeFile(wrapper, COUNTING_WRAPPER);
    await mkdir(join(dirs.workspace, 'data'));
    await writeFile(join(dirs.workspace, 'data', 'hello.txt'), 'Hello from the workspace.\n');
    const command = [process.execPath, wrapper, join(dirs.workspace, 'starts.log'), FILESYSTEM_SERVER, '.'];
    await writeFile(
      join(dirs.workspace, 'keel.yaml'),
      `version: 1
models:
  endpoint: { baseUrl: ${model.baseUrl} }
  tiers:
    fast: { model: m }
connectors:
  files:
    use: mcp
    command: [${command.map((word) => JSON.stringify(word)).join(', ')}]
    cwd: data
    tools: { read_text_file: read }
`,
    );
    await runbook(
      'read',
      `  - id: read
    type: connector
    use: files
    action: read_text_file
    with: { path: hello.txt }
  - id: agent
    type: agent
    goal: Read hello.txt.
    tools: [files.read_text_file]
`,
    );
    await runbook(
      'capture',
      `  - id: read
    type: connector
    use: files
    action: read_text_file
    with: { path: hello.txt }
`,
    );
    model.enqueue(
      { toolCalls: [{ name: 'files_read_text_file', arguments: { path: 'hello.txt' } }] },
      { content: 'It says hello.' },
    );
    await start();
    const live = await runToEnd('read', 'runbooks/tests/read.cassette.json');
    expect(live.run.status, live.run.error ?? '').toBe('succeeded');
    expect(await starts()).toBe(1);

    await restart();
    const replay = await client.request(RunReplayRequest, { id: live.run.id, runbook: 'recorded' });
    expect(replay).toMatchObject({ status: 'succeeded', divergence: null, sideEffects: 0 });
    expect(await starts()).toBe(1);

    await writeFile(
      join(dirs.workspace, 'runbooks', 'tests', 'capture.cassette.json'),
      JSON.stringify({ version: 1, runbook: 'capture', recordedAt: new Date().toISOString(), entries: [] }),
    );
    await writeFile(
      join(dirs.workspace, 'runbooks', 'tests', 'read.test.yaml'),
      `runbook: capture
cases:
  - name: reads hello.txt
    cassette: capture.cassette.json
    expect:
      actions:
        - action: files.read_text_file
          with: { path: { equals: hello.txt } }
`,
    );
    const { results } = await client.request(RunbookTestRequest, { runbook: 'capture' });
    expect(results.map((r) => [r.case, r.passed, r.failures])).toEqual([['reads hello.txt', true, []]]);
    expect(await starts()).toBe(1);

    // An agent's test case offers the tools its cassette recorded: the server is not started to list them.
    await runbook(
      'ask',
      `  - id: agent
    type: agent
    goal: Say what hello.txt is for.
    tools: [files.read_text_file]
`,
    );
    model.enqueue({ content: 'It greets whoever opens the folder.' });
    const recorded = await runToEnd('ask', 'runbooks/tests/ask.cassette.json');
    expect(recorded.run.status, recorded.run.error ?? '').toBe('succeeded');
    expect(await starts()).toBe(2);
    await restart();
    await writeFile(
      join(dirs.workspace, 'runbooks', 'tests', 'ask.test.yaml'),
      `runbook: ask
cases:
  - name: the agent answers from what it was offered
    cassette: ask.cassette.json
    expect: { outcome: succeeded }
`,
    );
    const agent = await client.request(RunbookTestRequest, { runbook: 'ask' });
    expect(agent.results.map((r) => [r.case, r.passed, r.failures])).toEqual([
      ['the agent answers from what it was offered', true, []],
    ]);
    expect(await starts()).toBe(2);
  });
});

/** A loopback relay to `target` that counts the connections made to it. */
async function countingRelay(target: { host: string; port: number }): Promise<{
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let count = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    count++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    const upstream = connect(target.port, target.host);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}

describe('an email action the journal already answers for', () => {
  let mail: MailServers;
  beforeAll(async () => {
    mail = await startMailServers();
  });
  afterAll(async () => {
    await mail?.stop();
  });

  it('opens no IMAP or SMTP connection when its run is replayed', async () => {
    const imap = await countingRelay(mail.imap);
    const smtp = await countingRelay(mail.smtp);
    try {
      process.env.KEEL_LAZY_MAIL_PASSWORD = mail.users.alice!.password;
      await writeFile(
        join(dirs.workspace, 'keel.yaml'),
        `version: 1
connectors:
  mail:
    use: email@1
    imap: { host: 127.0.0.1, port: ${imap.port}, secure: false }
    smtp: { host: 127.0.0.1, port: ${smtp.port}, secure: false }
    user: ${mail.users.alice!.address}
    from: Alice <${mail.users.alice!.address}>
    credentials: { password: { env: KEEL_LAZY_MAIL_PASSWORD } }
approvals:
  actions:
    - { action: mail.send, decide: allow }
`,
      );
      await runbook(
        'send',
        `  - id: send
    type: connector
    use: mail
    action: send
    with: { to: bob@keel.test, subject: Replayed, text: Once. }
`,
      );
      await start();
      const live = await runToEnd('send');
      expect(live.run.status, live.run.error ?? '').toBe('succeeded');
      expect(smtp.connections()).toBeGreaterThan(0);

      await restart();
      const [imapBefore, smtpBefore] = [imap.connections(), smtp.connections()];
      const replay = await client.request(RunReplayRequest, { id: live.run.id, runbook: 'recorded' });
      expect(replay).toMatchObject({ status: 'succeeded', divergence: null, sideEffects: 0 });
      expect([imap.connections() - imapBefore, smtp.connections() - smtpBefore]).toEqual([0, 0]);
    } finally {
      delete process.env.KEEL_LAZY_MAIL_PASSWORD;
      await imap.close();
      await smtp.close();
    }
  });
});
