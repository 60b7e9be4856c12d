/**
 * The approval inbox's inline diff: per changed file, hunks with three lines of context numbered on
 * both sides; created and deleted files whole; a proposal's diff capped, with what was left out
 * counted; binary files and unchanged files said in words; and a key that changes when the
 * proposal goes stale or its file changes again, so the diff is computed again only then.
 */
import { describe, expect, it } from 'vitest';
import type { FileChange, Proposal } from '@keel/schemas';
import { inboxDiffKey } from '../../extension/src/approvals/inboxModel';
import { fileDiff, proposalDiff, sidesOf } from '../../extension/src/approvals/proposalDiff';

const lines = (from: number, to: number, word = 'line'): string =>
  Array.from({ length: to - from + 1 }, (_, i) => `${word} ${from + i}\n`).join('');

const proposalOf = (...changes: FileChange[]): Pick<Proposal, 'changes'> => ({ changes });
const change = (path: string, action: FileChange['action'], content: string | null): FileChange => ({
  path,
  action,
  baseHash: action === 'create' ? null : 'h',
  content,
});

describe('inline diff of a proposal', () => {
  it('shows a change with three lines of context, numbered in the file now and as proposed', () => {
    const before = lines(1, 20);
    const after = before.replace('line 10\n', 'line ten\nline ten and a half\n');
    const file = fileDiff({ path: 'memory/a.md', action: 'modify' }, before, after, 400);
    expect(file).toMatchObject({ kind: 'text', added: 2, removed: 1, omitted: 0 });
    expect(file.hunks).toHaveLength(1);
    const [hunk] = file.hunks;
    expect(hunk).toMatchObject({ oldStart: 7, oldLines: 7, newStart: 7, newLines: 8 });
    expect(hunk!.lines).toEqual([
      { kind: 'context', text: 'line 7', oldLine: 7, newLine: 7 },
      { kind: 'context', text: 'line 8', oldLine: 8, newLine: 8 },
      { kind: 'context', text: 'line 9', oldLine: 9, newLine: 9 },
      { kind: 'removed', text: 'line 10', oldLine: 10, newLine: null },
      { kind: 'added', text: 'line ten', oldLine: null, newLine: 10 },
      { kind: 'added', text: 'line ten and a half', oldLine: null, newLine: 11 },
      { kind: 'context', text: 'line 11', oldLine: 11, newLine: 12 },
      { kind: 'context', text: 'line 12', oldLine: 12, newLine: 13 },
      { kind: 'context', text: 'line 13', oldLine: 13, newLine: 14 },
    ]);
  });

  it('keeps changes far apart in separate hunks', () => {
    const before = lines(1, 40);
    const after = before.replace('line 5\n', 'five\n').replace('line 35\n', 'thirty-five\n');
    const file = fileDiff({ path: 'a.md', action: 'modify' }, before, after, 400);
    expect(file.hunks.map((h) => [h.oldStart, h.newStart])).toEqual([
      [2, 2],
      [32, 32],
    ]);
  });

  it('shows a created file whole, as added lines, and a deleted one whole, as removed lines', () => {
    const content = lines(1, 12);
    const { files } = proposalDiff(
      proposalOf(change('memory/new.md', 'create', content), change('memory/old.md', 'delete', null)),
      { 'memory/new.md': null, 'memory/old.md': lines(1, 5, 'old') },
    );
    expect(files[0]).toMatchObject({ path: 'memory/new.md', action: 'create', added: 12, removed: 0 });
    expect(files[0]!.hunks[0]!.lines.map((l) => [l.kind, l.newLine])).toEqual(
      Array.from({ length: 12 }, (_, i) => ['added', i + 1]),
    );
    expect(files[1]).toMatchObject({ path: 'memory/old.md', action: 'delete', added: 0, removed: 5 });
    expect(files[1]!.hunks[0]!.lines.map((l) => [l.kind, l.oldLine, l.text])).toEqual(
      Array.from({ length: 5 }, (_, i) => ['removed', i + 1, `old ${i + 1}`]),
    );
  });

  it("diffs to the operator's saved edit where they made one, since approving applies it", () => {
    const { files } = proposalDiff(
      proposalOf(
        change('memory/acme.md', 'modify', '# Acme\nSam Okafor\n'),
        change('memory/old.md', 'delete', null),
      ),
      { 'memory/acme.md': '# Acme\nLena Berg\n', 'memory/old.md': 'old\n' },
      { edits: { 'memory/acme.md': '# Acme\nSam Okafor, CFO\n', 'memory/old.md': 'ignored\n' } },
    );
    expect(files[0]!.edited).toBe(true);
    expect(files[0]!.hunks[0]!.lines.filter((l) => l.kind === 'added').map((l) => l.text)).toEqual([
      'Sam Okafor, CFO',
    ]);
    // A deletion has no proposed text to edit: it stays the agent's.
    expect(files[1]).toMatchObject({ removed: 1, added: 0 });
    expect(files[1]!.edited).toBeUndefined();
  });

  it('caps the lines of a proposal across its files and counts the rest', () => {
    const { files, omitted } = proposalDiff(
      proposalOf(
        change('a.md', 'create', lines(1, 300)),
        change('b.md', 'create', lines(1, 300)),
        change('c.md', 'create', lines(1, 10)),
      ),
      {},
      { cap: 400 },
    );
    const shown = files.map((f) => f.hunks.reduce((n, h) => n + h.lines.length, 0));
    expect(shown).toEqual([300, 100, 0]);
    expect(files.map((f) => f.omitted)).toEqual([0, 200, 10]);
    expect(omitted).toBe(210);
    // The counts are the whole file's, not what fits.
    expect(files.map((f) => f.added)).toEqual([300, 300, 10]);
  });

  it('says a file is binary, or already as proposed, instead of diffing it', () => {
    const { files } = proposalDiff(
      proposalOf(
        change('logo.png', 'modify', 'PNG\0\0new'),
        change('latin1.txt', 'modify', 'caf\uFFFD'),
        change('same.md', 'modify', 'same\n'),
      ),
      { 'logo.png': 'PNG\0\0old', 'latin1.txt': 'cafe', 'same.md': 'same\n' },
    );
    expect(files.map((f) => [f.kind, f.hunks.length])).toEqual([
      ['binary', 0],
      ['binary', 0],
      ['identical', 0],
    ]);
  });

  it('marks a missing newline at the end and cuts a very long line', () => {
    const file = fileDiff({ path: 'a.md', action: 'modify' }, 'x\ny', `x\n${'z'.repeat(5_000)}\n`, 400);
    const [, removed, added] = file.hunks[0]!.lines;
    expect(removed).toMatchObject({ kind: 'removed', text: 'y', noNewline: true });
    expect(added!.kind).toBe('added');
    expect(added!.text.length).toBeLessThan(2_100);
    expect(added!.text).toMatch(/… \(line cut\)$/);
  });

  it('diffs the same two sides the diff editor shows', () => {
    const proposal = proposalOf(change('a.md', 'modify', 'new'), change('b.md', 'delete', null));
    expect(sidesOf(proposal, { 'a.md': 'old', 'b.md': 'gone' }, 'a.md')).toEqual({
      current: 'old',
      proposed: 'new',
    });
    expect(sidesOf(proposal, { 'a.md': null }, 'b.md')).toEqual({ current: '', proposed: '' });
  });

  it('names the diff by proposal, status and file versions', () => {
    const pending = { id: 'p1', status: 'pending' as const, changes: [change('a.md', 'modify', 'x')] };
    const stale = { ...pending, status: 'stale' as const };
    const rebased = { ...stale, changes: [{ ...change('a.md', 'modify', 'x'), baseHash: 'h2' }] };
    const keys = [pending, stale, rebased].map(inboxDiffKey);
    expect(new Set(keys).size).toBe(3);
    expect(inboxDiffKey({ ...pending })).toBe(keys[0]);
  });
});
