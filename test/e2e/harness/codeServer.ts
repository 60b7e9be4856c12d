/**
 * A real VS Code for tests: code-server (installed by install-code-server.sh) on a free loopback
 * port, with a fresh user-data and extensions folder and the packaged Keel .vsix installed, as a
 * user installs it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile, cp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const E2E_DIR = join(__dirname, '..');
export const REPO_ROOT = join(E2E_DIR, '..', '..');
export const ARTIFACTS = join(E2E_DIR, 'artifacts');
const CODE_SERVER = join(E2E_DIR, '.code-server', 'node_modules', '.bin', 'code-server');

export interface CodeServer {
  url: string;
  /** Root of this run's temporary folders; workspaces are made under it. */
  root: string;
  /** KEEL_RUNTIME_DIR of every daemon the extension starts. */
  runtimeDir: string;
  /** A new empty folder for a test's workspace. */
  newFolder(name: string): Promise<string>;
  /** code-server's own output so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface CodeServerOptions {
  /**
   * VS Code's Workspace Trust, off by default: folders open trusted, as the operator's own do. On,
   * every folder opens with VS Code's "Do you trust the authors" prompt (the hostile-workspace test).
   */
  workspaceTrust?: boolean;
  /** Added to code-server's environment, and so to its extension host's and the Keel daemon's. */
  env?: Record<string, string>;
}

/** Starts code-server; `name` names this run's logs under artifacts/logs/. */
export async function startCodeServer(name: string, options: CodeServerOptions = {}): Promise<CodeServer> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'keel-e2e-')));
  const userData = join(root, 'user-data');
  const extensions = join(root, 'extensions');
  const runtimeDir = join(root, 'run');
  await mkdir(join(userData, 'User'), { recursive: true });
  await writeFile(
    join(userData, 'User', 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'extensions.autoUpdate': false,
      'extensions.autoCheckUpdates': false,
      'update.mode': 'none',
    }),
  );
  const env = {
    ...process.env,
    // code-server writes its config (with a password) and logs under these on first use.
    XDG_CONFIG_HOME: join(root, 'xdg-config'),
    XDG_DATA_HOME: join(root, 'xdg-data'),
    KEEL_RUNTIME_DIR: runtimeDir,
    ...options.env,
  };
  const vsix = await packagedVsix();
  await run(
    CODE_SERVER,
    ['--extensions-dir', extensions, '--user-data-dir', userData, '--install-extension', vsix],
    {
      env,
    },
  );

  const port = await freePort();
  const child = spawn(
    CODE_SERVER,
    [
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--user-data-dir',
      userData,
      '--extensions-dir',
      extensions,
      '--disable-telemetry',
      '--disable-update-check',
      ...(options.workspaceTrust ? [] : ['--disable-workspace-trust']),
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, child, () => output);

  return {
    url,
    root,
    runtimeDir,
    newFolder: async (name) => {
      const folder = join(root, 'workspaces', name);
      await mkdir(folder, { recursive: true });
      return folder;
    },
    output: () => output,
    stop: async () => {
      const logs = join(ARTIFACTS, 'logs', name);
      await mkdir(logs, { recursive: true });
      await writeFile(join(logs, 'code-server.log'), output);
      await cp(join(userData, 'logs'), join(logs, 'vscode'), { recursive: true }).catch(() => {});
      await killGroup(child);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * The operator's consent to what `folder`'s keel.yaml and runbooks want (endpoints, key variables,
 * triggers), as a script gives it: `keel trust --yes`. Tests of the operator's own workspaces give
 * it before opening them; the hostile-workspace test does not.
 */
export async function trustKeelWorkspace(server: CodeServer, folder: string): Promise<void> {
  await run(process.execPath, [join(REPO_ROOT, 'daemon', 'bin', 'keel.cjs'), 'trust', '--yes'], {
    cwd: folder,
    env: { ...process.env, KEEL_RUNTIME_DIR: server.runtimeDir },
  });
}

async function packagedVsix(): Promise<string> {
  const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'extension', 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  const vsix = join(REPO_ROOT, 'extension', `${manifest.name}-${manifest.version}.vsix`);
  await readFile(vsix).catch(() => {
    throw new Error(`${vsix} is missing: run "npm run package" (npm run test:e2e does it for you).`);
  });
  return vsix;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}):\n${output()}`);
    const healthy = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`code-server did not answer on ${url} within 60 s:\n${output()}`);
}

/** Stops code-server and everything it started (extension hosts, Keel daemons): TERM, then KILL. */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5_000).unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') signal('SIGKILL');
}
