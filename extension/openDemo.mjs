// `npm start [-- DIR]`: Keel's main job, offline, on a fresh clone. Makes the demo company's
// workspace (default ~/keel-demo; an existing demo is reused), packages the extension and, where
// VS Code's `code` command is on the PATH, installs the extension and opens the workspace in it.
// Without VS Code it says what to run instead. No model, key or network is needed: the demo's
// runs answer from its scripted cassettes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const extensionDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(extensionDir, '..');
const keel = join(repoRoot, 'daemon', 'bin', 'keel.cjs');
const workspace = resolve(process.argv[2] ?? join(homedir(), 'keel-demo'));
const manifest = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8'));
const vsix = join(extensionDir, `${manifest.name}-${manifest.version}.vsix`);

/** Runs a command with the terminal attached; stops the script with its exit code on failure. */
function step(what, command, args) {
  console.log(`\n==> ${what}`);
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`\n${what} failed (${command} ${args.join(' ')}).`);
    process.exit(result.status ?? 1);
  }
}

/** The VS Code command line on the PATH, or null. */
function findCode() {
  for (const name of ['code', 'code-insiders', 'codium']) {
    try {
      execFileSync(process.platform === 'win32' ? 'where' : 'which', [name], { stdio: 'ignore' });
      return name;
    } catch {
      // not this one
    }
  }
  return null;
}

const isDemo = existsSync(join(workspace, 'keel.yaml'));
if (isDemo) console.log(`${workspace} already holds a Keel workspace: it is opened as it is.`);
else if (existsSync(workspace) && readdirSync(workspace).length > 0) {
  console.error(
    `${workspace} is not empty and is not a Keel workspace: give another folder, e.g. npm start -- ~/keel-demo-2`,
  );
  process.exit(1);
} else
  step('The demo company: notes, runbooks, and each agent run offline', process.execPath, [
    keel,
    'demo',
    workspace,
  ]);

step('The extension, packaged', process.execPath, [join(extensionDir, 'packageVsix.mjs')]);

const code = findCode();
if (code) {
  step(`The extension, installed in VS Code (${code})`, code, ['--install-extension', vsix, '--force']);
  step('The demo workspace, opened in VS Code', code, [workspace]);
  console.log(
    '\nIn VS Code: the Keel icon in the activity bar opens the sidebar; trust the workspace when asked.',
  );
} else {
  console.log(
    [
      '',
      'VS Code\'s "code" command is not on your PATH, so nothing was opened. With VS Code installed:',
      `  code --install-extension ${vsix} && code ${workspace}`,
      'Meanwhile, from the terminal:',
      `  npx keel runs --workspace ${workspace}`,
      `  npx keel search "when is the acme renewal" --workspace ${workspace}`,
    ].join('\n'),
  );
}
