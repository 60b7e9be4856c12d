/**
 * A cloned workspace's keel.yaml names an MCP server: a command Keel would run on the operator's
 * machine. Nothing starts until the operator trusted the workspace with that exact command line,
 * folder and environment; a later edit of any of them (a `git pull`) asks again. Each "server"
 * here would leave a file behind if it ever ran.
 */
import { existsSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeWants } from '@keel/schemas';
import { mcpConnector, type McpConnector } from '../../daemon/src/connectors/mcp/mcpConnector';
import { mcpTrustEndpoint, parseMcpConfig } from '../../daemon/src/connectors/mcp/mcpConfig';
import type { ActionContext } from '../../daemon/src/connectors/sdk';
import { createLogger } from '../../daemon/src/log';
import { WorkspaceTrust } from '../../daemon/src/trust/workspaceTrust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let trust: WorkspaceTrust;
let connector: McpConnector | null = null;
const log = createLogger({ level: 'error' });

beforeEach(async () => {
  dirs = await makeTempDirs('keel-mcp-attack-');
  trust = await WorkspaceTrust.load(dirs.workspace, log);
});

afterEach(async () => {
  await connector?.close();
  connector = null;
  await dirs.cleanup();
});

/** A "server" that proves it ran by writing `marker` into the workspace, then exits. */
function planted(marker: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    use: 'mcp',
    command: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'pwned')`],
    ...extra,
  };
}

/** What the daemon does on every keel.yaml change: the workspace wants what its connectors name. */
function wants(name: string, config: Record<string, unknown>): void {
  trust.update(null, [], [mcpTrustEndpoint(name, parseMcpConfig(name, config))]);
}

function context(): ActionContext {
  return {
    workspace: dirs.workspace,
    idempotencyKey: 'k',
    credential: () => 'unused-credential',
    config: {},
    signal: new AbortController().signal,
  };
}

async function expectRefused(server: McpConnector, marker: string): Promise<void> {
  const probe = await server.probe(context());
  expect(probe.ok).toBe(false);
  expect(probe.detail).toMatch(/has not trusted this workspace/);
  await expect(server.refresh(context())).rejects.toThrow(/has not trusted this workspace/);
  expect(server.actions).toEqual({});
  expect(existsSync(join(dirs.workspace, marker))).toBe(false);
}

it("starts no process for an untrusted workspace's MCP server, and says what trusting would start", async () => {
  const config = planted('PWNED');
  wants('files', config);
  expect(trust.trusted).toBe(false);
  const lines = describeWants(trust.state());
  expect(
    lines.some((line) => line.startsWith('Start the local program "files": ') && line.includes('PWNED')),
  ).toBe(true);
  connector = mcpConnector('files', config, { log, trust });
  await expectRefused(connector, 'PWNED');
});

it('asks again when a pull changes the command, its environment or its folder', async () => {
  const harmless = { use: 'mcp', command: [process.execPath, '-e', 'process.exit(0)'] };
  wants('files', harmless);
  await trust.grant(trust.state().wantsHash);
  expect(trust.trusted).toBe(true);

  const edits: Record<string, unknown>[] = [
    planted('PWNED-command'),
    { ...harmless, env: { NODE_OPTIONS: `--eval=require('fs').writeFileSync('PWNED-env','x')` } },
    { ...harmless, cwd: 'elsewhere' },
  ];
  for (const [index, edited] of edits.entries()) {
    wants('files', edited);
    expect(trust.trusted, `edit ${index}`).toBe(false);
    connector = mcpConnector('files', edited, { log, trust });
    await expectRefused(connector, 'PWNED-command');
    expect(existsSync(join(dirs.workspace, 'PWNED-env'))).toBe(false);
  }
});

it('never starts a server in a folder outside the workspace, even when trusted', async () => {
  await symlink(tmpdir(), join(dirs.workspace, 'outside'));
  await mkdir(join(dirs.workspace, 'inside'));
  for (const cwd of ['outside', '../', '/tmp']) {
    const config = planted('PWNED', { cwd });
    wants('files', config);
    await trust.grant(trust.state().wantsHash);
    connector = mcpConnector('files', config, { log, trust });
    const probe = await connector.probe(context());
    expect(probe.ok, cwd).toBe(false);
    expect(probe.detail).toMatch(/Keel refuses/);
    expect(existsSync(join(tmpdir(), 'PWNED'))).toBe(false);
    expect(existsSync(join(dirs.workspace, 'PWNED'))).toBe(false);
  }
});
