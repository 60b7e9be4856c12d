/**
 * The `query` step's locks, against a real DuckDB: one SELECT only; no write, ATTACH, COPY TO,
 * extension install or load, file read, setting change; a query that runs too long is stopped;
 * table and column names that would inject SQL are refused; parameters are bound, never spliced;
 * the analytics file is never Keel's own state; an import over 50 MB is refused before it is read.
 */
import { mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeRows } from '../../daemon/src/analytics/analyticsStore';
import { readExportRows } from '../../daemon/src/analytics/exportFile';
import { WorkspaceAnalytics } from '../../daemon/src/analytics/workspaceAnalytics';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let analytics: WorkspaceAnalytics;

const ask = (
  sql: string,
  params: Record<string, string | number | boolean | null> = {},
  timeoutMs = 10_000,
) => analytics.query({ sql, params, maxRows: 100, timeoutMs });

beforeEach(async () => {
  dirs = await makeTempDirs();
  analytics = WorkspaceAnalytics.of(dirs.workspace, null);
  await analytics.store({
    table: 'visits',
    rows: [
      { page: '/a', n: 3 },
      { page: '/b', n: 5 },
    ],
    mode: 'replace',
    batch: 'r1:load',
  });
});
afterEach(async () => {
  await dirs.cleanup();
});

describe('a query step only reads', () => {
  it('runs under DuckDB settings that lock it down, and they read back as set', async () => {
    const { rows } = await ask(
      `SELECT current_setting('enable_external_access') AS external,
              current_setting('lock_configuration') AS locked,
              current_setting('autoinstall_known_extensions') AS autoinstall,
              current_setting('autoload_known_extensions') AS autoload,
              (SELECT readonly FROM duckdb_databases() WHERE database_name = 'analytics') AS analytics_read_only`,
    );
    expect(rows).toEqual([
      { external: false, locked: true, autoinstall: false, autoload: false, analytics_read_only: true },
    ]);
  });

  it.each([
    ["INSERT INTO visits VALUES ('x', '/c', 1)", /only reads: this is a INSERT/],
    ['UPDATE visits SET n = 0', /only reads: this is a UPDATE/],
    ['DELETE FROM visits', /only reads: this is a DELETE/],
    ['DROP TABLE visits', /only reads: this is a DROP/],
    ['CREATE TABLE t AS SELECT 1', /only reads: this is a CREATE/],
    ["ATTACH '/tmp/other.duckdb' AS other", /only reads: this is a ATTACH/],
    ['DETACH analytics', /only reads: this is a DETACH/],
    // DuckDB itself refuses it first (external access is off): either lock is enough.
    ["COPY visits TO '/tmp/visits.csv'", /only reads: this is a COPY|file system operations are disabled/],
    ['INSTALL httpfs', /only reads: this is a EXTENSION|only reads: this is a LOAD/],
    ['LOAD httpfs', /only reads: this is a LOAD/],
    ['SET enable_external_access = true', /only reads: this is a SET/],
    ['PRAGMA enable_profiling', /only reads/],
    ['SELECT 1; DROP TABLE visits', /exactly one SELECT; this SQL has 2 statements/],
  ])('refuses %s', async (sql, message) => {
    await expect(ask(sql)).rejects.toThrow(message);
    // Nothing happened: the table is as stored.
    expect((await ask('SELECT count(*)::INTEGER AS n FROM visits')).rows).toEqual([{ n: 2 }]);
  });

  it('a SELECT cannot read files, attach, or change the locked settings from inside', async () => {
    await writeFile(join(dirs.workspace, 'secret.csv'), 'a\n1\n');
    for (const sql of [
      "SELECT * FROM read_csv('/etc/passwd')",
      `SELECT * FROM read_csv('${join(dirs.workspace, 'secret.csv')}')`,
      "SELECT * FROM read_text('/etc/hostname')",
      "SELECT * FROM '/etc/passwd'",
      "SELECT * FROM read_json('/etc/hostname')",
      `SELECT * FROM read_text('${join(dirs.workspace, '.keel', 'runs.duckdb')}')`,
      `SELECT * FROM read_text('${join(dirs.workspace, 'keel.yaml')}')`,
      "SELECT * FROM query('ATTACH ''/tmp/x.duckdb'' AS x')",
    ]) {
      const refused = await ask(sql).then(
        () => 'answered',
        (error: Error) => error.message,
      );
      expect(refused, sql).toMatch(
        /disabled by configuration|Permission Error|Table with name \/etc\/passwd does not exist|Expected a single SELECT/,
      );
    }
  });

  it('stops a query that runs too long', async () => {
    const started = Date.now();
    await expect(
      ask('SELECT count(*) FROM range(10000000000) a, range(100) b WHERE a.range % 7 = b.range', {}, 500),
    ).rejects.toThrow(/stopped after 0.5 s \(timeoutSeconds\)/);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('caps the rows a query gives', async () => {
    await expect(
      analytics.query({ sql: 'SELECT * FROM range(500)', params: {}, maxRows: 100, timeoutMs: 5_000 }),
    ).rejects.toThrow(/more than 100 rows \(maxRows\)/);
  });

  it('binds parameters: a value that looks like SQL is only a value', async () => {
    const { rows } = await ask('SELECT count(*)::INTEGER AS n FROM visits WHERE page = $page', {
      page: "/a' OR '1'='1",
    });
    expect(rows).toEqual([{ n: 0 }]);
    await expect(ask('SELECT * FROM visits WHERE page = $other', { page: '/a' })).rejects.toThrow(
      /uses \$other, which the step's params: does not give/,
    );
  });
});

describe('analytics tables', () => {
  it('refuses table and column names that would inject SQL or reach Keel state', async () => {
    const file = analytics.file!;
    for (const table of [
      'visits"; DROP TABLE visits; --',
      'Visits',
      '1visits',
      'keel_runs',
      'main.visits',
      '',
    ]) {
      await expect(
        storeRows(file, { table, rows: [{ a: 1 }], mode: 'append', batch: 'r:s' }),
      ).rejects.toThrow(/table name .* is not allowed/);
    }
    await expect(
      storeRows(file, {
        table: 'visits',
        rows: [{ 'n" INTEGER); DROP TABLE visits; --': 1 }],
        mode: 'append',
        batch: 'r:s',
      }),
    ).rejects.toThrow(/column name .* is not allowed/);
    expect((await ask('SELECT count(*)::INTEGER AS n FROM visits')).rows).toEqual([{ n: 2 }]);
  });

  it('keeps the analytics tables out of the run store and the run store out of the analytics file', async () => {
    expect(analytics.file).toBe(join(dirs.workspace, '.keel', 'analytics.duckdb'));
    const { rows } = await ask('SELECT database_name FROM duckdb_databases() WHERE NOT internal ORDER BY 1');
    expect(rows.map((row) => row.database_name)).toEqual(['analytics', 'keel', 'memory']);
    // The metrics are a copy in memory: the query never opened runs.duckdb.
    const path = await ask("SELECT path FROM duckdb_databases() WHERE database_name = 'keel'");
    expect(path.rows).toEqual([{ path: null }]);
  });

  it('an import reads only contained workspace files: no link, no .keel state, no path out', async () => {
    await mkdir(join(dirs.workspace, 'exports'));
    await writeFile('/tmp/keel-outside.csv', 'a\n1\n');
    await symlink('/tmp/keel-outside.csv', join(dirs.workspace, 'exports', 'link.csv'));
    await expect(readExportRows(dirs.workspace, 'exports/link.csv')).rejects.toThrow(/link/i);
    await expect(readExportRows(dirs.workspace, '../keel-outside.csv')).rejects.toThrow(
      /outside the workspace/,
    );
    await expect(readExportRows(dirs.workspace, '/etc/passwd')).rejects.toThrow(/not a path relative/);
    await expect(readExportRows(dirs.workspace, '.keel/analytics.csv')).rejects.toThrow(/Keel's own state/);
    expect((await readFile('/tmp/keel-outside.csv', 'utf8')).length).toBeGreaterThan(0);
  });

  it('refuses an export over 50 MB from its size, before reading it', async () => {
    await mkdir(join(dirs.workspace, 'exports'));
    // Sparse: 3 GiB on paper, nothing on disk. Read whole, it would not even fit in a Buffer.
    const huge = join(dirs.workspace, 'exports', 'huge.csv');
    await writeFile(huge, 'a\n1\n');
    await truncate(huge, 3 * 1024 ** 3);
    const started = performance.now();
    await expect(readExportRows(dirs.workspace, 'exports/huge.csv')).rejects.toThrow(
      'exports/huge.csv is larger than 50 MB: split the export into smaller files',
    );
    expect(performance.now() - started).toBeLessThan(1_000);
    const small = join(dirs.workspace, 'exports', 'small.csv');
    await writeFile(small, 'a\n1\n');
    expect(await readExportRows(dirs.workspace, 'exports/small.csv')).toEqual([{ a: 1 }]);
  });
});
