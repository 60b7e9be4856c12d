/**
 * `keel connectors check` on an MCP server against the workspace's runbooks: the real
 * `@modelcontextprotocol/server-filesystem` over stdio, a runbook written against a tool it does
 * not list (`read_text`, as if renamed) fails the probe naming the runbook, its step and the tool,
 * and opens the breaker; once the runbook uses the tool the server lists, the check passes and
 * reports the server's name, version and protocol version.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConnectorsCheckRequest } from '@keel/schemas';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { startTrustedDaemon, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { REPO_ROOT } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const FILESYSTEM_SERVER = join(
  REPO_ROOT,
  'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js',
);

let dirs: TempDirs;
let running: InProcessDaemon | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-mcp-drift-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
  await mkdir(join(dirs.workspace, 'data'));
  await writeFile(join(dirs.workspace, 'data', 'notes.md'), 'A note.\n');
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  files:
    use: mcp
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FILESYSTEM_SERVER)}, .]
    cwd: data
    tools: { read_text_file: read }
`,
  );
});
afterEach(async () => {
  await running?.daemon.stop('test');
  running = null;
  await dirs.cleanup();
});

function runbook(action: string): string {
  return `apiVersion: keel/v1
name: read-notes
role: Reader
description: Reads the notes.
steps:
  - id: read
    type: connector
    use: files
    action: ${action}
    with: { path: notes.md }
`;
}

it('a tool a runbook uses that the server does not list fails the check, naming runbook and tool', async () => {
  await writeFile(join(dirs.workspace, 'runbooks', 'read-notes.yaml'), runbook('read_text'));
  running = await startTrustedDaemon(dirs.workspace);
  const failed = await running.client.request(ConnectorsCheckRequest, { name: 'files' });
  expect(failed.connectors[0]).toMatchObject({ state: 'error', breaker: 'open' });
  expect(failed.connectors[0]!.lastProbe?.detail).toContain(
    'runbooks/read-notes.yaml step "read" uses the tool "read_text", which the server no longer lists (it lists: ',
  );
  expect(failed.connectors[0]!.lastProbe?.version).toMatch(
    /^secure-filesystem-server \S+, MCP \d{4}-\d{2}-\d{2}$/,
  );

  await writeFile(join(dirs.workspace, 'runbooks', 'read-notes.yaml'), runbook('read_text_file'));
  const passed = await running.client.request(ConnectorsCheckRequest, { name: 'files' });
  expect(passed.connectors[0]).toMatchObject({ state: 'ready', breaker: 'closed' });
  expect(passed.connectors[0]!.lastProbe?.detail).toMatch(
    /^secure-filesystem-server \S+, MCP [\d-]+: \d+ tools/,
  );
}, 60_000);
