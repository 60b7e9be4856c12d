/** The keel command as a user runs it: init, status, help, and the errors a newcomer meets. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAEMON_ENVIRONMENT, DEFAULT_CONFIG_YAML, type DaemonStatus } from '@keel/schemas';
import { KEEL_VERSION } from '../../daemon/src/version';
import { REPO_ROOT, runKeel, waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const git = promisify(execFile);
let dirs: TempDirs;

beforeEach(async () => {
  dirs = await makeTempDirs();
});
afterEach(async () => {
  await dirs.cleanup();
});

/** Every file under `dir` (but .git and .keel) with its content, to compare before and after. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const relative = path.slice(dir.length + 1);
    if (/^\.(git|keel)(\/|$)/.test(relative)) continue;
    out[relative] = entry.isFile() ? await readFile(path, 'utf8') : '<dir>';
  }
  return out;
}

describe('keel init', () => {
  it('creates the workspace, says what it created, and makes a git repository', async () => {
    const result = await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Initialized a Keel workspace in ${dirs.workspace}`);
    for (const path of ['keel.yaml', 'memory/', 'runbooks/', '.gitignore', 'a git repository']) {
      expect(result.stdout).toContain(`created  ${path}`);
    }
    expect(await readFile(join(dirs.workspace, 'keel.yaml'), 'utf8')).toBe(DEFAULT_CONFIG_YAML);
    expect(await readFile(join(dirs.workspace, '.gitignore'), 'utf8')).toMatch(/^\.keel\/$/m);
    // git sees the workspace, and ignores Keel's derived state.
    await git('git', ['rev-parse', '--is-inside-work-tree'], { cwd: dirs.workspace });
    const ignored = await git('git', ['check-ignore', '.keel/keel.duckdb'], { cwd: dirs.workspace });
    expect(ignored.stdout.trim()).toBe('.keel/keel.duckdb');
  });

  it('changes nothing when run a second time', async () => {
    await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
    const before = await snapshot(dirs.workspace);
    const again = await runKeel(['init'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing to do');
    expect(await snapshot(dirs.workspace)).toEqual(before);
  });

  it('never clobbers existing files, and only adds .keel/ to an existing .gitignore', async () => {
    await git('git', ['init', '-q'], { cwd: dirs.workspace });
    await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\ncompany: Acme\n');
    await writeFile(join(dirs.workspace, '.gitignore'), 'node_modules/\n*.log');
    await mkdir(join(dirs.workspace, 'memory'));
    await writeFile(join(dirs.workspace, 'memory', 'acme.md'), '---\ntype: customer\n---\nAcme\n');
    const result = await runKeel(['init', '--json', dirs.workspace], { runtime: dirs.runtime });
    expect(JSON.parse(result.stdout)).toMatchObject({
      created: ['runbooks/'],
      updated: ['.gitignore'],
      kept: ['keel.yaml', 'memory/'],
      gitInitialized: false,
    });
    expect(await readFile(join(dirs.workspace, 'keel.yaml'), 'utf8')).toBe('version: 1\ncompany: Acme\n');
    expect(await readFile(join(dirs.workspace, 'memory', 'acme.md'), 'utf8')).toBe(
      '---\ntype: customer\n---\nAcme\n',
    );
    const gitignore = await readFile(join(dirs.workspace, '.gitignore'), 'utf8');
    expect(gitignore.startsWith('node_modules/\n*.log\n')).toBe(true);
    expect(gitignore).toMatch(/^\.keel\/$/m);
  });

  it('does not nest a repository inside an existing one', async () => {
    await git('git', ['init', '-q'], { cwd: dirs.workspace });
    const sub = join(dirs.workspace, 'company');
    const result = await runKeel(['init', '--json', sub], { runtime: dirs.runtime });
    expect(JSON.parse(result.stdout)).toMatchObject({ gitInitialized: false });
    await expect(stat(join(sub, '.git'))).rejects.toThrow(/ENOENT/);
  });
});

describe('keel status', () => {
  it('answers from an in-process daemon when none is running, and leaves nothing running', async () => {
    await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
    const human = await runKeel(['status'], { cwd: join(dirs.workspace, 'memory'), runtime: dirs.runtime });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Keel ${KEEL_VERSION} · ${dirs.workspace}`);
    expect(human.stdout).toContain('not running');
    expect(human.stdout).toContain('keel.yaml is valid');
    const json = await runKeel(['status', '--json', '--workspace', dirs.workspace], {
      runtime: dirs.runtime,
    });
    const status = JSON.parse(json.stdout) as DaemonStatus;
    expect(status).toMatchObject({ mode: 'in-process', socketPath: null, config: 'valid' });
    await expect(stat(join(dirs.workspace, '.keel', 'daemon.lock'))).rejects.toThrow(/ENOENT/);
  });

  it('names each problem of a broken keel.yaml with its line, and exits 1', async () => {
    await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
    await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\nmemroy:\n  dir: notes\n');
    const result = await runKeel(['status'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('keel.yaml:2:1');
    expect(result.stdout).toContain('memroy');
  });

  it('explains what to do outside a workspace, and exits 2', async () => {
    const result = await runKeel(['status'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Not inside a Keel workspace');
    expect(result.stderr).toContain('keel init');
  });
});

describe('keel --help', () => {
  for (const command of ['', 'init', 'status', 'daemon', 'stop']) {
    it(`documents ${command || 'the program'}`, async () => {
      const result = await runKeel([...(command ? [command] : []), '--help'], { runtime: dirs.runtime });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: keel${command ? ' ' + command : ''}`);
    });
  }

  it('keeps the version in step with the daemon package', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'daemon', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(KEEL_VERSION).toBe(pkg.version);
    expect((await runKeel(['--version'], { runtime: dirs.runtime })).stdout.trim()).toBe(pkg.version);
  });
});

describe('keel daemon through the keel command', () => {
  async function startThroughShim(): Promise<{
    shim: ChildProcess;
    lockPid: number;
    exited: Promise<number | null>;
  }> {
    // Unset, not empty: glibc reads an empty value as 0 and maps every allocation, and node then
    // takes a minute to start on a loaded machine.
    const { MALLOC_MMAP_THRESHOLD_: _unset, ...env } = process.env;
    const shim = spawn(
      process.execPath,
      [join(REPO_ROOT, 'daemon', 'bin', 'keel.cjs'), 'daemon', '--workspace', dirs.workspace],
      {
        env: { ...env, KEEL_RUNTIME_DIR: dirs.runtime },
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true, // its own process group, as a terminal gives it
      },
    );
    const exited = new Promise<number | null>((resolve) => shim.on('exit', (code) => resolve(code)));
    let stderr = '';
    shim.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Generous: on a loaded 2-core machine (the kill -9 tests run alongside) a start can take seconds.
    await waitFor('the daemon to serve', () => stderr.includes('Keel daemon serving'), 30_000);
    const lock = JSON.parse(await readFile(join(dirs.workspace, '.keel', 'daemon.lock'), 'utf8')) as {
      pid: number;
    };
    return { shim, lockPid: lock.pid, exited };
  }

  beforeEach(async () => {
    await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
  });

  it('runs the daemon with its allocator settings, and Ctrl+C stops it cleanly', async () => {
    const { shim, lockPid, exited } = await startThroughShim();
    const environ = (await readFile(`/proc/${lockPid}/environ`, 'utf8')).split('\0');
    for (const [key, value] of Object.entries(DAEMON_ENVIRONMENT))
      expect(environ).toContain(`${key}=${value}`);
    process.kill(-shim.pid!, 'SIGINT'); // what the terminal does on Ctrl+C
    expect(await exited).toBe(0);
    await expect(stat(join(dirs.workspace, '.keel', 'daemon.lock'))).rejects.toThrow(/ENOENT/);
  });

  it('passes SIGTERM on to the daemon, which stops cleanly', async () => {
    const { shim, exited } = await startThroughShim();
    process.kill(shim.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
    await expect(stat(join(dirs.workspace, '.keel', 'daemon.lock'))).rejects.toThrow(/ENOENT/);
  });
});
