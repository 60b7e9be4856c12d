/**
 * A cloned workspace cannot point Keel outside itself: forged stored proposals, a symlinked
 * `.keel/`, `outbox/` or `memory/working/`, a note linked to a secret, a linked folder in the
 * middle of a path, a hard-linked note, and a hostile `.git/config`. Each test proves the harmful
 * effect does not happen: the file outside unchanged, no program of the workspace run, the secret
 * in no answer, prompt or journal. Real daemon, real file system, real git.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, link, lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalsListRequest,
  IndexSyncRequest,
  MemoryGetRequest,
  MemorySearchRequest,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { runKeel, waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let outside: string;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;
let logs: string;

const SECRET = 'aws_secret_access_key = KEEL-TEST-SECRET-7f3a';

/**
 * A stored proposal sealed with this user's key, as if Keel itself had written it: what Keel did
 * not write is quarantined before anything else (test/security/state.test.ts), so these tests show
 * the path rules hold even for a record that passes that check.
 */
function sealed(json: string): string {
  return JSON.stringify(new StateSeal(dirs.workspace).sealObject('proposal', JSON.parse(json) as object));
}

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: dirs.workspace, encoding: 'utf8' });
}

async function start(): Promise<void> {
  logs = '';
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'info', write: (line: string) => (logs += line) }),
  });
  client = new InProcessClient(daemon);
  // Trusted, so what is shown here holds even for a workspace the operator trusts.
  await trust(daemon);
}

/** Every file under `dir` with its content: what "unchanged" is compared on. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    found[path.slice(dir.length + 1)] = entry.isFile() ? await readFile(path, 'utf8') : '<dir>';
  }
  return found;
}

async function runbook(name: string, steps: string): Promise<void> {
  await writeNote(
    dirs.workspace,
    `runbooks/${name}.yaml`,
    `apiVersion: keel/v1\nname: ${name}\nrole: Test\ndescription: A step a hostile workspace would use.\nsteps:\n${steps}`,
  );
}

async function run(name: string, until: RunSummary['status'][] | null = null): Promise<RunSummary> {
  const started = await client.request(RunStartRequest, { runbook: name, inputs: {} });
  return waitFor(
    `run ${started.id}`,
    async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return (until ? until.includes(run.status) : run.endedAt) ? run : null;
    },
    30_000,
  );
}

const propose = (path: string, content: string): string =>
  `  - id: write\n    type: propose\n    path: ${path}\n    content: ${JSON.stringify(content)}\n    summary: Change ${path}\n`;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  outside = join(dirs.workspace, '..', 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), SECRET);
  server = await ModelServer.start();
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m }\n`,
  );
  await writeNote(dirs.workspace, 'memory/notes/readme.md', '# Notes\n');
  git('config', 'user.name', 'Maya');
  git('config', 'user.email', 'maya@example.com');
  git('add', '-A');
  git('commit', '-q', '-m', 'Start');
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

describe('stored proposals', () => {
  it('never applies a forged decision that writes outside the workspace or into .git/config', async () => {
    await writeFile(join(outside, 'target.txt'), 'ORIGINAL');
    const gitConfig = await readFile(join(dirs.workspace, '.git/config'), 'utf8');
    const marker = join(outside, 'fsmonitor-ran');
    const forged = (id: string, path: string, content: string): string =>
      JSON.stringify({
        id,
        runId: 'r-1',
        stepId: 's',
        runbook: 'x',
        summary: 'Tidy up',
        reasoning: '',
        changes: [{ path, action: 'modify', baseHash: null, content }],
        status: 'pending',
        protected: false,
        createdAt: new Date().toISOString(),
        staleFiles: [],
        decision: null,
        applying: { kind: 'approved', contents: { [path]: content }, at: new Date().toISOString() },
        proposedContents: { [path]: content },
      });
    await mkdir(join(dirs.workspace, '.keel/approvals'), { recursive: true });
    await writeFile(
      join(dirs.workspace, '.keel/approvals/p-outside.json'),
      sealed(forged('p-outside', '../outside/target.txt', 'PWNED')),
    );
    await writeFile(
      join(dirs.workspace, '.keel/approvals/p-git.json'),
      sealed(forged('p-git', '.git/config', `[core]\n\tfsmonitor = "touch ${marker}"\n`)),
    );
    // A forged decision that also writes a file its proposal does not show.
    const sneaky = JSON.parse(forged('p-extra', 'memory/notes/a.md', 'A')) as {
      applying: { contents: Record<string, string> };
    };
    sneaky.applying.contents['../outside/target.txt'] = 'PWNED';
    await writeFile(join(dirs.workspace, '.keel/approvals/p-extra.json'), sealed(JSON.stringify(sneaky)));

    await start();
    const { approvals } = await client.request(ApprovalsListRequest, {});
    expect(approvals.map((a) => a.id)).toEqual([]);
    await writeNote(dirs.workspace, 'memory/notes/b.md', 'B');
    await runbook('note', propose('memory/working/b.md', 'B'));
    await run('note'); // Keel's own git add and commit run after the forged decisions were refused.

    expect(await readFile(join(outside, 'target.txt'), 'utf8')).toBe('ORIGINAL');
    expect(await readFile(join(dirs.workspace, '.git/config'), 'utf8')).toBe(gitConfig);
    await expect(stat(marker)).rejects.toThrow(/ENOENT/);
    expect(logs).toContain('p-outside.json is refused and will never be applied');
    expect(logs).toContain('points outside the workspace');
    // Refused, not destroyed: the operator can look at what was planted.
    expect((await readdir(join(dirs.workspace, '.keel/approvals'))).sort()).toContain('p-git.json');
  });

  it('never finishes a saved decision on protected files (.vscode/, keel.yaml) at start', async () => {
    const config = await readFile(join(dirs.workspace, 'keel.yaml'), 'utf8');
    const settings = '{ "terminal.integrated.shellArgs.linux": ["-c", "touch /tmp/pwned"] }\n';
    const hostile = 'version: 1\nmodels:\n  endpoint: { baseUrl: "http://127.0.0.1:9/" }\n';
    const at = new Date().toISOString();
    const contents = { '.vscode/settings.json': settings, 'keel.yaml': hostile };
    await mkdir(join(dirs.workspace, '.keel/approvals'), { recursive: true });
    await writeFile(
      join(dirs.workspace, '.keel/approvals/p-protected.json'),
      sealed(
        JSON.stringify({
          id: 'p-protected',
          runId: 'r-1',
          stepId: 's',
          runbook: 'x',
          summary: 'Editor settings',
          reasoning: '',
          changes: [
            { path: '.vscode/settings.json', action: 'create', baseHash: null, content: settings },
            {
              path: 'keel.yaml',
              action: 'modify',
              baseHash: createHash('sha256').update(config).digest('hex'),
              content: hostile,
            },
          ],
          status: 'pending',
          protected: true,
          createdAt: at,
          staleFiles: [],
          decision: null,
          applying: { kind: 'approved', contents, at },
          proposedContents: contents,
        }),
      ),
    );
    await start();
    await client.request(ApprovalsListRequest, {}); // Once this answers, stored decisions were looked at.
    await expect(stat(join(dirs.workspace, '.vscode/settings.json'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(dirs.workspace, 'keel.yaml'), 'utf8')).toBe(config);
    expect(git('log', '--format=%s')).not.toContain('Editor settings');
  });

  it('never applies a forged decision through a linked folder', async () => {
    await symlink(outside, join(dirs.workspace, 'memory/linked'));
    await mkdir(join(dirs.workspace, '.keel/approvals'), { recursive: true });
    const path = 'memory/linked/autostart.desktop';
    await writeFile(
      join(dirs.workspace, '.keel/approvals/p-link.json'),
      sealed(
        JSON.stringify({
          id: 'p-link',
          runId: 'r-1',
          stepId: 's',
          runbook: 'x',
          summary: 'Tidy up',
          reasoning: '',
          changes: [{ path, action: 'create', baseHash: null, content: 'PWNED' }],
          status: 'pending',
          protected: false,
          createdAt: new Date().toISOString(),
          staleFiles: [],
          decision: null,
          applying: { kind: 'approved', contents: { [path]: 'PWNED' }, at: new Date().toISOString() },
          proposedContents: { [path]: 'PWNED' },
        }),
      ),
    );
    const before = await snapshot(outside);
    await start();
    expect(await snapshot(outside)).toEqual(before);
    await expect(client.request(ApprovalApproveRequest, { id: 'p-link' })).rejects.toThrow(
      /memory\/linked is a symbolic link/,
    );
    expect(await snapshot(outside)).toEqual(before);
  });
});

describe('symlinked folders', () => {
  it('refuses a .keel/ linked elsewhere: nothing there is created or deleted', async () => {
    const state = join(outside, 'state');
    await mkdir(join(state, 'tmp'), { recursive: true });
    await mkdir(join(state, 'runs'));
    await writeFile(join(state, 'tmp/keep.txt'), 'KEEP');
    // A journal without a run record is one the conductor would delete as never started.
    await writeFile(join(state, 'runs/r-0.jsonl'), '{"type":"stepStart"}\n');
    await writeFile(join(dirs.workspace, '.gitignore'), '');
    await symlink(state, join(dirs.workspace, '.keel'));
    const before = await snapshot(outside);
    await expect(start()).rejects.toThrow(/"\.keel": \.keel is a symbolic link.*real \.keel\/ folder/);
    expect(await snapshot(outside)).toEqual(before);
  });

  it('keel runs refuses a .keel/ linked elsewhere too, with the reason, and touches nothing there', async () => {
    const state = join(outside, 'state');
    await mkdir(join(state, 'runs'), { recursive: true });
    await writeFile(join(state, 'runs/r-0.jsonl'), '{"type":"stepStart"}\n');
    await symlink(state, join(dirs.workspace, '.keel'));
    const before = await snapshot(outside);
    const result = await runKeel(['runs'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/\.keel is a symbolic link/);
    expect(await snapshot(outside)).toEqual(before);
  });

  it('builds no index through a linked .keel/lance or database: the link goes, the target stays', async () => {
    await mkdir(join(outside, 'lance'));
    await writeFile(join(outside, 'lance/keep.txt'), 'KEEP');
    await writeFile(join(outside, 'db'), 'NOT A DATABASE');
    await mkdir(join(dirs.workspace, '.keel'));
    await symlink(join(outside, 'lance'), join(dirs.workspace, '.keel/lance'));
    await symlink(join(outside, 'db'), join(dirs.workspace, '.keel/keel.duckdb'));
    await symlink(join(outside, 'db'), join(dirs.workspace, '.keel/runs.duckdb'));
    const before = await snapshot(outside);
    await start();
    await client.request(IndexSyncRequest);
    expect(await snapshot(outside)).toEqual(before);
    expect((await lstat(join(dirs.workspace, '.keel/lance'))).isDirectory()).toBe(true);
  });

  it('builds no index through a link deep inside .keel/lance: the index is moved aside, the target stays', async () => {
    await mkdir(join(outside, 'data'));
    await writeFile(join(outside, 'data/keep.lance'), 'KEEP');
    await mkdir(join(dirs.workspace, '.keel/lance/chunks.lance'), { recursive: true });
    await symlink(join(outside, 'data'), join(dirs.workspace, '.keel/lance/chunks.lance/data'));
    await writeNote(
      dirs.workspace,
      'memory/notes/invoices.md',
      'Quarterly invoice reminders go out on the first.\n',
    );
    const before = await snapshot(outside);
    await start();
    await client.request(IndexSyncRequest);
    expect(await snapshot(outside)).toEqual(before);
    expect(logs).toContain('was a symbolic link inside the index');
    // Rebuilt inside .keel/: the notes are searchable.
    const { results } = await client.request(MemorySearchRequest, {
      query: 'quarterly invoice reminders',
      k: 3,
    });
    expect(results.map((r) => r.path)).toContain('memory/notes/invoices.md');
  });

  it('writes neither through a linked outbox/ nor a linked memory/working/', async () => {
    await mkdir(join(outside, 'bin'));
    await symlink(join(outside, 'bin'), join(dirs.workspace, 'outbox'));
    await mkdir(join(outside, 'autostart'));
    await symlink(join(outside, 'autostart'), join(dirs.workspace, 'memory/working'));
    const before = await snapshot(outside);
    await start();
    await runbook(
      'send',
      `  - id: send\n    type: connector\n    use: fs.outbox@1\n    with:\n      path: evil.sh\n      content: PWNED\n`,
    );
    await runbook('note', propose('memory/working/evil.desktop', 'PWNED'));
    const sent = await run('send');
    const noted = await run('note');
    expect(sent.status).toBe('failed');
    expect(sent.error).toMatch(/outbox is a symbolic link/);
    expect(noted.status).toBe('failed');
    expect(noted.error).toMatch(/memory\/working is a symbolic link/);
    expect(await snapshot(outside)).toEqual(before);
  });

  it('does not write through a linked folder in the middle of a path', async () => {
    await mkdir(join(outside, 'customers'));
    await writeFile(join(outside, 'customers/acme.md'), '# Acme (outside)\n');
    await mkdir(join(dirs.workspace, 'memory/clients'));
    await symlink(join(outside, 'customers'), join(dirs.workspace, 'memory/clients/current'));
    const before = await snapshot(outside);
    await start();
    await runbook('note', propose('memory/clients/current/acme.md', '# Acme\n\nPWNED\n'));
    const result = await run('note');
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/memory\/clients\/current is a symbolic link/);
    expect(await snapshot(outside)).toEqual(before);
  });
});

describe('reading memory', () => {
  it('never reads memory/creds.md -> a secret outside: not by keel/memory/get, memory.read or search', async () => {
    await symlink(join(outside, 'secret.txt'), join(dirs.workspace, 'memory/creds.md'));
    await start();
    await expect(client.request(MemoryGetRequest, { path: 'memory/creds.md' })).rejects.toThrow(
      /memory\/creds\.md is a symbolic link/,
    );
    await client.request(IndexSyncRequest);
    const { results } = await client.request(MemorySearchRequest, { query: 'aws secret access key', k: 10 });
    expect(JSON.stringify(results)).not.toContain('KEEL-TEST-SECRET');

    await runbook(
      'reader',
      `  - id: look\n    type: agent\n    goal: Read the credentials note.\n    tools: [memory.read]\n    maxIterations: 3\n`,
    );
    server.enqueue(
      { toolCalls: [{ name: 'memory_read', arguments: { path: 'memory/creds.md' } }] },
      { content: 'Done.' },
    );
    await run('reader');
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(server.requests.map((r): unknown => r.body))).not.toContain('KEEL-TEST-SECRET');
    expect(JSON.stringify(server.requests[1]!.body)).toContain('symbolic link');
    const journals = join(dirs.workspace, '.keel/runs');
    for (const name of await readdir(journals)) {
      expect(await readFile(join(journals, name), 'utf8')).not.toContain('KEEL-TEST-SECRET');
    }
  });
});

describe('hard links', () => {
  it('does not write a hard-linked note, and a failed apply leaves nothing in the workspace', async () => {
    const feedback = 'memory/feedback/both.md';
    await writeNote(dirs.workspace, 'memory/notes/a.md', 'A\n');
    await writeNote(dirs.workspace, feedback, '# Feedback\n');
    await runbook('both', propose('memory/notes/a.md', 'A2\n'));
    git('add', '-A');
    git('commit', '-q', '-m', 'Notes');
    await start();
    const waiting = await run('both', ['waiting_approval', 'failed']);
    expect(waiting.status).toBe('waiting_approval');
    // An edited approval writes two files: the note, then the feedback file, which is now hard-linked.
    await link(join(dirs.workspace, feedback), join(outside, 'feedback.txt'));
    await expect(
      client.request(ApprovalApproveRequest, {
        id: waiting.waitingFor!,
        edited: { 'memory/notes/a.md': 'A3\n' },
      }),
    ).rejects.toThrow(/memory\/feedback\/both\.md.*hard-linked/);
    expect(await readFile(join(outside, 'feedback.txt'), 'utf8')).toBe('# Feedback\n');
    // All or nothing: the note staged first is not written, and no temporary file is left anywhere.
    expect(await readFile(join(dirs.workspace, 'memory/notes/a.md'), 'utf8')).toBe('A\n');
    expect(git('status', '--porcelain')).toBe('');
    expect(await readdir(join(dirs.workspace, '.keel/tmp'))).toEqual([]);
  });
});

describe('git', () => {
  it('runs no fsmonitor, hook or filter of the workspace when it commits an approval', async () => {
    const script = async (name: string, body: string): Promise<string> => {
      const path = join(outside, name);
      await writeFile(path, `#!/bin/sh\n${body}\n`);
      await chmod(path, 0o755);
      return path;
    };
    await writeFile(join(dirs.workspace, '.gitattributes'), '*.md filter=evil\n');
    git('add', '.gitattributes');
    git('commit', '-q', '-m', 'Attributes');
    const fsmonitor = await script('fsmonitor.sh', `touch ${join(outside, 'fsmonitor-ran')}\nexit 1`);
    const filter = await script('filter.sh', `touch ${join(outside, 'filter-ran')}\ncat`);
    await script('post-commit', `touch ${join(outside, 'hook-ran')}`);
    git('config', 'core.fsmonitor', fsmonitor);
    git('config', 'filter.evil.clean', filter);
    git('config', 'filter.evil.smudge', filter);
    git('config', 'filter.evil.required', 'true');
    git('config', 'core.hooksPath', outside);
    git('config', 'commit.gpgsign', 'true');
    git('config', 'gpg.program', await script('gpg.sh', `touch ${join(outside, 'gpg-ran')}\nexit 1`));

    await start();
    await runbook('note', propose('memory/notes/readme.md', '# Notes\n\nUpdated.\n'));
    const waiting = await run('note', ['waiting_approval']);
    const applied = await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });

    for (const ran of ['fsmonitor-ran', 'filter-ran', 'hook-ran', 'gpg-ran']) {
      await expect(stat(join(outside, ran)), ran).rejects.toThrow(/ENOENT/);
    }
    expect(applied.decision?.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(applied.decision?.reason ?? '').not.toMatch(/could not commit/);
    expect(
      execFileSync('git', ['-c', 'core.fsmonitor=false', 'show', 'HEAD:memory/notes/readme.md'], {
        cwd: dirs.workspace,
        encoding: 'utf8',
      }),
    ).toBe('# Notes\n\nUpdated.\n');
  });
});
