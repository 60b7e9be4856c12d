/**
 * Stripe says an invoice is paid (a signed `invoice.paid` webhook, over real HTTP) and the example
 * payment-received runbook proposes the payment line for the customer's own note: the diff the
 * operator sees adds that one line under "## Payments"; approving commits it and nothing else of
 * the note, frontmatter included. A note the operator edits before deciding is never overwritten
 * blind: the approval is refused as stale, nothing is written, and the line is computed again over
 * the operator's edit for the next decision.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ApprovalApproveRequest, ApprovalsListRequest } from '@keel/schemas';
import { ACME_NOTE, ACME_PATH, bookkeeperAnswer, paymentWorkspaceForTest } from '../helpers/paymentWorkspace';
import { waitFor } from '../helpers/processes';

const LINE = '- 2026-12-03: invoice KEEL-0007 paid, 4,000 EUR.';
const OLD_LINE = '- 2026-11-03: invoice KEEL-0004 paid, 4,000 EUR.';

it("an invoice.paid webhook proposes one line under Payments in the customer's note; approving commits only it", async () => {
  const ws = await paymentWorkspaceForTest(
    bookkeeperAnswer('2026-12-03: invoice KEEL-0007 paid, 4,000 EUR.'),
  );
  const delivered = await ws.invoicePaid('evt_paid_acme');
  expect(delivered.status, delivered.body).toBe(200);

  const proposal = await ws.noteProposal();
  expect(proposal.changes.map((c) => [c.path, c.action])).toEqual([[ACME_PATH, 'modify']]);
  const { current, proposed } = await ws.diffOf(proposal);
  expect(current).toBe(ACME_NOTE);
  expect(proposed).toBe(ACME_NOTE.replace(`${OLD_LINE}\n`, `${OLD_LINE}\n${LINE}\n`));

  await ws.client.request(ApprovalApproveRequest, { id: proposal.id });
  const note = await readFile(join(ws.dirs.workspace, ACME_PATH), 'utf8');
  expect(note).toBe(proposed);
  expect(note.startsWith(ACME_NOTE.slice(0, ACME_NOTE.indexOf('# Acme')))).toBe(true);
  expect(ws.lastCommitLines(ACME_PATH)).toEqual([1, 0]);
});

it('a note the operator edits before deciding turns the proposal stale, computed again over the edit', async () => {
  const ws = await paymentWorkspaceForTest(
    bookkeeperAnswer('2026-12-03: invoice KEEL-0007 paid, 4,000 EUR.'),
  );
  expect((await ws.invoicePaid('evt_paid_acme_2')).status).toBe(200);
  const proposal = await ws.noteProposal();

  const path = join(ws.dirs.workspace, ACME_PATH);
  const edited = ACME_NOTE.replace('Piet uses the dashboard daily.', 'Piet left in December.');
  await writeFile(path, edited);
  await expect(ws.client.request(ApprovalApproveRequest, { id: proposal.id })).rejects.toThrow(
    /changed since the proposal was made; it is marked stale/,
  );
  expect(await readFile(path, 'utf8')).toBe(edited);
  const stale = await waitFor('the proposal marked stale', async () => {
    const { approvals } = await ws.client.request(ApprovalsListRequest, { status: ['stale'] });
    return approvals.find((p) => p.id === proposal.id) ?? null;
  });
  expect(stale.staleFiles).toEqual([ACME_PATH]);

  // The line is computed again from the note as the operator left it: the new diff adds only it,
  // and approving keeps the operator's edit.
  const { current, proposed } = await ws.diffOf(stale);
  expect(current).toBe(edited);
  expect(proposed).toBe(edited.replace(`${OLD_LINE}\n`, `${OLD_LINE}\n${LINE}\n`));
  await ws.client.request(ApprovalApproveRequest, { id: proposal.id });
  expect(await readFile(path, 'utf8')).toBe(proposed);
});
