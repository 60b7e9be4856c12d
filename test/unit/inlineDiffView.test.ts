// @vitest-environment happy-dom
/**
 * The inbox's inline diff as drawn (extension/src/approvals/webview/inlineDiff.ts, in happy-dom):
 * asked of the host once per proposal version, each file a <details> fold with a <summary> the
 * keyboard reaches, lines marked with signs and words as well as colour, line numbers on both
 * sides, and a capped diff ending in a button to the full one.
 */
import { describe, expect, it } from 'vitest';
import type { Proposal } from '@keel/schemas';
import { inboxDiffKey } from '../../extension/src/approvals/inboxModel';
import { proposalDiff } from '../../extension/src/approvals/proposalDiff';
import { InlineDiffs } from '../../extension/src/approvals/webview/inlineDiff';

const lines = (n: number): string => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join('');

const proposal = (change: Partial<Proposal> = {}): Proposal => ({
  id: 'p1',
  runId: 'r1',
  stepId: 'record',
  runbook: 'notes',
  summary: 'New contact at acme',
  reasoning: '',
  changes: [
    { path: 'memory/acme.md', action: 'modify', baseHash: 'h1', content: '# Acme\nSam Okafor\n' },
    { path: 'memory/big.md', action: 'create', baseHash: null, content: lines(500) },
  ],
  status: 'pending',
  protected: false,
  createdAt: '2026-12-04T09:00:00.000Z',
  staleFiles: [],
  decision: null,
  ...change,
});
const CURRENT = { 'memory/acme.md': '# Acme\nLena Berg\n', 'memory/big.md': null };

/** The elements under `root` that match `selector`, in document order. */
const all = <T extends HTMLElement = HTMLElement>(root: ParentNode, selector: string): T[] =>
  Array.from(root.querySelectorAll<T>(selector));
const text = (root: ParentNode, selector: string): string | null | undefined =>
  root.querySelector(selector)?.textContent;

function drawn(p: Proposal): { view: HTMLElement; asked: string[]; opened: string[]; diffs: InlineDiffs } {
  const asked: string[] = [];
  const opened: string[] = [];
  const diffs = new InlineDiffs(
    (id) => asked.push(id),
    (id) => opened.push(id),
  );
  diffs.view(p);
  diffs.receive({ type: 'diff', key: inboxDiffKey(p), diff: proposalDiff(p, CURRENT) }, p);
  return { view: diffs.view(p), asked, opened, diffs };
}

describe('the inbox inline diff', () => {
  it('asks the host once per proposal version and lists the files meanwhile', () => {
    const asked: string[] = [];
    const diffs = new InlineDiffs(
      (id) => asked.push(id),
      () => undefined,
    );
    const waiting = diffs.view(proposal());
    expect(waiting.textContent).toContain('~ modify memory/acme.md');
    expect(waiting.querySelector('.muted')?.getAttribute('role')).toBe('status');
    diffs.view(proposal());
    expect(asked).toEqual(['p1']);
    // Gone stale: a new version of the file, so a new diff.
    diffs.view(proposal({ status: 'stale', staleFiles: ['memory/acme.md'] }));
    expect(asked).toEqual(['p1', 'p1']);
    // An answer for an older version is kept but not drawn for this one.
    expect(
      diffs.receive(
        { type: 'diff', key: inboxDiffKey(proposal()), diff: { files: [], omitted: 0 } },
        proposal({ status: 'stale' }),
      ),
    ).toBe(false);
  });

  it('draws each file as an open fold with signs, words and numbers on every line', () => {
    const { view } = drawn(proposal());
    const files = all<HTMLDetailsElement>(view, '.file-diff');
    expect(files.map((f) => [f.tagName, f.open, f.children[0]!.tagName])).toEqual([
      ['DETAILS', true, 'SUMMARY'],
      ['DETAILS', true, 'SUMMARY'],
    ]);
    expect(files[0]!.children[0]!.textContent).toBe('~ modify memory/acme.md +1 −1');
    const rows = all(files[0]!, '.diff-line').map((row) => ({
      kind: row.className.replace('diff-line ', ''),
      numbers: all(row, '.line-number').map((n) => n.textContent),
      sign: text(row, '.diff-sign'),
      said: text(row, '.visually-hidden'),
      text: text(row, '.diff-text'),
    }));
    expect(rows).toEqual([
      { kind: 'context', numbers: ['1', '1'], sign: ' ', said: 'Unchanged, line 1: ', text: '# Acme' },
      { kind: 'removed', numbers: ['2', ''], sign: '-', said: 'Removed, line 2: ', text: 'Lena Berg' },
      { kind: 'added', numbers: ['', '2'], sign: '+', said: 'Added, line 2: ', text: 'Sam Okafor' },
    ]);
    // Signs and numbers are for the eye; the words say the same to a screen reader.
    for (const hidden of all(files[0]!, '.diff-sign, .line-number')) {
      expect(hidden.getAttribute('aria-hidden')).toBe('true');
    }
    const header = files[0]!.querySelector('.hunk-header')!;
    expect(
      Array.from(header.children).map((part) => [part.textContent, part.getAttribute('aria-hidden')]),
    ).toEqual([
      ['@@ -1,2 +1,2 @@', 'true'],
      ['Lines 1 to 2 now, 1 to 2 proposed', null],
    ]);
  });

  it("says a file's diff is to the operator's edit", () => {
    const p = proposal();
    const diffs = new InlineDiffs(
      () => undefined,
      () => undefined,
    );
    const edits = { 'memory/acme.md': '# Acme\nSam Okafor, CFO\n' };
    diffs.receive({ type: 'diff', key: inboxDiffKey(p), diff: proposalDiff(p, CURRENT, { edits }) }, p);
    const summaries = all(diffs.view(p), 'summary').map((s) => s.textContent);
    expect(summaries).toEqual([
      '~ modify memory/acme.md +1 −1 · with your edits',
      '+ create memory/big.md +500 −0',
    ]);
  });

  it('ends a capped diff with the count left out and a button to the full diff', () => {
    const { view, opened } = drawn(proposal());
    const big = all(view, '.file-diff')[1]!;
    expect(all(big, '.diff-line.added')).toHaveLength(400 - 3);
    const more = big.querySelector('.diff-more')!;
    expect(more.textContent).toBe('103 more lines — open the full diff (o)');
    const open = more.children[0] as HTMLElement;
    expect(open.tagName).toBe('BUTTON');
    open.click();
    expect(opened).toEqual(['p1']);
  });

  it('keeps a fold closed when the inbox is drawn again', () => {
    const { view, diffs } = drawn(proposal());
    const first = all<HTMLDetailsElement>(view, '.file-diff')[0]!;
    first.open = false;
    first.dispatchEvent(new Event('toggle'));
    const again = diffs.view(proposal());
    expect(all<HTMLDetailsElement>(again, '.file-diff').map((f) => f.open)).toEqual([false, true]);
  });

  it('says in words what a binary or unchanged file is, and why a diff is missing', () => {
    const p = proposal({
      changes: [{ path: 'logo.png', action: 'modify', baseHash: 'h', content: 'PNG\0' }],
    });
    const diffs = new InlineDiffs(
      () => undefined,
      () => undefined,
    );
    diffs.receive(
      { type: 'diff', key: inboxDiffKey(p), diff: proposalDiff(p, { 'logo.png': 'PNG\0old' }) },
      p,
    );
    expect(diffs.view(p).textContent).toContain('Binary, or not UTF-8 text');
    diffs.receive({ type: 'diffError', key: inboxDiffKey(proposal()), message: 'EACCES' }, proposal());
    expect(diffs.view(proposal()).textContent).toContain('The diff could not be shown: EACCES');
  });
});
