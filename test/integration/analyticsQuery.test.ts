/**
 * Analytics through the real daemon: a connector step stores its rows into a table (`into:`),
 * a later `query` step reads them with a bound parameter; a second run and a replay do not double
 * the rows; a replay answers the query as recorded, whatever the provider says today; a query over
 * Keel's own metrics counts runs per runbook; an export file imports into a table.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunGetRequest, RunReplayRequest, RunStartRequest, type RunTrace } from '@keel/schemas';
import { storeRows } from '../../daemon/src/analytics/analyticsStore';
import { WorkspaceAnalytics } from '../../daemon/src/analytics/workspaceAnalytics';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { waitFor } from '../helpers/processes';
import { statsCalls, statsConnector } from '../helpers/statsConnector';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let provider: string;
let daemon: Daemon | null = null;
let client: InProcessClient;

const VISITS = `apiVersion: keel/v1
name: visits
role: Analyst
description: Loads visit statistics and reads the busy pages.
inputs:
  min: { type: integer, default: 3 }
steps:
  - id: fetch
    type: connector
    use: stats
    action: get
    into: { table: visits, rows: /items, key: [id] }
  - id: busy
    type: query
    sql: SELECT page, sum(n)::INTEGER AS n FROM visits WHERE n >= $min GROUP BY page ORDER BY page
    params: { min: "{{ inputs.min }}" }
outputs:
  busy: { value: "{{ steps.busy.output.rows }}" }
`;

const WEEKLY = `apiVersion: keel/v1
name: weekly
role: Operator's assistant
description: Counts runs per runbook.
steps:
  - id: runs
    type: query
    sql: SELECT runbook, count(*)::INTEGER AS runs FROM keel.runs WHERE runbook <> 'weekly' GROUP BY runbook ORDER BY runbook
outputs:
  runs: { value: "{{ steps.runs.output.rows }}" }
`;

const IMPORT = `apiVersion: keel/v1
name: importer
role: Analyst
description: Imports an export file.
steps:
  - id: load
    type: import
    path: exports/signups.csv
    into: { table: signups, mode: replace }
  - id: total
    type: query
    sql: SELECT count(*)::INTEGER AS n, sum(amount) AS amount FROM signups
outputs:
  total: { value: "{{ steps.total.output.rows[0] }}" }
`;

async function stats(items: Record<string, unknown>[]): Promise<void> {
  await writeFile(join(provider, 'stats.json'), JSON.stringify({ items }));
}

async function run(
  runbook: string,
  inputs: Record<string, string | number | boolean> = {},
): Promise<RunTrace> {
  const started = await client.request(RunStartRequest, { runbook, inputs });
  return waitFor(
    `run ${started.id} to end`,
    async () => {
      const trace = await client.request(RunGetRequest, { id: started.id });
      return ['succeeded', 'failed'].includes(trace.run.status) ? trace : null;
    },
    30_000,
  );
}

async function tableCount(table: string): Promise<number> {
  // The daemon's own analytics, asked the way a step asks them.
  const analytics = WorkspaceAnalytics.of(dirs.workspace, null);
  const { rows } = await analytics.query({
    sql: `SELECT count(*)::INTEGER AS n FROM ${table}`,
    params: {},
    maxRows: 1,
    timeoutMs: 5_000,
  });
  return rows[0]!.n as number;
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  provider = await mkdtemp(join(tmpdir(), 'keel-stats-'));
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nconnectors:\n  stats:\n    use: stats@1\n    dir: ${JSON.stringify(provider)}\n`,
  );
  for (const [name, text] of [
    ['visits', VISITS],
    ['weekly', WEEKLY],
    ['importer', IMPORT],
  ]) {
    await writeFile(join(dirs.workspace, 'runbooks', `${name}.yaml`), text!);
  }
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
    connectors: [statsConnector],
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await rm(provider, { recursive: true, force: true });
  await dirs.cleanup();
});

describe('analytics tables and query steps', () => {
  it('a connector step stores rows that a later query reads; runs and replays never double them', async () => {
    await stats([
      { id: 1, page: '/pricing', n: 5, day: '2026-12-01' },
      { id: 2, page: '/docs', n: 2, day: '2026-12-01' },
      { id: 3, page: '/pricing', n: 4, day: '2026-12-02' },
    ]);
    const first = await run('visits');
    expect(first.run.error).toBeNull();
    expect(first.run.outputs).toEqual({ busy: [{ page: '/pricing', n: 9 }] });
    const busy = first.steps.find((step) => step.id === 'busy');
    expect(busy?.input).toEqual({
      sql: expect.stringContaining('$min'),
      params: { min: 3 },
      maxRows: 1000,
    });
    expect(await tableCount('visits')).toBe(3);

    // The same ids again, one changed: replaced by key, not doubled.
    await stats([
      { id: 1, page: '/pricing', n: 7, day: '2026-12-01' },
      { id: 4, page: '/docs', n: 3, day: '2026-12-03' },
    ]);
    const second = await run('visits', { min: 3 });
    expect(second.run.outputs).toEqual({
      busy: [
        { page: '/docs', n: 3 },
        { page: '/pricing', n: 11 },
      ],
    });
    expect(await tableCount('visits')).toBe(4);
    expect(await statsCalls(provider)).toBe(2);

    // A replay answers from the journal: the recorded rows, no call to the provider, no store.
    await stats([{ id: 9, page: '/new', n: 100, day: '2026-12-04' }]);
    const replayed = await client.request(RunReplayRequest, { id: first.run.id });
    expect(replayed).toMatchObject({ status: 'succeeded', divergence: null, sideEffects: 0 });
    expect(await statsCalls(provider)).toBe(2);
    expect(await tableCount('visits')).toBe(4);
  });

  it('a step stored again (a resume) replaces its own rows', async () => {
    const file = join(dirs.workspace, '.keel', 'analytics.duckdb');
    const rows = [{ page: '/a' }, { page: '/b' }];
    await storeRows(file, { table: 'pages', rows, mode: 'append', batch: 'run-1:fetch' });
    await storeRows(file, { table: 'pages', rows, mode: 'append', batch: 'run-1:fetch' });
    await storeRows(file, { table: 'pages', rows, mode: 'append', batch: 'run-2:fetch' });
    expect(await tableCount('pages')).toBe(4);
    await storeRows(file, { table: 'pages', rows: [{ page: '/c' }], mode: 'replace', batch: 'run-3:fetch' });
    expect(await tableCount('pages')).toBe(1);
  });

  it("a query reads Keel's own metrics: runs per runbook", async () => {
    await stats([{ id: 1, page: '/a', n: 1, day: '2026-12-01' }]);
    await run('visits');
    await run('visits');
    const weekly = await run('weekly');
    expect(weekly.run.error).toBeNull();
    expect(weekly.run.outputs).toEqual({ runs: [{ runbook: 'visits', runs: 2 }] });
  });

  it('an export file imports into a table', async () => {
    await mkdir(join(dirs.workspace, 'exports'));
    await writeFile(join(dirs.workspace, 'exports', 'signups.csv'), 'email,amount\na@x.io,10\nb@y.io,2.5\n');
    const imported = await run('importer');
    expect(imported.run.error).toBeNull();
    expect(imported.run.outputs).toEqual({ total: { n: 2, amount: 12.5 } });
  });

  it('a query that writes fails its step with a clear message', async () => {
    await writeFile(
      join(dirs.workspace, 'runbooks', 'bad.yaml'),
      `apiVersion: keel/v1\nname: bad\nrole: Tester\ndescription: Tries to write.\nsteps:\n  - id: drop\n    type: query\n    sql: DROP TABLE keel.runs\n`,
    );
    const bad = await run('bad');
    expect(bad.run.status).toBe('failed');
    expect(bad.run.error).toMatch(/query step "drop": a query step only reads: this is a DROP statement/);
  });
});
