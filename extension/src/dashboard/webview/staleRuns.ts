/**
 * The dashboard's "Possibly stale outputs": each run built on a note that has changed since, with
 * a button to open its trace and a Re-run button. Buttons, so the keyboard reaches both; every
 * text from the workspace goes in `textContent` (see provenanceModel's plainText).
 */
import type { StaleRun } from '@keel/schemas';
import { staleRunRows } from '../../provenance/provenanceModel';
import { element } from '../../webviewHost/webview/dom';

export function staleRunList(
  runs: readonly StaleRun[],
  time: (iso: string) => string,
  open: (id: string) => void,
  rerun: (id: string) => void,
): HTMLElement {
  const list = element('ol', 'stale-runs');
  if (runs.length === 0) list.append(element('li', 'muted', 'No output is built on a note changed since.'));
  for (const row of staleRunRows(runs, time)) {
    const item = element('li', 'stale-run');
    const title = element('button', 'link', row.title);
    title.type = 'button';
    title.dataset.focusKey = `stale:${row.runId}`;
    title.setAttribute('aria-label', row.openLabel);
    title.addEventListener('click', () => open(row.runId));
    const again = element('button', 'secondary', 'Re-run');
    again.type = 'button';
    again.dataset.focusKey = `rerun:${row.runId}`;
    again.setAttribute('aria-label', row.rerunLabel);
    again.addEventListener('click', () => {
      // One click, one run: the button waits for the list that no longer shows the run.
      if (again.getAttribute('aria-disabled') === 'true') return;
      again.setAttribute('aria-disabled', 'true');
      rerun(row.runId);
    });
    item.append(title, element('span', 'stale-detail', row.detail), again);
    list.append(item);
  }
  return list;
}
