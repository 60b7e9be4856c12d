/**
 * The walking skeleton as a user meets it: the packaged extension in a real VS Code, in a real
 * browser. Initialize a folder from the command palette; see the daemon in the sidebar; kill it and
 * see the sidebar say so, then see it running again.
 */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT, startCodeServer, type CodeServer } from './harness/codeServer';
import {
  explorerItem,
  launchBrowser,
  openKeelSidebar,
  openWorkbench,
  runCommand,
  screenshot,
} from './harness/workbench';

const run = promisify(execFile);
let server: CodeServer;
let browser: Browser;
let page: Page | null = null;

beforeAll(async () => {
  [server, browser] = await Promise.all([startCodeServer('skeleton'), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});
afterEach(async () => {
  await page?.close();
  page = null;
});

/** A test that keeps a screenshot of what the user saw when it fails: artifacts/NAME-failed.png. */
function e2e(title: string, name: string, body: () => Promise<void>): void {
  it(title, async () => {
    try {
      await body();
    } catch (error) {
      if (page) await screenshot(page, `${name}-failed`).catch(() => undefined);
      throw error;
    }
  });
}

async function keelInit(folder: string): Promise<void> {
  await run(process.execPath, [join(REPO_ROOT, 'daemon', 'dist', 'cli.js'), 'init', folder], {
    env: { ...process.env, KEEL_RUNTIME_DIR: server.runtimeDir },
  });
}

async function daemonPid(folder: string): Promise<number> {
  const lock = JSON.parse(await readFile(join(folder, '.keel', 'daemon.lock'), 'utf8')) as { pid: number };
  return lock.pid;
}

async function field(sidebar: Frame, name: string): Promise<string> {
  return (await sidebar.locator(`[data-field="${name}"]`).textContent()) ?? '';
}

e2e('initializes an empty folder from the command palette', 'init-workspace', async () => {
  const folder = await server.newFolder('empty');
  page = await openWorkbench(browser, server, folder);

  await runCommand(page, 'Keel: Initialize Workspace');

  await explorerItem(page, 'keel.yaml').waitFor();
  await explorerItem(page, 'memory').waitFor();
  expect(await readFile(join(folder, 'keel.yaml'), 'utf8')).toMatch(/^version: 1$/m);
  // The files show up before `git init` has run; the message comes once everything is done.
  await page.locator('.notifications-toasts', { hasText: 'Keel workspace initialized' }).waitFor();
  expect((await stat(join(folder, '.git'))).isDirectory()).toBe(true);
  await screenshot(page, 'init-workspace');
});

e2e(
  'offers to initialize a folder that is not a Keel workspace, from the sidebar, by keyboard',
  'sidebar-offers-init',
  async () => {
    const folder = await server.newFolder('fresh');
    page = await openWorkbench(browser, server, folder);

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
  },
);

e2e('shows the running daemon for the workspace in the Keel sidebar', 'sidebar-running', async () => {
  const folder = await server.newFolder('acme');
  await keelInit(folder);
  page = await openWorkbench(browser, server, folder);

  const sidebar = await openKeelSidebar(page);
  await sidebar.locator('#app[data-connection="running"]').waitFor();
  expect(await field(sidebar, 'state')).toBe('Running');
  expect(await sidebar.locator('#app').textContent()).toContain(folder);
  expect(await field(sidebar, 'pid')).toBe(String(await daemonPid(folder)));
  expect(await field(sidebar, 'uptime')).toMatch(/^\d+s$/);
  await page.locator('.statusbar-item', { hasText: 'Keel' }).first().waitFor();
  await screenshot(page, 'sidebar-running');
});

e2e('shows a killed daemon as stopped, then running again after the restart', 'daemon-restart', async () => {
  const folder = await server.newFolder('crashy');
  await keelInit(folder);
  page = await openWorkbench(browser, server, folder);
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
