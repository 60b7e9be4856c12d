/**
 * The walking skeleton as a user meets it: the packaged extension in a real VS Code, in a real
 * browser. Initialize a folder from the command palette; see the daemon in the sidebar; kill it and
 * see the sidebar say so, then see it running again.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame } from 'playwright-core';
import { expect } from 'vitest';
import { test } from './harness/fixture';
import { explorerItem, openKeelSidebar, runCommand, screenshot } from './harness/workbench';

async function daemonPid(folder: string): Promise<number> {
  const lock = JSON.parse(await readFile(join(folder, '.keel', 'daemon.lock'), 'utf8')) as { pid: number };
  return lock.pid;
}

async function field(sidebar: Frame, name: string): Promise<string> {
  return (await sidebar.locator(`[data-field="${name}"]`).textContent()) ?? '';
}

test('initializes an empty folder from the command palette', async ({ workspace, pages }) => {
  const folder = await workspace('empty');
  const page = await pages.open(folder, 'init-workspace');

  await runCommand(page, 'Keel: Initialize Workspace');

  await explorerItem(page, 'keel.yaml').waitFor();
  await explorerItem(page, 'memory').waitFor();
  expect(await readFile(join(folder, 'keel.yaml'), 'utf8')).toMatch(/^version: 1$/m);
  // The files show up before `git init` has run; the message comes once everything is done.
  await page.locator('.notifications-toasts', { hasText: 'Keel workspace initialized' }).waitFor();
  expect((await stat(join(folder, '.git'))).isDirectory()).toBe(true);
  await screenshot(page, 'init-workspace');
});

test('offers to initialize a folder that is not a Keel workspace, from the sidebar, by keyboard', async ({
  workspace,
  pages,
}) => {
  const folder = await workspace('fresh');
  const page = await pages.open(folder, 'sidebar-offers-init');

  const sidebar = await openKeelSidebar(page);
  await sidebar.getByText('is not a Keel workspace yet').waitFor();
  // No daemon is started (and nothing written) until the operator asks.
  await expect(stat(join(folder, '.keel'))).rejects.toThrow(/ENOENT/);
  await screenshot(page, 'sidebar-offers-init');

  const initialize = sidebar.getByRole('button', { name: 'Initialize Workspace' });
  await initialize.focus();
  await page.keyboard.press('Enter');

  await sidebar.locator('#app[data-connection="running"]').waitFor();
  expect(await readFile(join(folder, 'keel.yaml'), 'utf8')).toMatch(/^version: 1$/m);
  await page.keyboard.press('Control+Shift+E');
  await explorerItem(page, 'keel.yaml').waitFor();
});

test('shows the running daemon for the workspace in the Keel sidebar', async ({ workspace, pages }) => {
  const folder = await workspace('acme', { from: 'init' });
  const page = await pages.open(folder, 'sidebar-running');

  const sidebar = await openKeelSidebar(page);
  await sidebar.locator('#app[data-connection="running"]').waitFor();
  expect(await field(sidebar, 'state')).toBe('Running');
  expect(await sidebar.locator('#app').textContent()).toContain(folder);
  expect(await field(sidebar, 'pid')).toBe(String(await daemonPid(folder)));
  expect(await field(sidebar, 'uptime')).toMatch(/^\d+s$/);
  await page.locator('.statusbar-item', { hasText: 'Keel' }).first().waitFor();
  await screenshot(page, 'sidebar-running');
});

test('shows a killed daemon as stopped, then running again after the restart', async ({
  workspace,
  pages,
}) => {
  const folder = await workspace('crashy', { from: 'init' });
  const page = await pages.open(folder, 'daemon-restart');
  const sidebar = await openKeelSidebar(page);
  await sidebar.locator('#app[data-connection="running"]').waitFor();
  const firstPid = await daemonPid(folder);

  process.kill(firstPid, 'SIGKILL');

  await sidebar.locator('#app[data-connection="restarting"]').waitFor();
  expect(await field(sidebar, 'state')).toBe('Stopped');
  expect(await field(sidebar, 'reason')).toMatch(/stopped unexpectedly; restarting in \d+s/);
  await screenshot(page, 'daemon-stopped');

  await sidebar.locator('#app[data-connection="running"]').waitFor({ timeout: 30_000 });
  const secondPid = Number(await field(sidebar, 'pid'));
  expect(secondPid).not.toBe(firstPid);
  expect(secondPid).toBe(await daemonPid(folder));
  await screenshot(page, 'daemon-restarted');
});
