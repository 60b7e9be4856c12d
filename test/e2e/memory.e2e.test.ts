/**
 * Memory in the editor, as the operator meets it: search from the command palette's quick pick and
 * from the sidebar, land on the right file and line; a broken note shows up in the Problems panel.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { writeNote } from '../helpers/memory';
import { REPO_ROOT, startCodeServer, type CodeServer } from './harness/codeServer';
import {
  launchBrowser,
  openKeelSidebar,
  openWorkbench,
  runCommand,
  screenshot,
  waitForIndexedNotes,
} from './harness/workbench';

const run = promisify(execFile);
let server: CodeServer;
let browser: Browser;
let page: Page | null = null;

/** A note long enough that the answer sits far below the first screen. */
const ACME = [
  '---',
  'type: customer',
  'tags: [logistics]',
  '---',
  '# Acme Corp',
  '',
  ...Array.from({ length: 30 }, (_, i) => `Background paragraph ${i} about Acme's history and staff.\n`),
  '## Contract',
  '',
  'The renewal is due on 14 March; Acme pays 4,000 EUR a month.',
  '',
].join('\n');
const CONTRACT_LINE = ACME.split('\n').indexOf('## Contract') + 1;

beforeAll(async () => {
  [server, browser] = await Promise.all([startCodeServer('memory'), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});
afterEach(async () => {
  await page?.close();
  page = null;
});

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

async function companyWorkspace(name: string): Promise<string> {
  const folder = await server.newFolder(name);
  await run(process.execPath, [join(REPO_ROOT, 'daemon', 'dist', 'cli.js'), 'init', folder], {
    env: { ...process.env, KEEL_RUNTIME_DIR: server.runtimeDir },
  });
  await writeNote(folder, 'memory/customers/acme.md', ACME);
  await writeNote(
    folder,
    'memory/customers/northwind.md',
    '---\ntype: customer\n---\n# Northwind\n\nRetail chain in Leeds.\n',
  );
  return folder;
}

/** The cursor position VS Code shows in its status bar: `Ln 40, Col 1`. */
async function cursorLine(p: Page): Promise<number> {
  const text = (await p.locator('#status\\.editor\\.selection').textContent()) ?? '';
  return Number(/Ln (\d+)/.exec(text)?.[1] ?? NaN);
}

e2e('searches memory from the quick pick and opens the answer at its line', 'search-quick-pick', async () => {
  const folder = await companyWorkspace('quick-pick');
  page = await openWorkbench(browser, server, folder);
  await waitForIndexedNotes(page, 2);

  await runCommand(page, 'Keel: Search Memory');
  await page.keyboard.type('when is the acme renewal due');
  const row = page.locator('.quick-input-list .monaco-list-row', {
    hasText: `memory/customers/acme.md:${CONTRACT_LINE}`,
  });
  await row.first().waitFor();
  await screenshot(page, 'search-quick-pick');
  // The best answer is first, so Enter opens it.
  await expect
    .poll(async () => page!.locator('.quick-input-list .monaco-list-row').first().textContent())
    .toContain(`acme.md:${CONTRACT_LINE}`);
  await page.keyboard.press('Enter');

  await page.locator('.tab.active', { hasText: 'acme.md' }).waitFor();
  await expect.poll(() => cursorLine(page!)).toBe(CONTRACT_LINE);
  await screenshot(page, 'search-opened-at-line');
});

e2e('searches memory from the sidebar search box', 'search-sidebar', async () => {
  const folder = await companyWorkspace('sidebar-search');
  page = await openWorkbench(browser, server, folder);
  const sidebar = await openKeelSidebar(page);
  await sidebar.locator('[data-field="index-documents"]', { hasText: '2' }).waitFor();

  const box = sidebar.getByRole('searchbox', { name: 'Search memory' });
  await box.fill('retail chain in Leeds');
  await box.press('Enter');
  const first = sidebar.locator('button.result').first();
  await first.waitFor();
  expect(await first.getAttribute('data-path')).toBe('memory/customers/northwind.md');
  await screenshot(page, 'search-sidebar');

  await box.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.locator('.tab.active', { hasText: 'northwind.md' }).waitFor();
  await expect.poll(() => cursorLine(page!)).toBe(4);
});

e2e('shows a note with broken frontmatter in the Problems panel', 'problems', async () => {
  const folder = await companyWorkspace('problems');
  await writeNote(folder, 'memory/broken.md', '---\ntype: customer\ntags: [acme\n---\nBody.\n');
  page = await openWorkbench(browser, server, folder);
  await waitForIndexedNotes(page, 2);
  await page.locator('#status\\.problems[aria-label="Errors: 1"]').waitFor();
  await page.keyboard.press('Control+Shift+M');
  const problem = page.locator('.markers-panel .monaco-list-row', {
    hasText: 'Frontmatter is not valid YAML',
  });
  await problem.first().waitFor();
  await page.locator('.markers-panel .monaco-list-row', { hasText: 'broken.md' }).first().waitFor();
  await screenshot(page, 'problems-panel');
});
