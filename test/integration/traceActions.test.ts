/**
 * The trace store's connector actions in a real DuckDB file: a later batch settles an action an
 * earlier one wrote, a run reloaded from its journal again and again (as start-up repair does)
 * keeps one row per action, and a store made when `actions` had a primary key is opened with its
 * rows kept and the key gone (DuckDB's unique index could be left corrupt by a reload's delete and
 * insert of the same keys, which then broke every later write).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RecordOf } from '../../daemon/src/conductor/journalRecords';
import { TraceStore } from '../../daemon/src/conductor/traceStore';
import { duckdb } from '../../daemon/src/runtime/duckdb';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let file: string;
const warnings: string[] = [];
const SPAN = ['2000-01-01T00:00:00Z', '2100-01-01T00:00:00Z'] as const;

beforeEach(async () => {
  dirs = await makeTempDirs();
  file = join(dirs.workspace, 'runs.duckdb');
  warnings.length = 0;
});
afterEach(async () => {
  await dirs.cleanup();
});

const at = (second: number): string => new Date(Date.UTC(2026, 11, 3, 9, 0, second)).toISOString();

function intent(key: string, second: number): RecordOf<'effectIntent'> {
  return {
    type: 'effectIntent',
    stepId: 'send',
    key,
    connector: 'mail.smtp@1',
    action: 'send',
    input: { to: 'ada@example.com' },
    at: at(second),
  };
}

function done(key: string, second: number): RecordOf<'effect'> {
  return {
    type: 'effect',
    stepId: 'send',
    key,
    connector: 'mail.smtp@1',
    action: 'send',
    result: { id: key },
    at: at(second),
  };
}

async function open(): Promise<TraceStore> {
  return TraceStore.open(file, (message) => warnings.push(message));
}

it('settles in a later batch an action an earlier batch wrote, and keeps one row per action through reloads', async () => {
  const store = await open();
  store.record('r1', intent('r1:send:a', 1));
  store.record('r1', intent('r1:send:b', 2));
  await store.flushed();
  expect((await store.connectorMetrics(...SPAN))[0]).toMatchObject({
    connector: 'mail.smtp',
    actions: 2,
    open: 2,
  });

  store.record('r1', done('r1:send:a', 3));
  await store.flushed();
  expect((await store.connectorMetrics(...SPAN))[0]).toMatchObject({ actions: 2, succeeded: 1, open: 1 });

  // Start-up repair reloads a run whole: its rows are deleted and written again, keys and all.
  const journal = [
    intent('r1:send:a', 1),
    intent('r1:send:b', 2),
    done('r1:send:a', 3),
    done('r1:send:b', 4),
  ];
  for (let i = 0; i < 25; i++) {
    store.reload('r1', journal);
    if (i % 5 === 0) store.record('r1', done('r1:send:b', 4));
    await store.flushed();
  }
  expect((await store.connectorMetrics(...SPAN))[0]).toMatchObject({ actions: 2, succeeded: 2, open: 0 });
  expect((await store.rowCounts()).get('r1')).toMatchObject({ actions: 2, settled: 2 });
  await store.close();

  // And after a restart, the same.
  const again = await open();
  expect((await again.rowCounts()).get('r1')).toMatchObject({ actions: 2, settled: 2 });
  await again.close();
  expect(warnings).toEqual([]);
});

it('opens a store whose actions table has a primary key: the rows stay, the key goes, writes go on', async () => {
  const instance = await duckdb().DuckDBInstance.create(file);
  const db = await instance.connect();
  await db.run(`CREATE TABLE actions (
    run_id VARCHAR, key VARCHAR, step_id VARCHAR, connector VARCHAR, action VARCHAR, undoes VARCHAR,
    status VARCHAR, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, error VARCHAR, PRIMARY KEY (run_id, key))`);
  await db.run(
    `INSERT INTO actions VALUES ('r0', 'r0:send:a', 'send', 'mail.smtp@1', 'send', NULL, 'open', $1::TIMESTAMPTZ, NULL, NULL)`,
    [at(0)],
  );
  db.closeSync();
  instance.closeSync();

  const store = await open();
  expect((await store.rowCounts()).get('r0')).toMatchObject({ actions: 1, settled: 0 });
  store.record('r0', done('r0:send:a', 5));
  store.reload('r2', [intent('r2:send:a', 6)]);
  await store.flushed();
  expect((await store.rowCounts()).get('r0')).toMatchObject({ actions: 1, settled: 1 });
  expect((await store.rowCounts()).get('r2')).toMatchObject({ actions: 1, settled: 0 });
  await store.close();

  const check = await duckdb().DuckDBInstance.create(file);
  const read = await check.connect();
  const keys = await read.runAndReadAll(
    `SELECT count(*)::INTEGER FROM duckdb_constraints() WHERE table_name = 'actions' AND constraint_type = 'PRIMARY KEY'`,
  );
  expect(keys.getRows()[0]![0]).toBe(0);
  read.closeSync();
  check.closeSync();
  expect(warnings).toEqual([]);
});
