/**
 * Memory in the editor, as the operator meets it: search from the command palette's quick pick and
 * from the sidebar, land on the right file and line; a broken note shows up in the Problems panel.
 */
import { expect } from 'vitest';
import { test } from './harness/fixture';
import {
  cursorLine,
  openKeelSidebar,
  runCommand,
  screenshot,
  waitForIndexedNotes,
} from './harness/workbench';

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

/** A company's workspace: acme and northwind. */
const COMPANY = {
  from: 'init',
  files: {
    'memory/customers/acme.md': ACME,
    'memory/customers/northwind.md': '---\ntype: customer\n---\n# Northwind\n\nRetail chain in Leeds.\n',
  },
} as const;

test('searches memory from the quick pick and opens the answer at its line', async ({ workspace, pages }) => {
  const folder = await workspace('quick-pick', COMPANY);
  const page = await pages.open(folder, 'search-quick-pick');
  await waitForIndexedNotes(page, 2);

  await runCommand(page, 'Keel: Search Memory');
  await page.keyboard.type('when is the acme renewal due');
  const row = page.locator('.quick-input-list .monaco-list-row', {
    hasText: `memory/customers/acme.md:${CONTRACT_LINE}`,
  });
  await row.first().waitFor();
  await screenshot(page, 'search-quick-pick');
  // The best answer is first, so Enter opens it. The rows shown may still be a shorter query's
  // (typing pauses longer than the debounce on a busy machine) until the full query's answer
  // arrives: a second was not always enough for it in CI.
  await expect
    .poll(async () => page.locator('.quick-input-list .monaco-list-row').first().textContent(), {
      timeout: 15_000,
    })
    .toContain(`acme.md:${CONTRACT_LINE}`);
  await page.keyboard.press('Enter');

  await page.locator('.tab.active', { hasText: 'acme.md' }).waitFor();
  await expect.poll(() => cursorLine(page)).toBe(CONTRACT_LINE);
  await screenshot(page, 'search-opened-at-line');
});

test('searches memory from the sidebar search box', async ({ workspace, pages }) => {
  const folder = await workspace('sidebar-search', COMPANY);
  const page = await pages.open(folder, 'search-sidebar');
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
  await expect.poll(() => cursorLine(page)).toBe(4);
});

test('shows a note with broken frontmatter in the Problems panel', async ({ workspace, pages }) => {
  const folder = await workspace('problems', {
    ...COMPANY,
    files: { ...COMPANY.files, 'memory/broken.md': '---\ntype: customer\ntags: [acme\n---\nBody.\n' },
  });
  const page = await pages.open(folder, 'problems');
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
