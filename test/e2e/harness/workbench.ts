/**
 * Driving the VS Code workbench as a user does: open a folder, use the command palette, open the
 * Keel sidebar. Every wait is on visible state, never a fixed sleep.
 */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Frame, type Locator, type Page } from 'playwright-core';
import { ARTIFACTS, trustKeelWorkspace, type CodeServer } from './codeServer';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.KEEL_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A new page of the size every screenshot is taken at. */
export function newPage(browser: Browser): Promise<Page> {
  return browser.newPage({ viewport: { width: 1400, height: 900 } });
}

/**
 * Loads `folder` in `page` and waits for the workbench, its explorer, and Keel's contributions
 * (the activity-bar icon): a command palette opened before the extensions are registered lists no
 * Keel commands, and does not refresh while open. A folder with a keel.yaml is the operator's own:
 * Keel's trust is granted first (`keel trust --yes`), so no consent prompt covers the workbench.
 */
export async function loadWorkbench(page: Page, server: CodeServer, folder: string): Promise<void> {
  const initialized = await access(join(folder, 'keel.yaml')).then(
    () => true,
    () => false,
  );
  if (initialized) await trustKeelWorkspace(server, folder);
  await page.goto(workbenchUrl(server, folder));
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await page.locator('.explorer-folders-view').waitFor({ timeout: 60_000 });
  await keelActivityBarIcon(page).waitFor({ timeout: 60_000 });
}

export function workbenchUrl(server: CodeServer, folder: string): string {
  return `${server.url}/?folder=${encodeURIComponent(folder)}`;
}

export function keelActivityBarIcon(page: Page): Locator {
  return page.locator('.activitybar .action-item a[aria-label^="Keel"]');
}

/**
 * Runs a command from the palette by its title (`Keel: Initialize Workspace`). The palette lists the
 * commands known when it opened and does not refresh while open; on a workbench that has only just
 * loaded it can miss an extension's commands (seen in 2 of 7 runs here). A user closes
 * it and opens it again, and so does this, at most three times.
 */
export async function runCommand(page: Page, title: string): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Control+Shift+P');
    await input.waitFor({ state: 'visible' });
    await page.keyboard.type(title);
    const listed = await row.waitFor({ timeout: 5_000 }).then(
      () => true,
      () => false,
    );
    if (listed) break;
    if (attempt === 3) throw new Error(`The command palette does not list "${title}"`);
    console.warn(`The command palette did not list "${title}"; reopening it (attempt ${attempt + 1}).`);
    await page.keyboard.press('Escape');
    await input.waitFor({ state: 'hidden' });
  }
  await page.keyboard.press('Enter');
  // The palette closes, or gives way to the command's own quick input.
  await page.waitForFunction(() => {
    const box = document.querySelector<HTMLInputElement>('.quick-input-widget input.input');
    return !box || box.offsetParent === null || !box.value.startsWith('>');
  });
}

/** Waits until Keel's status-bar item says the daemon runs and `notes` notes are indexed. */
export async function waitForIndexedNotes(page: Page, notes: number): Promise<void> {
  await page
    .locator(`.statusbar-item[aria-label*="Keel daemon running"][aria-label*="; ${notes} notes indexed"]`)
    .waitFor();
}

export function explorerItem(page: Page, name: string): Locator {
  return page.locator('.explorer-folders-view .monaco-list-row', { hasText: name });
}

/** Clicks Keel's activity-bar icon and returns the sidebar webview's frame once it has rendered. */
export async function openKeelSidebar(page: Page): Promise<Frame> {
  await keelActivityBarIcon(page).click();
  return findFrame(page, '#app[data-connection]');
}

/** Webview content lives in nested iframes: find the one holding `selector`. */
export async function findFrame(page: Page, selector: string, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (await frame.$(selector).catch(() => null)) return frame;
    }
    await page.waitForTimeout(100);
  }
  throw new Error(`No frame shows ${selector} after ${timeoutMs} ms`);
}

/**
 * Waits until the frame that shows `selector` shows `text` too. VS Code may render such a page
 * again (a walkthrough step selected by the user and by VS Code itself): a frame found before that
 * is detached, so the page's frame is found again.
 */
export async function waitForTextInFrame(
  page: Page,
  selector: string,
  text: string,
  timeoutMs = 60_000,
): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = await findFrame(page, selector, Math.max(1, deadline - Date.now()));
    try {
      await frame.getByText(text).waitFor({ timeout: Math.max(1, deadline - Date.now()) });
      return frame;
    } catch (error) {
      if (!frame.isDetached() || Date.now() >= deadline) throw error;
    }
  }
}

/**
 * From the run's timeline (what opening a run shows) to its trace as a Markdown document: waits
 * for the timeline tab "Run <id>", presses its "Open as Markdown" button, waits for the `<id>.md` tab.
 */
export async function openTraceAsMarkdown(page: Page, runId: string): Promise<void> {
  await page.locator('.tab.active', { hasText: `Run ${runId}` }).waitFor();
  const timeline = await findFrame(page, `#timeline[data-status] .run-facts:has-text("${runId}")`);
  await timeline
    .getByRole('button', { name: `Open the trace of run ${runId} as a Markdown document` })
    .press('Enter');
  await page.locator('.tab.active', { hasText: `${runId}.md` }).waitFor();
}

/** The cursor's line as VS Code's status bar shows it (`Ln 7, Col 11`). */
export async function cursorLine(page: Page): Promise<number> {
  const text = (await page.locator('#status\\.editor\\.selection').textContent()) ?? '';
  return Number(/Ln (\d+)/.exec(text)?.[1] ?? NaN);
}

/** Keeps what the user saw as an artefact of the run: test/e2e/artifacts/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/**
 * Switches the workbench to a dark theme, then to high contrast, waiting each time for `frame` (a
 * Keel webview) to take the theme, and keeps a screenshot of each: NAME-dark.png, NAME-high-contrast.png.
 * The workbench stays in high contrast.
 */
export async function screenshotInThemes(page: Page, frame: Frame, name: string): Promise<void> {
  await runCommand(page, 'Preferences: Toggle between Light/Dark Themes');
  await frame.locator('body.vscode-dark').waitFor();
  await screenshot(page, `${name}-dark`);
  // The theme picker (Ctrl+K Ctrl+T): the palette's "Color Theme" also lists the marketplace's.
  await page.keyboard.press('Control+K');
  await page.keyboard.press('Control+T');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Dark High Contrast' }).first().click();
  await frame.locator('body.vscode-high-contrast').waitFor();
  await screenshot(page, `${name}-high-contrast`);
}
