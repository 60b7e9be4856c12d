/**
 * Keel's command ids (extension/src/commandIds.ts) against the manifest: the typed ids and
 * `contributes.commands` are the same set, Restricted Mode disables the same commands in both, and
 * no menu, keybinding, welcome view, walkthrough (its buttons, completion events and pages) or
 * source file names a command that does not exist, so none of them is a dead button.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FOCUS_SIDEBAR, KEEL_COMMANDS, TRUSTED_ONLY } from '../../extension/src/commandIds';

const extension = join(__dirname, '..', '..', 'extension');
const manifest = JSON.parse(readFileSync(join(extension, 'package.json'), 'utf8')) as {
  activationEvents?: string[];
  contributes: {
    commands: { command: string; enablement?: string }[];
    views: Record<string, { id: string }[]>;
    [point: string]: unknown;
  };
};
const contributed = manifest.contributes.commands;
const ours = new Set<string>(KEEL_COMMANDS);
// VS Code's own: a view's focus command exists for every contributed view, and opening a folder.
const views = Object.values(manifest.contributes.views).flat();
const builtIn = new Set(['workbench.action.files.openFolder', ...views.map((v) => `${v.id}.focus`)]);

/**
 * Every command id the manifest names outside `contributes.commands`, wherever it sits: a
 * `command` or `alt` field (menus, keybindings, submenus), a `command:` link in any text (welcome
 * views, walkthrough descriptions), an `onCommand:` event (walkthrough completion, activation).
 */
function namedCommands(value: unknown, where: string, found: [string, string][]): [string, string][] {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/\b(?:command|onCommand):([\w.-]+)/g)) found.push([m[1]!, where]);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => namedCommands(item, `${where}[${i}]`, found));
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if ((key === 'command' || key === 'alt') && typeof item === 'string')
        found.push([item, `${where}.${key}`]);
      else namedCommands(item, `${where}.${key}`, found);
    }
  }
  return found;
}

/** Files under `dir` ending in one of `extensions`, leaving out what the build and npm put there. */
function filesUnder(dir: string, extensions: string[]): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && extensions.some((x) => e.name.endsWith(x)))
    .map((e) => join(e.parentPath, e.name))
    .filter((file) => !/[\\/](node_modules|dist)[\\/]/.test(relative(extension, file)));
}

describe('the command ids', () => {
  it('are exactly the commands package.json contributes, each once', () => {
    const ids = contributed.map((c) => c.command);
    expect(new Set(ids).size, 'a command contributed twice').toBe(ids.length);
    expect(ours.size, 'an id listed twice in commandIds.ts').toBe(KEEL_COMMANDS.length);
    expect([...ids].sort()).toEqual([...KEEL_COMMANDS].sort());
  });

  it('disable in Restricted Mode the same commands package.json does', () => {
    const trustedOnly = contributed
      .filter((c) => c.enablement === 'isWorkspaceTrusted')
      .map((c) => c.command);
    expect(trustedOnly.sort()).toEqual([...TRUSTED_ONLY].sort());
  });

  it("name the sidebar's focus command after a contributed view", () => {
    expect(builtIn.has(FOCUS_SIDEBAR)).toBe(true);
  });
});

describe('every command named', () => {
  it('in the manifest (menus, keybindings, welcome views, walkthroughs, activation) exists', () => {
    const { commands: _definitions, ...rest } = manifest.contributes;
    const named = namedCommands({ ...manifest, contributes: rest }, 'package.json', []);
    // The walkthrough's buttons and the menus at least: an empty list means the walk found nothing.
    expect(named.length).toBeGreaterThan(10);
    for (const [id, where] of named) expect(ours.has(id) || builtIn.has(id), `${id} at ${where}`).toBe(true);
  });

  it('in a markdown page the extension ships (walkthrough pages, README) exists', () => {
    for (const page of filesUnder(extension, ['.md'])) {
      for (const [id] of namedCommands(readFileSync(page, 'utf8'), page, [])) {
        expect(ours.has(id) || builtIn.has(id), `${id} in ${page}`).toBe(true);
      }
    }
  });

  it('in the extension source goes through the typed ids, not a bare string', () => {
    // executeCommand('keel.x') and `command:keel.x` compile whatever x is; executeKeelCommand and
    // commandLink take a KeelCommand, so a misspelt or removed command is a compile error instead.
    const bare = /executeCommand\(\s*['"`]keel\.|command:keel\./;
    const offenders = filesUnder(join(extension, 'src'), ['.ts'])
      .filter((file) => bare.test(readFileSync(file, 'utf8')))
      .map((file) => relative(extension, file));
    expect(offenders).toEqual([]);
  });
});
