/**
 * A search filter is untrusted input (a model's memory_search arguments, an MCP client, a runbook
 * from a cloned repository): it can narrow a search, never widen it. Hostile values cannot rewrite
 * the LanceDB where clause, and a `path` cannot reach outside the workspace. Real daemon, real
 * LanceDB, real files (one of them outside the workspace, holding a secret).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IndexSyncRequest, MemorySearchRequest, type SearchFilter } from '@keel/schemas';
import { agentFilter } from '../../daemon/src/conductor/steps/freshness';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { writeNote } from '../helpers/memory';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const SECRET = 'outside-secret-pricing-9c1e';

let dirs: TempDirs;
let daemon: Daemon;
let client: InProcessClient;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await writeNote(
    dirs.workspace,
    'memory/customers/acme.md',
    '---\ntype: customer\ntags: [vip]\n---\n# Acme\n\nAcme pricing is 4,000 EUR.\n',
  );
  await writeNote(
    dirs.workspace,
    'memory/notes/idea.md',
    '---\ntype: note\n---\n# Idea\n\nA pricing idea.\n',
  );
  // A note beside the workspace: no filter may find it.
  await writeNote(
    join(dirs.workspace, '..'),
    'elsewhere/memory/secret.md',
    `# Secret\n\nThe pricing secret is ${SECRET}.\n`,
  );
  await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\n');
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
  await client.request(IndexSyncRequest);
});
afterEach(async () => {
  await daemon?.stop('test over');
  await dirs.cleanup();
});

async function search(filter: SearchFilter): Promise<string[]> {
  const answer = await client.request(MemorySearchRequest, { query: 'pricing', k: 20, filter });
  return answer.results.map((r) => r.path);
}

describe('a hostile filter value', () => {
  it('is a value to match, never SQL: quotes, comments and OR find nothing', async () => {
    expect((await search({})).sort()).toEqual(['memory/customers/acme.md', 'memory/notes/idea.md']);
    const hostile = [
      "x' OR 1=1 --",
      "x') OR ('1'='1",
      "customer' OR type IS NOT NULL OR '",
      "x\\' OR 1=1 --",
    ];
    for (const value of hostile) {
      expect(await search({ type: value }), value).toEqual([]);
      expect(await search({ tags: [value] }), value).toEqual([]);
      expect(await search({ tags: ['vip', value], tagsMatch: 'all' }), value).toEqual([]);
      expect(await search({ path: `memory/${value}` }), value).toEqual([]);
      expect(await search({ path: `memory/*${value}` }), value).toEqual([]);
    }
    // Regular-expression characters in a glob are literal: `.*` is a dot then a name, not "anything".
    expect(await search({ path: 'memory/.*' })).toEqual([]);
    expect(await search({ path: 'memory/(customers|notes)/*' })).toEqual([]);
  });

  it('a since/until that is not a time is refused before any query', async () => {
    for (const since of ["30d' OR 1=1 --", "2026-01-01' OR '1'='1", '1=1']) {
      await expect(search({ since }), since).rejects.toThrow(/is not a time/);
      await expect(search({ until: since }), since).rejects.toThrow(/is not a time/);
    }
  });
});

describe('a path filter', () => {
  it('cannot leave the workspace, over the RPC or from a model', async () => {
    for (const path of [
      '../',
      '../elsewhere/memory/',
      '/',
      '/etc/passwd',
      'memory/../../elsewhere/**',
      '..\\elsewhere',
      'C:/x',
    ]) {
      await expect(search({ path }), path).rejects.toThrow(/leaves the workspace/);
      await expect(search({ pathPrefix: path }), path).rejects.toThrow(/leaves the workspace/);
      expect(() => agentFilter({ path }), path).toThrow(/leaves the workspace/);
    }
    // The broadest filters a caller may write still see only the workspace's own notes.
    for (const path of ['**', '**/*.md', './', '*/**/secret.md']) {
      const found = await search({ path });
      expect(found.join(' '), path).not.toContain('secret');
    }
    const everything = await client.request(MemorySearchRequest, {
      query: SECRET,
      k: 50,
      filter: { path: '**' },
    });
    expect(JSON.stringify(everything)).not.toContain(SECRET);
  });
});
