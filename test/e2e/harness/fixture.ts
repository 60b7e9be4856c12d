/**
 * The one fixture every end-to-end suite runs on (vitest's `test.extend`). Per file: a code-server
 * with the packaged Keel installed and a Chromium, started together and stopped after the file's
 * last test. Per test: a workspace builder, and the workbench pages the test opens, closed after it;
 * when the test fails, the last page still open is kept as test/e2e/artifacts/NAME-failed.png.
 *
 *   import { test } from './harness/fixture';
 *   test('...', async ({ workspace, pages }) => {
 *     const page = await pages.open(await workspace('acme', { from: 'init' }), 'sidebar-running');
 *   });
 */
import { basename } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { expect, test as base } from 'vitest';
import { startCodeServer, type CodeServer, type CodeServerOptions } from './codeServer';
import { launchBrowser, loadWorkbench, newPage, screenshot } from './workbench';
import { buildWorkspace, type WorkspaceBuilder } from './workspace';

export interface Pages {
  /**
   * Opens `folder` in a new page and waits for the workbench with Keel in it (`loadWorkbench`).
   * `name` names what the page shows: a failure keeps it as NAME-failed.png.
   */
  open(folder: string, name: string): Promise<Page>;
  /** A new blank page, for a test that loads the workbench its own way. */
  blank(name: string): Promise<Page>;
}

/**
 * `serverOptions` is how the file's code-server starts (`{}`); a file that needs more sets it
 * before its tests: `test.override('serverOptions', { workspaceTrust: true })`. `harness` starts
 * code-server and Chromium together; tests use `server` and `browser`. `workspace` makes a folder
 * under the server's temporary root (see WorkspaceSpec).
 */
export const test = base
  .extend('serverOptions', { scope: 'file' }, {} as CodeServerOptions)
  .extend('harness', { scope: 'file' }, async ({ serverOptions }, { onCleanup }) => {
    const [server, browser] = await Promise.allSettled([
      startCodeServer(logsName(), serverOptions),
      launchBrowser(),
    ]);
    const stop = async (): Promise<void> => {
      if (browser.status === 'fulfilled') await browser.value.close();
      if (server.status === 'fulfilled') await server.value.stop();
    };
    if (server.status === 'rejected' || browser.status === 'rejected') {
      await stop();
      throw server.status === 'rejected' ? server.reason : (browser as PromiseRejectedResult).reason;
    }
    onCleanup(stop);
    return { server: server.value, browser: browser.value };
  })
  .extend('server', { scope: 'file' }, ({ harness }): CodeServer => harness.server)
  .extend('browser', { scope: 'file' }, ({ harness }): Browser => harness.browser)
  .extend(
    'workspace',
    ({ server }): WorkspaceBuilder =>
      (name, spec) =>
        buildWorkspace(server, name, spec),
  )
  .extend('pages', ({ server, browser, task }, { onCleanup }): Pages => {
    const opened: { page: Page; name: string }[] = [];
    const blank = async (name: string): Promise<Page> => {
      const page = await newPage(browser);
      opened.push({ page, name });
      return page;
    };
    onCleanup(async () => {
      const open = opened.filter(({ page }) => !page.isClosed());
      const last = open.at(-1);
      if (last && task.result?.state === 'fail') {
        await screenshot(last.page, `${last.name}-failed`).catch(() => undefined);
      }
      await Promise.all(open.map(({ page }) => page.close()));
    });
    return {
      blank,
      open: async (folder, name) => {
        const page = await blank(name);
        await loadWorkbench(page, server, folder);
        return page;
      },
    };
  });

/** Names the file's logs under artifacts/logs/: approvalInbox.e2e.test.ts logs to approval-inbox. */
function logsName(): string {
  const file = basename(expect.getState().testPath ?? 'e2e', '.e2e.test.ts');
  return file.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
