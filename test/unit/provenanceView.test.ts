/** Provenance as the editor shows it: the note's CodeLens, its quick pick of runs, the dashboard's stale rows. */
import { describe, expect, it } from 'vitest';
import type { MemoryWhyRequest, NoteUse, ResultOf, StaleRun } from '@keel/schemas';
import {
  codeLensTitle,
  noteUsage,
  plainText,
  runPickItems,
  staleRunRows,
} from '../../extension/src/provenance/provenanceModel';

const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);
const time = (iso: string): string => iso.slice(0, 10);

const use = (change: Partial<NoteUse>): NoteUse => ({
  runId: 'r1',
  runbook: 'brief',
  status: 'succeeded',
  startedAt: '2026-12-01T09:00:00.000Z',
  readAt: '2026-12-01T09:00:01.000Z',
  steps: ['facts'],
  blob: NEW,
  current: true,
  ...change,
});
const why = (runs: NoteUse[]): ResultOf<typeof MemoryWhyRequest> => ({
  path: 'memory/customers/acme.md',
  blob: NEW,
  runs,
  changes: [],
});

describe('the note CodeLens', () => {
  it('says nothing for a note no run used', () => {
    expect(codeLensTitle(why([]))).toBeNull();
  });

  it('counts runs, not reads, and the stale ones among them', () => {
    const runs = [
      use({ runId: 'r3', blob: OLD, current: false }),
      use({ runId: 'r2' }),
      use({ runId: 'r1', blob: OLD, current: false }),
      // r1 read the note again after it changed: it saw the current version.
      use({ runId: 'r1', blob: NEW, current: true }),
      // A journal from before blobs were kept: unknown, so not called stale.
      use({ runId: 'r0', blob: null, current: false }),
    ];
    expect(noteUsage(why(runs))).toEqual({ runs: 4, stale: 1 });
    expect(codeLensTitle(why(runs))).toBe('Used by 4 runs (1 possibly stale)');
    expect(codeLensTitle(why([use({})]))).toBe('Used by 1 run');
  });

  it('lists each run once in the quick pick, stale ones marked, opening by run id', () => {
    const items = runPickItems(
      why([use({ runId: 'r2', blob: OLD, current: false }), use({ runId: 'r1' })]),
      time,
    );
    expect(items.map((i) => [i.runId, i.label])).toEqual([
      ['r2', '$(warning) brief'],
      ['r1', '$(check) brief'],
    ]);
    expect(items[0]!.detail).toBe('Possibly stale: read aaaaaaa, the note has changed since');
    expect(items[1]!.detail).toBe('Read the note as it is now (bbbbbbb) in facts');
    expect(items[1]!.description).toBe('2026-12-01 · succeeded');
  });
});

describe('the dashboard rows of possibly stale runs', () => {
  const stale = (change: Partial<StaleRun>): StaleRun => ({
    runId: 'r1',
    runbook: 'brief',
    status: 'succeeded',
    startedAt: '2026-12-01T09:00:00.000Z',
    notes: [{ path: 'memory/customers/acme.md', blob: OLD, currentBlob: NEW }],
    ...change,
  });

  it('names the run, the notes changed since, and labels both buttons', () => {
    const [row] = staleRunRows(
      [stale({ notes: [...stale({}).notes, { path: 'memory/old.md', blob: OLD, currentBlob: null }] })],
      time,
    );
    expect(row).toEqual({
      runId: 'r1',
      title: 'brief (started 2026-12-01)',
      detail: 'Built on memory/customers/acme.md, memory/old.md (deleted since), changed since.',
      rerunLabel: 'Re-run brief with the same inputs',
      openLabel: 'Open the trace of brief, started 2026-12-01',
    });
  });

  it('shortens long text to one bounded line', () => {
    expect(plainText('x'.repeat(500), 20)).toHaveLength(20);
  });
});
