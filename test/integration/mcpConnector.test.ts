/**
 * An MCP server named in keel.yaml, as a connector: the real `@modelcontextprotocol/server-filesystem`
 * package over stdio (tools as actions, risk as the operator classed them, results as untrusted
 * data, one process reused and started again after it dies, killed on close), and a fixture server
 * built with the same SDK for what a real package does not do on demand (hang, fail, flood stderr).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  mcpConnector,
  McpToolError,
  type McpConnector,
  type McpToolAction,
} from '../../daemon/src/connectors/mcp/mcpConnector';
import { mcpTrustEndpoint, parseMcpConfig } from '../../daemon/src/connectors/mcp/mcpConfig';
import { OutcomeUnknownError, type ActionContext } from '../../daemon/src/connectors/sdk';
import { createLogger } from '../../daemon/src/log';
import { WorkspaceTrust } from '../../daemon/src/trust/workspaceTrust';
import { REPO_ROOT } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const FILESYSTEM_SERVER = join(
  REPO_ROOT,
  'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js',
);
const FIXTURE_SERVER = join(REPO_ROOT, 'test/helpers/mcpFixtureServer.ts');
/** tsx by its file URL: the server starts in the temporary workspace, where `tsx` does not resolve. */
const TSX = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const DAEMON_SECRET = 'sk-daemon-own-secret-0123456789';
const TOKEN = 'fixture-token-abcdef-0123456789';

let dirs: TempDirs;
let logLines: string[];
let connector: McpConnector | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-mcp-');
  logLines = [];
  await mkdir(join(dirs.workspace, 'data'));
  await writeFile(join(dirs.workspace, 'data', 'hello.txt'), 'Hello from the workspace.\n');
});

afterEach(async () => {
  await connector?.close();
  connector = null;
  await dirs.cleanup();
});

/** The connector for `config`, in a workspace the operator trusted with exactly that server. */
async function trusted(name: string, config: Record<string, unknown>): Promise<McpConnector> {
  const log = createLogger({ level: 'debug', write: (line) => logLines.push(line) });
  const trust = await WorkspaceTrust.load(dirs.workspace, log);
  trust.update(null, [], [mcpTrustEndpoint(name, parseMcpConfig(name, config))]);
  await trust.grant(trust.state().wantsHash);
  connector = mcpConnector(name, config, { log, trust });
  return connector;
}

/** One of the connector's actions, by tool name. */
function tool(connector: McpConnector, name: string): McpToolAction {
  const action = connector.actions[name];
  if (!action) throw new Error(`the server offers no tool ${name}`);
  return action;
}

function context(credentials: Record<string, string> = {}): ActionContext {
  return {
    workspace: dirs.workspace,
    idempotencyKey: 'run-1/step-1',
    credential: (name) => {
      const value = credentials[name];
      if (value === undefined) throw new Error(`credential ${name} is not set`);
      return value;
    },
    config: {},
    signal: new AbortController().signal,
  };
}

const filesystem = {
  use: 'mcp',
  // Started in the workspace's data/ folder, which it serves: paths are relative to it.
  command: [process.execPath, FILESYSTEM_SERVER, '.'],
  cwd: 'data',
  tools: { read_text_file: 'read', list_directory: 'read' },
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('an MCP server package over stdio', () => {
  it('probes the server and turns its tools into actions, external unless keel.yaml says read', async () => {
    const files = await trusted('files', filesystem);
    expect(files.id).toBe('mcp.files@1');
    expect(files.actions).toEqual({});

    const probe = await files.probe(context());
    expect(probe.ok).toBe(true);
    expect(probe.detail).toContain('secure-filesystem-server');
    // serverInfo's name and version, and the protocol version it answered initialize with.
    expect(probe.version).toMatch(/^secure-filesystem-server \d+\.\d+\S*, MCP \d{4}-\d{2}-\d{2}$/);
    expect(tool(files, 'read_text_file').risk).toBe('read');
    expect(tool(files, 'list_directory').risk).toBe('read');
    // The server calls list_allowed_directories read-only; only the operator's word counts.
    expect(tool(files, 'list_allowed_directories').risk).toBe('external');
    expect(tool(files, 'write_file').risk).toBe('external');
    expect(tool(files, 'write_file').input.safeParse({ path: 'a.txt' }).success).toBe(false);
    expect(tool(files, 'write_file').input.safeParse({ path: 'a.txt', content: 'x' }).success).toBe(true);
  });

  it('calls tools, returns their answers as untrusted data, and reviews a call as YAML', async () => {
    const files = await trusted('files', filesystem);
    await files.refresh(context());
    const read = await tool(files, 'read_text_file').perform({ path: 'hello.txt' }, context());
    expect(read).toMatchObject({ untrusted: true, server: 'files', tool: 'read_text_file' });
    expect(read.text).toBe('Hello from the workspace.\n');

    const write = tool(files, 'write_file');
    const args = { path: 'reply.txt', content: 'Thanks!' };
    const review = write.review(args);
    expect(review).toEqual({
      title: 'MCP files: write_file',
      language: 'yaml',
      text: 'tool: write_file\narguments:\n  path: reply.txt\n  content: Thanks!\n',
    });
    const edited = write.fromReview!(review.text.replace('Thanks!', 'Thank you!'), args);
    await write.perform(edited, context());
    expect(await readFile(join(dirs.workspace, 'data', 'reply.txt'), 'utf8')).toBe('Thank you!');
    expect(() => write.fromReview!(review.text.replace('tool: write_file', 'tool: move_file'), args)).toThrow(
      /keep "tool: write_file"/,
    );
  });

  it('reuses one process, starts it again after it dies, and kills it on close', async () => {
    const files = await trusted('files', filesystem);
    await files.refresh(context());
    const first = files.session.pid!;
    await tool(files, 'list_directory').perform({ path: '.' }, context());
    expect(files.session.pid).toBe(first);

    process.kill(first, 'SIGKILL');
    await waitFor(() => files.session.pid === null, 'the client to notice the dead server');
    const again = await tool(files, 'read_text_file').perform({ path: 'hello.txt' }, context());
    expect(again.text).toContain('Hello');
    const second = files.session.pid!;
    expect(second).not.toBe(first);
    expect(logLines.join('\n')).toContain('closed; it starts again on next use');

    await files.close();
    await waitFor(() => !alive(second), 'the server process to end');
    await expect(tool(files, 'read_text_file').perform({ path: 'hello.txt' }, context())).rejects.toThrow(
      /closed: the daemon is stopping/,
    );
  });

  it("sends the server's stderr to the daemon log", async () => {
    const files = await trusted('files', filesystem);
    await files.probe(context());
    await waitFor(
      () => logLines.some((line) => line.includes('stderr') && line.includes('Secure MCP Filesystem Server')),
      'the server banner in the log',
    );
  });
});

describe('a misbehaving MCP server', () => {
  const fixture = {
    use: 'mcp',
    command: [process.execPath, '--import', TSX, FIXTURE_SERVER],
    env: { FIXTURE_TOKEN: { credential: 'token' } },
    timeoutMs: 1_000,
  };
  const withToken = () => context({ token: TOKEN });

  it('cancels a call that takes longer than timeoutMs', async () => {
    const server = await trusted('fixture', fixture);
    await server.refresh(withToken());
    const started = Date.now();
    const call = tool(server, 'hang').perform({ seconds: 60 }, withToken());
    await expect(call).rejects.toThrow(/timed out/i);
    // No answer: the tool may have run, so the host must not call it again unasked.
    await expect(call).rejects.toBeInstanceOf(OutcomeUnknownError);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('fails the action when the tool answers isError, quoting the answer as the server words it', async () => {
    const server = await trusted('fixture', fixture);
    await server.refresh(withToken());
    const failure = tool(server, 'fail').perform({}, withToken());
    await expect(failure).rejects.toBeInstanceOf(McpToolError);
    await expect(failure).rejects.toThrow(/fixture\.fail failed.*disk full/);
  });

  it("hands the server only keel.yaml's environment, and keeps credentials out of the log", async () => {
    process.env.KEEL_TEST_DAEMON_SECRET = DAEMON_SECRET;
    try {
      const server = await trusted('fixture', fixture);
      await server.refresh(withToken());
      const env = JSON.parse((await tool(server, 'env').perform({}, withToken())).text) as Record<
        string,
        string
      >;
      expect(env.FIXTURE_TOKEN).toBe(TOKEN);
      expect(env.KEEL_TEST_DAEMON_SECRET).toBeUndefined();
      await waitFor(() => logLines.some((line) => line.includes('fixture started')), 'the banner');
      const log = logLines.join('\n');
      expect(log).toContain('fixture started with token [redacted]');
      expect(log).not.toContain(TOKEN);
    } finally {
      delete process.env.KEEL_TEST_DAEMON_SECRET;
    }
  });

  it('bounds what a flood of stderr costs the log', async () => {
    const server = await trusted('fixture', fixture);
    await server.refresh(withToken());
    await tool(server, 'shout').perform({ line: 'x'.repeat(5_000), times: 500 }, withToken());
    await tool(server, 'shout').perform({ line: 'last', times: 1 }, withToken());
    const stderrLines = (): string[] => logLines.filter((line) => line.includes('"fixture" stderr'));
    await waitFor(() => stderrLines().length >= 120, 'the first minute of lines');
    expect(stderrLines().length).toBe(120);
    expect(Math.max(...stderrLines().map((line) => line.length))).toBeLessThan(700);
  });
});
