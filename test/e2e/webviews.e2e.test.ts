/**
 * Keel's two webview views, the sidebar and the Dashboard, render even when their script's `ready`
 * goes astray. Here every webview holds its `ready` back for ten minutes
 * (KEEL_TEST_WEBVIEW_READY_DELAY_MS), so the views can only render from the state the host sends
 * without being asked (extension/src/webviewHost/readyHandshake.ts), and they must, with content, on every
 * load of the workbench: the sidebar when the Keel container opens, and the Dashboard beside it.
 * And a view whose page never loads at all (in code-server a webview's frame can wait for good for
 * its service worker) is loaded again by the host (extension/src/webviewHost/silentWebview.ts): here the
 * browser holds back the first webview frame the Keel container asks for.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page, Route } from 'playwright-core';
import { expect } from 'vitest';
import type { CodeServer } from './harness/codeServer';
import { test } from './harness/fixture';
import { findFrame, keelActivityBarIcon, screenshot, waitForIndexedNotes } from './harness/workbench';
import type { WorkspaceSpec } from './harness/workspace';

const LOADS = 3;
test.override('serverOptions', { env: { KEEL_TEST_WEBVIEW_READY_DELAY_MS: String(10 * 60_000) } });

/** A Keel workspace with one note. */
const KEEL_FOLDER: WorkspaceSpec = {
  from: 'init',
  files: { 'memory/customers/acme.md': '# Acme\n\nAcme Ltd, Bristol.\n' },
};

/** What the extension wrote to its log (Keel: Show Logs) in this code-server so far. */
async function keelLog(server: CodeServer): Promise<string> {
  const logs = join(server.root, 'user-data', 'logs');
  const files = (await readdir(logs, { recursive: true })).filter((f) =>
    f.endsWith(join('keel.keel', 'Keel.log')),
  );
  const texts = await Promise.all(files.map((f) => readFile(join(logs, f), 'utf8')));
  return texts.join('\n');
}

function paneHeader(p: Page, title: RegExp) {
  return p.locator('.pane-header').filter({ has: p.locator('h3.title', { hasText: title }) });
}

test(
  'the sidebar and the Dashboard both render, though neither says ready',
  async ({ workspace, pages }) => {
    const folder = await workspace('both-views', KEEL_FOLDER);

    for (let load = 1; load <= LOADS; load++) {
      const page = await pages.open(folder, `webviews-load-${load}`);
      // Everything has settled before the views open: no later change would post them a state.
      await waitForIndexedNotes(page, 1);
      const opened = Date.now();
      await keelActivityBarIcon(page).click();

      const sidebar = await findFrame(page, '#app[data-connection="running"]', 30_000);
      // The Dashboard starts open below the sidebar.
      expect(await paneHeader(page, /^Dashboard$/i).getAttribute('aria-expanded')).toBe('true');
      const dashboard = await findFrame(page, '#dashboard[data-connection="running"]', 30_000);
      expect(await sidebar.locator('[data-field="state"]').textContent()).toBe('Running');
      await sidebar.locator('#memory-search').waitFor();
      await dashboard.locator('[data-field="index-documents"]', { hasText: /^1$/ }).waitFor();
      await dashboard.locator('#emergency-stop').waitFor();
      console.info(`load ${load}: both views rendered ${Date.now() - opened} ms after the click`);
      if (load === 1) await screenshot(page, 'webviews-both');
      await page.close();
    }
  },
  LOADS * 120_000,
);

test('a view whose page never loads is loaded again by itself, and shows its content', async ({
  server,
  workspace,
  pages,
}) => {
  const folder = await workspace('held-frame', KEEL_FOLDER);
  const page = await pages.open(folder, 'webviews-held-frame');
  await waitForIndexedNotes(page, 1);
  // The first webview frame the container asks for never arrives, as one waiting for good for its
  // service worker does not; the second view's, and any later one, load.
  const held: Route[] = [];
  await page.route(/\/webview\/browser\/pre\/index\.html/, (route) =>
    held.length === 0 ? void held.push(route) : route.continue(),
  );
  const reloadsBefore = (await keelLog(server)).match(/again: its page did not load/g)?.length ?? 0;
  const opened = Date.now();
  await keelActivityBarIcon(page).click();

  const sidebar = await findFrame(page, '#app[data-connection="running"]', 60_000);
  const dashboard = await findFrame(page, '#dashboard[data-connection="running"]', 60_000);
  console.info(`both views rendered ${Date.now() - opened} ms after the click, one frame held back`);
  expect(held).toHaveLength(1);
  await sidebar.locator('#memory-search').waitFor();
  await dashboard.locator('[data-field="index-documents"]', { hasText: /^1$/ }).waitFor();
  // Both views are where they were, open, and their frames on screen.
  const [keelBox, dashboardBox] = await Promise.all([
    paneHeader(page, /^Keel$/i).boundingBox(),
    paneHeader(page, /^Dashboard$/i).boundingBox(),
  ]);
  expect(dashboardBox!.y).toBeGreaterThan(keelBox!.y);
  expect(await paneHeader(page, /^Dashboard$/i).getAttribute('aria-expanded')).toBe('true');
  for (const frame of [sidebar, dashboard]) {
    const box = await (await frame.frameElement()).boundingBox();
    expect(box!.height).toBeGreaterThan(50);
  }
  await screenshot(page, 'webviews-reloaded');
  // The log says what happened (Keel: Show Logs).
  const reloads = async (): Promise<number> =>
    (await keelLog(server)).match(/again: its page did not load/g)?.length ?? 0;
  expect(await reloads()).toBeGreaterThan(reloadsBefore);
}, 180_000);
