/**
 * Keel's two webview views, the sidebar and the Dashboard, render even when their script's `ready`
 * goes astray. Here every webview holds its `ready` back for ten minutes
 * (KEEL_TEST_WEBVIEW_READY_DELAY_MS), so the views can only render from the state the host sends
 * without being asked (extension/src/webviewHost/readyHandshake.ts), and they must, with content, on every
 * load of the workbench: the sidebar when the Keel container opens, then the Dashboard beside it.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT, startCodeServer, type CodeServer } from './harness/codeServer';
import {
  findFrame,
  keelActivityBarIcon,
  launchBrowser,
  openWorkbench,
  screenshot,
  waitForIndexedNotes,
} from './harness/workbench';

const run = promisify(execFile);
const LOADS = 3;
let server: CodeServer;
let browser: Browser;
let page: Page | null = null;

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startCodeServer('webviews', { env: { KEEL_TEST_WEBVIEW_READY_DELAY_MS: String(10 * 60_000) } }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});
afterEach(async () => {
  await page?.close();
  page = null;
});

it(
  'the sidebar and the Dashboard both render, though neither says ready',
  async () => {
    const folder = await server.newFolder('both-views');
    await run(process.execPath, [join(REPO_ROOT, 'daemon', 'dist', 'cli.js'), 'init', folder], {
      env: { ...process.env, KEEL_RUNTIME_DIR: server.runtimeDir },
    });
    await mkdir(join(folder, 'memory', 'customers'), { recursive: true });
    await writeFile(join(folder, 'memory', 'customers', 'acme.md'), '# Acme\n\nAcme Ltd, Bristol.\n');

    for (let load = 1; load <= LOADS; load++) {
      try {
        page = await openWorkbench(browser, server, folder);
        // Everything has settled before the views open: no later change would post them a state.
        await waitForIndexedNotes(page, 1);
        const opened = Date.now();
        await keelActivityBarIcon(page).click();

        const sidebar = await findFrame(page, '#app[data-connection="running"]', 30_000);
        // The Dashboard starts folded (see the README's In VS Code), and VS Code remembers it open.
        const dashboardHeader = page
          .locator('.pane-header')
          .filter({ has: page.locator('h3.title', { hasText: /^Dashboard$/i }) });
        if ((await dashboardHeader.getAttribute('aria-expanded')) !== 'true') await dashboardHeader.click();
        const dashboard = await findFrame(page, '#dashboard[data-connection="running"]', 30_000);
        expect(await sidebar.locator('[data-field="state"]').textContent()).toBe('Running');
        await sidebar.locator('#memory-search').waitFor();
        await dashboard.locator('[data-field="index-documents"]', { hasText: /^1$/ }).waitFor();
        await dashboard.locator('#emergency-stop').waitFor();
        console.info(`load ${load}: both views rendered ${Date.now() - opened} ms after the click`);
        if (load === 1) await screenshot(page, 'webviews-both');
        await page.close();
        page = null;
      } catch (error) {
        if (page) await screenshot(page, `webviews-load-${load}-failed`).catch(() => undefined);
        throw error;
      }
    }
  },
  LOADS * 120_000,
);
