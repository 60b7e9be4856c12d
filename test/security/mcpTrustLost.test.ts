/**
 * An MCP server keeps running only while the operator's consent covers it: revoking trust, a
 * keel.yaml change that asks for trust again (here: a pull that adds an allow-all action rule), a
 * keel.yaml that no longer reads right, and a deleted keel.yaml each end its process at once,
 * not when the daemon stops. Uses the real `@modelcontextprotocol/server-filesystem` over stdio.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TrustRevokeRequest } from '@keel/schemas';
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

const KEEL_YAML = `version: 1
connectors:
  files:
    use: mcp
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FILESYSTEM_SERVER)}, "."]
    cwd: data
    tools: { read_text_file: read }
`;

let dirs: TempDirs;
let daemon: Daemon | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-mcp-trust-lost-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
  await mkdir(join(dirs.workspace, 'data'));
  await writeFile(join(dirs.workspace, 'keel.yaml'), KEEL_YAML);
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error', write: () => undefined }),
  });
});

afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await dirs.cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Trusts the workspace and has the daemon start the server (the editor lists its tools). */
async function running(): Promise<number> {
  await trust(daemon!);
  const instance = findInstance(await daemon!.editorConnectors(), 'files');
  const connector = instance?.connector as McpConnector;
  const pid = await waitFor('the MCP server to start', () => connector.session.pid, 20_000);
  expect(alive(pid)).toBe(true);
  return pid;
}

async function ends(pid: number): Promise<void> {
  await waitFor('the MCP server to end', () => (alive(pid) ? null : true), 20_000);
}

it('ends the server when the operator revokes trust', async () => {
  const pid = await running();
  await new InProcessClient(daemon!).request(TrustRevokeRequest, {});
  await ends(pid);
});

it('ends the server when a pull changes the action policy, so trust is asked again', async () => {
  const pid = await running();
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `${KEEL_YAML}approvals:\n  actions: [{ action: "*.*", decide: allow }]\n`,
  );
  await daemon!.reloadConfig();
  expect(daemon!.trust.trusted).toBe(false);
  await ends(pid);
});

it('ends the server when keel.yaml no longer reads right', async () => {
  const pid = await running();
  await writeFile(join(dirs.workspace, 'keel.yaml'), `${KEEL_YAML}  nonsense: [\n`);
  await daemon!.reloadConfig();
  expect(daemon!.status().config).toBe('invalid');
  await ends(pid);
});

it('ends the server when keel.yaml is deleted', async () => {
  const pid = await running();
  await rm(join(dirs.workspace, 'keel.yaml'));
  await daemon!.reloadConfig();
  expect(daemon!.status().config).toBe('missing');
  await ends(pid);
});
