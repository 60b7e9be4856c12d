/**
 * The installed .vsix as a user first sees it in the Extensions view: Keel's own icon, its README,
 * and no broken image. VS Code shows a README's images only from https (its sanitizer drops others),
 * so a package built without a repository address leaves the screenshots out (vsixTargets.mjs).
 */
import { expect } from 'vitest';
import { test } from './harness/fixture';
import { findFrame, screenshot } from './harness/workbench';

test('the Extensions view shows Keel with its icon and README, and no broken image', async ({
  workspace,
  pages,
}) => {
  const page = await pages.open(await workspace('empty'), 'extension-page');
  // The Extensions view (Ctrl+Shift+X) lists what is installed first.
  await page.keyboard.press('Control+Shift+X');
  const entry = page.locator('.extensions-viewlet .monaco-list-row', { hasText: 'Keel' }).first();
  await entry.waitFor();
  // The list's icon is the package's PNG, loaded (not the default placeholder).
  const listIcon = entry.locator('img').first();
  await expect.poll(() => listIcon.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(128);
  await entry.click();

  const readme = await findFrame(page, 'body[class*="vscode-"] h1');
  expect(await readme.locator('h1').first().textContent()).toBe('Keel for VS Code');
  await readme.getByRole('heading', { name: 'Features' }).waitFor();
  await readme.getByText('Emergency Stop').first().waitFor();
  // Every image the page shows has loaded: none stands broken with only its alt text.
  const images = readme.locator('img');
  const broken = await images.evaluateAll((all: HTMLImageElement[]) =>
    all.filter((image) => !image.complete || image.naturalWidth === 0).map((image) => image.alt),
  );
  expect(broken).toEqual([]);
  await screenshot(page, 'extension-page');
});
