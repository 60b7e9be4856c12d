/**
 * A run's timeline opens the notes the run read, by the paths its journal holds. A hostile note or
 * model answer that gets a path like `../../.ssh/id_rsa` or `/etc/passwd` into a trace must not
 * make the editor open a file outside the workspace; real paths inside it still open.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { notePathInWorkspace } from '../../extension/src/runs/notePath';

let folder: string;
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'keel-timeline-'));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

it('refuses paths that leave the workspace, and resolves notes inside it', () => {
  for (const hostile of [
    '../../.ssh/id_rsa',
    'memory/../../outside.md',
    '..',
    '/etc/passwd',
    join(folder, '..', 'outside.md'),
    'memory/\0.md',
    '',
    '.',
  ]) {
    expect(notePathInWorkspace(folder, hostile), hostile).toBeNull();
  }
  expect(notePathInWorkspace(folder, 'memory/customers/northwind.md')).toBe(
    join(folder, 'memory', 'customers', 'northwind.md'),
  );
  expect(notePathInWorkspace(folder, 'memory/a/../b.md')).toBe(join(folder, 'memory', 'b.md'));
  // A file whose name starts with two dots is inside, not above.
  expect(notePathInWorkspace(folder, '..notes.md')).toBe(join(folder, '..notes.md'));
});
