/**
 * The inbox's inline diff (and approving) read the operator's edit of a proposal from
 * `.keel/edits/<id>/`. A cloned workspace can ship that folder: a link there to a file outside it
 * (a key, a mailbox) must not be read as the operator's edit, shown in the inbox or sent as the
 * proposed text. VS Code's API is faked: only `Uri.file`.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import type { Proposal } from '@keel/schemas';
import { savedEdits } from '../../extension/src/approvals/approvalActions';

vi.mock('vscode', () => ({
  Uri: { file: (fsPath: string) => ({ scheme: 'file', fsPath }) },
}));

const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

const proposal = (id: string): Proposal => ({
  id,
  runId: 'r1',
  stepId: 'record',
  runbook: 'notes',
  summary: 'Update acme and beta',
  reasoning: '',
  changes: [
    { path: 'memory/acme.md', action: 'modify', baseHash: 'h1', content: '# Acme\n' },
    { path: 'memory/beta.md', action: 'modify', baseHash: 'h2', content: '# Beta\n' },
  ],
  status: 'pending',
  protected: false,
  createdAt: '2026-12-04T09:00:00.000Z',
  staleFiles: [],
  decision: null,
});

it("reads the operator's edit copies, never a link planted among them", async () => {
  const root = await mkdtemp(join(tmpdir(), 'keel-edit-link-'));
  made.push(root);
  const folder = join(root, 'workspace');
  const secret = join(root, 'id_ed25519');
  await writeFile(secret, 'PRIVATE KEY');
  const copies = join(folder, '.keel', 'edits', 'p1', 'memory');
  await mkdir(copies, { recursive: true });
  await writeFile(join(copies, 'acme.md'), '# Acme\nedited\n');
  await symlink(secret, join(copies, 'beta.md'));

  expect(await savedEdits(folder, proposal('p1'))).toEqual({ 'memory/acme.md': '# Acme\nedited\n' });
});
