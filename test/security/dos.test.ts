/**
 * Denial of service: no input stalls or stops the daemon. Each test starts a real daemon process
 * on its real unix socket, sends it one kind of hostile input (notes that are slow to stem, a YAML
 * alias bomb, a runaway template, a runbook line built to make a pattern backtrack, an endless
 * request line, a flood of idle connections, a client
 * that dies mid-request) and proves that the daemon keeps answering within a second.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EmergencyStopRequest,
  IndexStatusRequest,
  MemorySearchRequest,
  ResumeRequest,
  RunbooksListRequest,
  RunGetRequest,
  RunStartRequest,
  StatusRequest,
  TrustGrantRequest,
  TrustStateRequest,
  type RunTrace,
} from '@keel/schemas';
import { SocketClient } from '../../daemon/src/rpc/socketClient';
import { writeNote } from '../helpers/memory';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';

/** The acceptance: the daemon answers (and the emergency stop acts) within this while under attack. */
const ANSWER_WITHIN_MS = 1_000;

let dirs: TempDirs;
let daemon: RunningDaemon | null;
let client: SocketClient;

// One daemon for every attack: each test also proves that the ones before it left it serving.
beforeAll(async () => {
  dirs = await makeTempDirs('keel-dos-');
  await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
  // Trusted, so runs start: what is shown here holds for a workspace the operator trusts.
  await runKeel(['trust', '--yes'], { cwd: dirs.workspace, runtime: dirs.runtime });
  daemon = await startDaemon(dirs.workspace, dirs.runtime);
  client = await authenticatedClient();
  // As the operator meets it: indexed and watching, so a new note is an event, not a rescan.
  await waitFor(
    'the initial index',
    async () => (await client.request(IndexStatusRequest)).state === 'ready',
  );
});

afterAll(async () => {
  await client?.close();
  if (daemon && daemon.process.exitCode === null) {
    daemon.process.kill('SIGKILL');
    await daemon.exited;
  }
  await dirs.cleanup();
});

async function lock(): Promise<{ socketPath: string; tokenPath: string }> {
  return JSON.parse(await readFile(join(dirs.workspace, '.keel', 'daemon.lock'), 'utf8')) as {
    socketPath: string;
    tokenPath: string;
  };
}

async function authenticatedClient(): Promise<SocketClient> {
  const { socketPath, tokenPath } = await lock();
  const token = (await readFile(tokenPath, 'utf8')).trim();
  return SocketClient.connectAndAuthenticate(socketPath, token, 'dos-test');
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/**
 * Asks for the daemon's status every 50 ms until `done` holds, and returns the slowest answer:
 * the daemon's responsiveness while it works through the hostile input.
 */
async function slowestAnswerUntil(what: string, done: () => Promise<boolean>, timeoutMs = 20_000) {
  let slowest = 0;
  await waitFor(
    what,
    async () => {
      const { ms } = await timed(() => client.request(StatusRequest));
      slowest = Math.max(slowest, ms);
      return done();
    },
    timeoutMs,
  );
  return slowest;
}

async function finds(query: string, path: string): Promise<boolean> {
  const { results } = await client.request(MemorySearchRequest, { query, mode: 'text' });
  return results.some((r) => r.path === path);
}

function expectAlive(): void {
  expect(daemon!.process.exitCode).toBeNull();
  expect(daemon!.process.signalCode).toBeNull();
}

describe('the daemon under hostile input', () => {
  it.each([
    // Porter2 stemming is quadratic in a word's length: 16,000 a's took 1.5 s, 100,000 over a minute.
    ['a 16,000-character word', 'a'.repeat(16_000) + ' zebracorn'],
    ['a 100 KB line of one word', 'ab'.repeat(50_000) + ' zebracorn'],
    ['a 1 MB line of one word', 'a'.repeat(1_000_000) + ' zebracorn'],
    ['a 1 MB line of words', 'lorem ipsum dolor '.repeat(58_000) + 'zebracorn'],
  ])('indexes a note with %s while the emergency stop answers within a second', async (name, body) => {
    const path = `memory/huge-${name.replace(/\W+/g, '-')}.md`;
    await writeNote(dirs.workspace, path, `# Huge\n\n${body}\n`);
    const stop = await timed(() => client.request(EmergencyStopRequest, { reason: 'dos test' }));
    const slowest = await slowestAnswerUntil('the note to be searchable', () => finds('zebracorn', path));
    await client.request(ResumeRequest);
    expect(stop.ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(slowest).toBeLessThan(ANSWER_WITHIN_MS);
    expectAlive();
  });

  it('keeps a YAML alias bomb to its own note: the rest indexes, the bomb is named with its line', async () => {
    const anchors = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [i, name] of [...'bcdefghi'].entries()) {
      const previous = 'abcdefghi'[i]!;
      anchors.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    await writeNote(dirs.workspace, 'memory/bomb.md', `---\n${anchors.join('\n')}\n---\n# Bomb\n`);
    await writeNote(dirs.workspace, 'runbooks/bomb.yaml', `${anchors.join('\n')}\n`);
    await writeNote(dirs.workspace, 'memory/fine.md', '# Fine\n\nThe quokka contract renews in May.\n');

    const slowest = await slowestAnswerUntil('the other note to be searchable', () =>
      finds('quokka', 'memory/fine.md'),
    );
    expect(slowest).toBeLessThan(ANSWER_WITHIN_MS);
    const status = await waitFor('the bomb to be reported', async () => {
      const index = await client.request(IndexStatusRequest);
      return index.problems.length >= 2 ? index : null;
    });
    const bomb = status.problems.find((p) => p.path === 'memory/bomb.md')!;
    expect(bomb).toMatchObject({ severity: 'error', line: 3 });
    expect(bomb.message).toMatch(/alias/i);
    expect(status.problems.find((p) => p.path === 'runbooks/bomb.yaml')).toMatchObject({ line: 2 });

    // `keel index` (through this daemon) names the file and fails.
    const cli = await runKeel(['index', '--workspace', dirs.workspace], { runtime: dirs.runtime });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/memory\/bomb\.md:3:\d+ .*alias/i);
    expectAlive();
  });

  it.each([
    ['a hundred million turns', '{% for i in (1..100000000) %}x{% endfor %}'],
    ['nested loops', '{% for i in (1..4000) %}{% for j in (1..4000) %}{% endfor %}{% endfor %}'],
  ])('fails a runbook step whose template loops %s, and keeps answering', async (name, template) => {
    const runbook = `loop-${name.replace(/\W+/g, '-')}`;
    // Starting a run is for a trusted workspace; the operator trusts this one.
    const trust = await client.request(TrustStateRequest);
    await client.request(TrustGrantRequest, { wantsHash: trust.wantsHash });
    await writeNote(
      dirs.workspace,
      `runbooks/${runbook}.yaml`,
      [
        'apiVersion: keel/v1',
        `name: ${runbook}`,
        'role: Tester',
        'description: A template that never ends.',
        'steps:',
        '  - id: spin',
        '    type: retrieve',
        `    query: "${template}"`,
        '',
      ].join('\n'),
    );
    const started = await waitFor('the runbook to load', () =>
      client.request(RunStartRequest, { runbook, inputs: {} }).catch(() => null),
    );
    let ended: RunTrace | null = null;
    const slowest = await slowestAnswerUntil('the run to end', async () => {
      ended = await client.request(RunGetRequest, { id: started.id });
      return ended.run.endedAt !== null;
    });
    expect(slowest).toBeLessThan(ANSWER_WITHIN_MS);
    expect(ended!.run.status).toBe('failed');
    expect(ended!.run.error).toMatch(/step "spin" failed: the template (is too large|took longer)/);
    expectAlive();
  });

  it('reads a forEach of one brace pair around 20,000 spaces as a problem, and keeps answering', async () => {
    // A regular expression with three optional-space groups took seconds at 2,000 spaces and
    // minutes at 10,000, on the daemon's own thread, each time the runbook was read.
    const hostile = `{{${' '.repeat(20_000)}a${' '.repeat(20_000)}}}x`;
    await writeNote(
      dirs.workspace,
      'runbooks/spaces.yaml',
      [
        'apiVersion: keel/v1',
        'name: spaces',
        'role: Tester',
        'description: A forEach built to backtrack.',
        'steps:',
        '  - id: each',
        '    type: runbook',
        '    runbook: spaces',
        `    forEach: "${hostile}"`,
        '',
      ].join('\n'),
    );
    let problems: string[] = [];
    const slowest = await slowestAnswerUntil('the runbook to be read', async () => {
      const { runbooks } = await client.request(RunbooksListRequest);
      problems =
        runbooks.find((r) => r.path === 'runbooks/spaces.yaml')?.problems.map((p) => p.message) ?? [];
      return problems.length > 0;
    });
    expect(slowest).toBeLessThan(ANSWER_WITHIN_MS);
    expect(problems.join('\n')).toMatch(/forEach must be one expression/);
    expectAlive();
  });

  it('closes a connection that streams a 513 MiB line before authenticating, and keeps serving', async () => {
    const { socketPath } = await lock();
    const socket = connect(socketPath);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const chunk = Buffer.alloc(1024 * 1024, 'a'); // one MiB, sent again and again: never 513 MiB in memory
    let sent = 0;
    let open = true;
    void closed.then(() => (open = false));
    while (open && sent < 513 * 1024 * 1024) {
      if (!socket.write(chunk))
        await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
      sent += chunk.length;
    }
    await closed;
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(answer).toMatch(/larger than 1 MiB/);
    const { ms } = await timed(() => client.request(StatusRequest));
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    expectAlive();
  });

  it('answers one request before authentication and ignores the rest of a pipelined stream', async () => {
    const socket = connect((await lock()).socketPath);
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    const request = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'keel/status' }) + '\n';
    socket.write(request.repeat(10_000));
    await closed;
    expect(answer.trim().split('\n')).toHaveLength(1);
    expect(answer).toMatch(/Not authenticated/);
    expectAlive();
  });

  it('refuses a flood of idle unauthenticated connections past the cap, and drops them after 5 s', async () => {
    const { socketPath } = await lock();
    const sockets: Socket[] = [];
    const closedAt = new Map<Socket, number>();
    const opened = performance.now();
    await Promise.all(
      Array.from({ length: 1_000 }, () => {
        const socket = connect(socketPath);
        sockets.push(socket);
        socket.resume(); // reads (and drops) the refusal, so that the close is seen
        socket.on('error', () => undefined);
        socket.on('close', () => closedAt.set(socket, performance.now() - opened));
        return new Promise((resolve) => socket.once('connect', resolve).once('close', resolve));
      }),
    );
    // Past the cap of 32 waiting connections, the rest are refused at once.
    await waitFor('the connections past the cap to be closed', () => closedAt.size >= 1_000 - 32);
    expect(closedAt.size).toBeLessThanOrEqual(1_000 - 32 + 1);
    // A client that authenticated before the flood is served throughout, the emergency stop too.
    const { ms } = await timed(() => client.request(StatusRequest));
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    const stop = await timed(() => client.request(EmergencyStopRequest, { reason: 'dos test' }));
    expect(stop.ms).toBeLessThan(ANSWER_WITHIN_MS);
    await client.request(ResumeRequest);
    // The idle ones are dropped after the auth timeout, and new clients get in again.
    await waitFor('the idle connections to be dropped', () => closedAt.size === 1_000, 10_000);
    expect(Math.max(...closedAt.values())).toBeGreaterThan(4_500);
    const late = await authenticatedClient();
    await expect(late.request(StatusRequest)).resolves.toBeTruthy();
    await late.close();
    expectAlive();
  });

  it('survives clients that die or half-close in the middle of their requests', async () => {
    const { socketPath, tokenPath } = await lock();
    const token = (await readFile(tokenPath, 'utf8')).trim();
    // A separate process: authenticates, asks for many answers, never reads them, and is killed.
    const script = `
      const net = require('node:net');
      const socket = net.connect(${JSON.stringify(socketPath)}, () => {
        socket.write(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'keel/auth', params: { token: ${JSON.stringify(token)} } }) + '\\n');
        for (let i = 1; i <= 2000; i++)
          socket.write(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'keel/index/status' }) + '\\n');
        socket.pause();
        process.stdout.write('sent\\n');
      });`;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((resolve) => child.stdout.once('data', resolve));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // Half-close: a request, then the client's end of the socket closes before the answer.
    for (let round = 0; round < 20; round++) {
      const socket = connect(socketPath);
      socket.on('error', () => undefined);
      socket.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'keel/status' }) + '\n');
      socket.destroy();
    }
    const { ms } = await timed(() => client.request(StatusRequest));
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    expectAlive();
    expect(daemon!.output()).not.toMatch(/Unhandled|uncaught/i);
  });
});
