/**
 * An MCP server named in keel.yaml, end to end through the real daemon: the real
 * `@modelcontextprotocol/server-filesystem` package over stdio, started only once the operator
 * trusted the workspace with its command line, its tools listed on first use, a `read` tool
 * running at once, an `external` one waiting as an action proposal until approved. One process
 * serves every call and every reload of keel.yaml; an edited entry, and the daemon's stop, end it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalsListRequest,
  RunGetRequest,
  RunStartRequest,
  type RunTrace,
} from '@keel/schemas';
import type { McpConnector } from '../../daemon/src/connectors/mcp/mcpConnector';
import { findInstance } from '../../daemon/src/connectors/registry';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { REPO_ROOT, waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const FILESYSTEM_SERVER = join(
  REPO_ROOT,
  'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js',
);

let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;

/** keel.yaml naming the filesystem server, serving the workspace's data/ folder. */
function keelYaml(extra = ''): string {
  return `version: 1
connectors:
  files:
    use: mcp
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FILESYSTEM_SERVER)}, "."]
    cwd: data
    tools: { read_text_file: read, list_directory: read }
${extra}`;
}

async function start(): Promise<void> {
  await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml());
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
  });
  client = new InProcessClient(daemon);
}

/** The daemon's connector for keel.yaml's `files`, as the registry hands it to every caller. */
function files(): McpConnector {
  const instance = findInstance(daemon!.connectorInstances(), 'files');
  if (!instance) throw new Error('keel.yaml names no connector "files"');
  return instance.connector as McpConnector;
}

async function runbook(name: string, steps: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'runbooks', `${name}.yaml`),
    `apiVersion: keel/v1\nname: ${name}\nrole: Tester\ndescription: Calls an MCP server.\nsteps:\n${steps}`,
  );
}

async function ended(id: string): Promise<RunTrace> {
  return waitFor(
    `run ${id} to end`,
    async () => {
      const trace = await client.request(RunGetRequest, { id });
      return ['succeeded', 'failed'].includes(trace.run.status) ? trace : null;
    },
    30_000,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeEach(async () => {
  dirs = await makeTempDirs('keel-mcp-steps-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
  await mkdir(join(dirs.workspace, 'data'));
  await writeFile(join(dirs.workspace, 'data', 'hello.txt'), 'Hello from the workspace.\n');
});

afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await dirs.cleanup();
});

describe('an MCP server as a connector of runbooks', () => {
  it('offers no tools and starts nothing until trusted; then a read tool runs at once in a connector step', async () => {
    await start();
    // Untrusted: the editor is offered the connector, no tools, and no process was started.
    const untrusted = findInstance(await daemon!.editorConnectors(), 'files');
    expect(untrusted?.connector.id).toBe('mcp.files@1');
    expect(untrusted?.connector.actions).toEqual({});
    expect(files().session.pid).toBeNull();
    expect(daemon!.trust.state().endpoints.map((e) => e.origin)).toEqual([
      expect.stringContaining(FILESYSTEM_SERVER),
    ]);

    await trust(daemon!);
    await runbook(
      'read',
      `  - id: read
    type: connector
    use: files
    action: read_text_file
    with: { path: hello.txt }
`,
    );
    const started = await client.request(RunStartRequest, { runbook: 'read', inputs: {} });
    const trace = await ended(started.id);
    expect(trace.run.status, trace.run.error ?? '').toBe('succeeded');
    expect(trace.steps[0]?.output).toMatchObject({
      untrusted: true,
      server: 'files',
      tool: 'read_text_file',
      text: 'Hello from the workspace.\n',
    });
    const { approvals } = await client.request(ApprovalsListRequest, {});
    expect(approvals).toEqual([]);

    // The editor now completes the server's tools, from the same connector and process.
    const pid = files().session.pid;
    expect(pid).toEqual(expect.any(Number));
    const listed = findInstance(await daemon!.editorConnectors(), 'files');
    expect(Object.keys(listed?.connector.actions ?? {})).toEqual(
      expect.arrayContaining(['read_text_file', 'write_file']),
    );

    // keel.yaml read again: the same server keeps running; no second process.
    await daemon!.reloadConfig();
    expect(files().session.pid).toBe(pid);

    // Its entry edited: the old server is closed; the workspace must be trusted with it again.
    await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml().replace('cwd: data', 'cwd: ./data'));
    await daemon!.reloadConfig();
    await waitFor('the old server to end', () => (alive(pid!) ? null : true), 20_000);
    expect(daemon!.trust.trusted).toBe(false);
    expect(files().session.pid).toBeNull();
  });

  it('an external tool call waits as an action proposal and runs once approved', async () => {
    await start();
    await trust(daemon!);
    await runbook(
      'write',
      `  - id: write
    type: connector
    use: files
    action: write_file
    with: { path: note.txt, content: "Written after approval." }
`,
    );
    const started = await client.request(RunStartRequest, { runbook: 'write', inputs: {} });
    const proposal = await waitFor(
      'an action proposal',
      async () => {
        const { approvals } = await client.request(ApprovalsListRequest, { status: ['pending'] });
        return approvals[0] ?? null;
      },
      30_000,
    );
    expect(proposal.action).toMatchObject({
      connector: 'files',
      use: 'mcp.files@1',
      action: 'write_file',
      risk: 'external',
      input: { path: 'note.txt', content: 'Written after approval.' },
      review: { title: 'MCP files: write_file', language: 'yaml' },
    });
    await expect(readFile(join(dirs.workspace, 'data', 'note.txt'), 'utf8')).rejects.toThrow(/ENOENT/);

    await client.request(ApprovalApproveRequest, { id: proposal.id });
    const trace = await ended(started.id);
    expect(trace.run.status, trace.run.error ?? '').toBe('succeeded');
    expect(await readFile(join(dirs.workspace, 'data', 'note.txt'), 'utf8')).toBe('Written after approval.');
    expect(trace.steps[0]?.output).toMatchObject({ untrusted: true, tool: 'write_file' });

    // The daemon's stop ends the server's process.
    const pid = files().session.pid!;
    expect(alive(pid)).toBe(true);
    await daemon!.stop('test');
    daemon = null;
    await waitFor('the server to end', () => (alive(pid) ? null : true), 20_000);
  });
});
