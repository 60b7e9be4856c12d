/** Reading every run journal at a start: in order, each as `readJournal` reads it alone. */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  Journal,
  JournalForgedError,
  journalIds,
  journalPath,
  readJournal,
  readJournals,
} from '../../daemon/src/conductor/journal';
import { NotAPlainFileError, StateSeal } from '../../daemon/src/runtime/stateKey';
import { runRecord } from '../helpers/journals';

let root: string;
let saved: string | undefined;
beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'keel-journals-')));
  saved = process.env.KEEL_STATE_DIR;
  process.env.KEEL_STATE_DIR = join(root, 'state');
  mkdirSync(join(root, 'ws', '.keel', 'runs'), { recursive: true });
});
afterEach(() => {
  process.env.KEEL_STATE_DIR = saved;
  rmSync(root, { recursive: true, force: true });
});

it('reads every journal in order, ended, under way, forged or cut short, as each reads alone', async () => {
  const workspace = join(root, 'ws');
  const dir = join(workspace, '.keel', 'runs');
  const sealer = new StateSeal(workspace);
  const ids = Array.from({ length: 40 }, (_, i) => `20260101-0000${String(i).padStart(2, '0')}-hello-abcdef`);
  for (const [i, id] of ids.entries()) {
    const journal = await Journal.create(journalPath(dir, id), runRecord(id), sealer);
    if (i % 3 !== 0) {
      const end = { outputs: {}, error: null, escalation: null, at: '2026-01-01T00:01:00.000Z' };
      await journal.append({ type: 'runEnd', status: 'succeeded', ...end });
    }
    await journal.close();
  }
  // An edited line, and an ended run cut short before its end.
  const edited = journalPath(dir, ids[7]!);
  writeFileSync(edited, readFileSync(edited, 'utf8').replace('"inputs":{}', '"inputs":{"x":"injected"}'));
  const cut = journalPath(dir, ids[11]!);
  writeFileSync(cut, readFileSync(cut, 'utf8').split('\n')[0] + '\n');

  // A journal Keel sealed, put in place as a link to it: never followed.
  const linked = '20260101-000099-hello-abcdef';
  const elsewhere = join(root, 'elsewhere.jsonl');
  await (await Journal.create(elsewhere, runRecord(linked), sealer)).close();
  symlinkSync(elsewhere, journalPath(dir, linked));
  ids.push(linked);

  const read: { id: string; outcome: unknown }[] = [];
  for (const one of readJournals(dir, await journalIds(dir), sealer)) {
    read.push({ id: one.id, outcome: 'records' in one ? one.records : one.error });
  }
  expect(read.map((r) => r.id)).toEqual(ids);
  for (const { id, outcome } of read) {
    const alone = await readJournal(journalPath(dir, id), sealer).catch((error: unknown) => error);
    expect(outcome).toEqual(alone);
  }
  expect(read[7]!.outcome).toBeInstanceOf(JournalForgedError);
  expect(String(read[11]!.outcome)).toMatch(/cut short before its end/);
  expect(read[40]!.outcome).toBeInstanceOf(NotAPlainFileError);
  expect(read[3]!.outcome).toHaveLength(1); // under way
  expect(read[4]!.outcome).toHaveLength(2); // ended
});

it("lets the next step start before a step's end is synced, and tells both in file order once it is", async () => {
  const workspace = join(root, 'ws');
  const id = '20260101-000000-hello-abcdef';
  const journal = await Journal.create(
    journalPath(join(workspace, '.keel', 'runs'), id),
    runRecord(id),
    new StateSeal(workspace),
  );
  const at = '2026-01-01T00:00:01.000Z';
  const seen: string[] = [];
  const tell = (record: { type: string }): void => void seen.push(`told ${record.type}`);
  const ended = journal.append(
    { type: 'stepEnd', stepId: 'a', status: 'succeeded', output: 'x', error: null, retrieved: [], at },
    tell,
  );
  const started = journal.append({ type: 'stepStart', stepId: 'b', stepType: 'llm', input: {}, at }, tell);
  await started;
  seen.push('next step started');
  await ended;
  seen.push('end synced');
  expect(seen).toEqual(['next step started', 'told stepEnd', 'told stepStart', 'end synced']);
  expect(journal.records.map((r) => r.type)).toEqual(['run', 'stepEnd', 'stepStart']);
  await journal.close();
});
