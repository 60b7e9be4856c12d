/**
 * `keel mcp` as an editor's agent meets it: the official MCP client spawns `node daemon/bin/keel.cjs
 * mcp` over stdio in a workspace with a few notes and a finished run, and searches the memory,
 * reads notes (only under memory/, never through a link), lists runs and shows one; through the
 * running daemon's socket when there is one, and without one when there is not. Nothing writes.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { RunSummary, SearchResult } from '@keel/schemas';
import { writeNote } from '../helpers/memory';
import { REPO_ROOT, runKeel, startDaemon, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const KEEL_BIN = join(REPO_ROOT, 'daemon/bin/keel.cjs');

const NOTES: Record<string, string> = {
  'memory/customers/acme.md':
    '---\ntype: customer\ntags: [logistics]\n---\n# Acme Corp\n\nLogistics firm in Rotterdam.\n\n## Contract\n\nThe renewal is due in March; pricing is 4,000 EUR per month.\n',
  'memory/customers/northwind.md':
    '---\ntype: customer\ntags: [retail]\n---\n# Northwind\n\nRetail chain. The onboarding call with Sam is next week.\n',
  'memory/decisions/2026-03-hiring.md':
    '---\ntype: decision\ndate: 2026-03-02\n---\n# Hire a contractor\n\nWe decided to hire a freelance designer instead of an agency.\n',
};

const LOOKUP = `apiVersion: keel/v1
name: lookup
role: Research
description: Finds what memory says about a customer.
steps:
  - id: find
    type: retrieve
    query: renewal pricing
    k: 3
`;

let dirs: TempDirs;
let runId: string;
let client: Client | null = null;
let daemon: RunningDaemon | null = null;

beforeAll(async () => {
  dirs = await makeTempDirs('keel-mcp-serve-');
  expect((await runKeel(['init', dirs.workspace], { runtime: dirs.runtime })).code).toBe(0);
  for (const [path, content] of Object.entries(NOTES)) await writeNote(dirs.workspace, path, content);
  await writeFile(join(dirs.workspace, 'runbooks/lookup.yaml'), LOOKUP);
  await symlink('/etc/passwd', join(dirs.workspace, 'memory/passwd.md'));
  const keel = (args: string[]) => runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime });
  expect((await keel(['trust', '--yes'])).code).toBe(0);
  const ran = await keel(['run', 'lookup', '--json']);
  expect(ran.code, ran.stderr).toBe(0);
  runId = (JSON.parse(ran.stdout) as RunSummary).id;
});

afterEach(async () => {
  await client?.close();
  client = null;
  daemon?.process.kill('SIGTERM');
  await daemon?.exited;
  daemon = null;
});

afterAll(() => dirs.cleanup());

async function connect(): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [KEEL_BIN, 'mcp'],
    cwd: dirs.workspace,
    // The SDK hands a server only HOME, PATH and the like: Keel's own folders are named here.
    env: {
      KEEL_RUNTIME_DIR: dirs.runtime,
      KEEL_STATE_DIR: process.env.KEEL_STATE_DIR!,
      KEEL_LOG_LEVEL: 'warn',
    },
    stderr: 'pipe',
  });
  client = new Client({ name: 'keel-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function call(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client!.callTool({ name, arguments: args })) as CallToolResult;
}

function text(result: CallToolResult): string {
  return result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

/** Every file of the workspace outside Keel's own state, with its hash. */
async function snapshot(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dirs.workspace, { recursive: true, withFileTypes: true })) {
    const path = relative(dirs.workspace, join(entry.parentPath, entry.name));
    if (!entry.isFile() || path.startsWith('.keel') || path.startsWith('.git/')) continue;
    files[path] = createHash('sha256')
      .update(await readFile(join(dirs.workspace, path)))
      .digest('hex');
  }
  return files;
}

it('offers four read-only tools and answers them from the workspace, writing nothing', async () => {
  const before = await snapshot();
  const keel = await connect();
  expect(keel.getServerVersion()?.name).toBe('keel');
  const { tools } = await keel.listTools();
  expect(tools.map((t) => t.name).sort()).toEqual(['list_runs', 'read_note', 'search_memory', 'show_run']);
  expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);

  const found = await call('search_memory', { query: 'when is the renewal and what does it cost', k: 3 });
  const results = (found.structuredContent as { results: SearchResult[] }).results;
  expect(results[0]?.path).toBe('memory/customers/acme.md');
  expect(text(found)).toContain('4,000 EUR per month');

  const decisions = await call('search_memory', { query: 'designer', filter: { type: 'decision' } });
  const paths = (decisions.structuredContent as { results: SearchResult[] }).results.map((r) => r.path);
  expect(paths).toEqual(['memory/decisions/2026-03-hiring.md']);

  const note = await call('read_note', { path: 'memory/customers/northwind.md' });
  expect(note.isError).toBeFalsy();
  expect(text(note)).toBe(NOTES['memory/customers/northwind.md']);

  const runs = await call('list_runs', {});
  const listed = (runs.structuredContent as { runs: RunSummary[] }).runs;
  expect(listed.map((r) => [r.id, r.runbook, r.status])).toEqual([[runId, 'lookup', 'succeeded']]);
  const shown = await call('show_run', { id: runId });
  expect(text(shown)).toMatch(/find \(retrieve\) succeeded/);
  expect(text(shown)).toContain('memory/customers/acme.md');

  expect(await snapshot()).toEqual(before);
});

it('reads notes under memory/ only, and never through a link', async () => {
  await connect();
  for (const path of [
    'keel.yaml',
    'runbooks/lookup.yaml',
    '../outside.md',
    '/etc/passwd',
    'memory/../keel.yaml',
  ]) {
    const refused = await call('read_note', { path });
    expect(refused.isError, path).toBe(true);
  }
  const linked = await call('read_note', { path: 'memory/passwd.md' });
  expect(linked.isError).toBe(true);
  expect(text(linked)).not.toContain('root:');
  const missing = await call('search_memory', { query: 'root' });
  expect(text(missing)).not.toContain('root:x:0');
});

it('asks the running daemon over its socket, and goes on without it once it stops', async () => {
  daemon = await startDaemon(dirs.workspace, dirs.runtime);
  await connect();
  // The daemon holds the workspace lock, so no daemon of keel mcp's own can open it: an answer
  // now came through the socket.
  const through = await call('search_memory', { query: 'onboarding call with Sam' });
  expect(through.isError).toBeFalsy();
  expect((through.structuredContent as { results: SearchResult[] }).results[0]?.path).toBe(
    'memory/customers/northwind.md',
  );

  daemon.process.kill('SIGTERM');
  await daemon.exited;
  daemon = null;
  const after = await call('list_runs', { limit: 5 });
  expect(after.isError, text(after)).toBeFalsy();
  expect((after.structuredContent as { runs: RunSummary[] }).runs[0]?.id).toBe(runId);
});
