/**
 * Attacks on working-memory expiry: a retention glob that leaves memory/ is refused at its line of
 * keel.yaml; links in working memory are never followed, moved or deleted; a note that forges
 * `source:` frontmatter (or that the operator edited since Keel wrote it, or that Keel's commit did
 * not create) is never deleted by a rule: its proposal waits for the operator. Real git, real files, the real approvals service.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkspaceConfig } from '@keel/schemas';
import { ApprovalService } from '../../daemon/src/approvals/approvalService';
import { createLogger } from '../../daemon/src/log';
import { expiredNotes } from '../../daemon/src/memory/retention/expiryPlan';
import { ExpiryJob } from '../../daemon/src/memory/retention/expiryJob';
import { loadConfig } from '../../daemon/src/workspace/config';
import { writeNote } from '../helpers/memory';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
const log = createLogger({ level: 'error' });
const EXPIRED = (run: string): string =>
  `---\ncreated: 2020-01-01T00:00:00Z\nsource: { run: ${run} }\n---\n# Note of ${run}\n`;

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: dirs.workspace, encoding: 'utf8' });
}

/** Commits as Keel does for an applied proposal of `run` (its trailer block). */
function commitAsKeel(path: string, run: string): void {
  git('add', '--', path);
  git('commit', '-q', '-m', `Note\n\nKeel-Run: ${run}\nKeel-Proposal: p-${run}`, '--', path);
}

const CONFIG = WorkspaceConfig.parse({
  version: 1,
  memory: { retention: [{ path: 'memory/working/**', after: '1d', then: 'delete' }] },
  approvals: { rules: [{ path: 'memory/working/**', allow: ['create', 'delete'] }] },
});

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  git('init', '-q');
  git('config', 'user.name', 'Maya');
  git('config', 'user.email', 'maya@example.com');
  await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\n');
  git('add', '-A');
  git('commit', '-qm', 'Start');
});
afterEach(async () => {
  await dirs.cleanup();
});

describe('retention paths', () => {
  it('refuses a glob that leaves memory/, names its line, and refuses the archive itself', async () => {
    for (const [path, words] of [
      ['../secrets/**', 'leaves the workspace'],
      ['memory/../runbooks/**', 'leaves the workspace'],
      ['runbooks/**', 'is not inside memory/'],
      ['**/*.md', 'is not inside memory/'],
      ['/etc/**', 'leaves the workspace'],
      ['memory/archive/**', 'the archive itself'],
    ] as const) {
      await writeFile(
        join(dirs.workspace, 'keel.yaml'),
        `version: 1\nmemory:\n  retention:\n    - { path: "memory/working/**", after: 30d, then: archive }\n    - { path: "${path}", after: 1d, then: delete }\n`,
      );
      const loaded = await loadConfig(dirs.workspace);
      expect(loaded.state, path).toBe('invalid');
      expect(loaded.problems[0]!.message, path).toContain(words);
      expect(loaded.problems[0]!.line, path).toBe(5);
    }
  });
});

describe('expiry never acts on what is not provably Keel’s', () => {
  it('does not follow, move or delete links in working memory', async () => {
    const outside = join(dirname(dirs.runtime), 'outside');
    await mkdir(join(outside, 'secret'), { recursive: true });
    await writeFile(join(outside, 'secret', 'keys.md'), EXPIRED('r-1'));
    await writeFile(join(outside, 'file.md'), EXPIRED('r-1'));
    await mkdir(join(dirs.workspace, 'memory/working'), { recursive: true });
    await symlink(join(outside, 'file.md'), join(dirs.workspace, 'memory/working/link.md'));
    await symlink(join(outside, 'secret'), join(dirs.workspace, 'memory/working/dir'));
    await writeNote(dirs.workspace, 'memory/working/real.md', EXPIRED('r-1'));
    commitAsKeel('memory/working', 'r-1');
    const notes = await expiredNotes({
      workspace: dirs.workspace,
      memoryDir: 'memory',
      rules: CONFIG.memory.retention,
      now: new Date(),
      waiting: new Set(),
    });
    expect(notes.map((n) => n.path)).toEqual(['memory/working/real.md']);
    expect(await readFile(join(outside, 'file.md'), 'utf8')).toBe(EXPIRED('r-1'));
  });

  it('asks the operator for a forged source or a note edited since Keel wrote it; deletes Keel’s own by rule', async () => {
    await writeNote(dirs.workspace, 'memory/working/forged.md', EXPIRED('r-forged'));
    git('add', '-A');
    git('commit', '-qm', 'Pasted from an email (mentions Keel-Run: r-forged in its text)');
    await writeNote(dirs.workspace, 'memory/working/edited.md', EXPIRED('r-2'));
    commitAsKeel('memory/working/edited.md', 'r-2');
    await writeFile(join(dirs.workspace, 'memory/working/edited.md'), `${EXPIRED('r-2')}My own line.\n`);
    await writeNote(dirs.workspace, 'memory/working/other-run.md', EXPIRED('r-3'));
    commitAsKeel('memory/working/other-run.md', 'r-4');

    const job = await openJob();
    const proposal = (await job.runDue())!;
    expect(proposal.changes.map((c) => c.path).sort()).toEqual([
      'memory/working/edited.md',
      'memory/working/forged.md',
      'memory/working/other-run.md',
    ]);
    expect(proposal.status).toBe('pending');
    expect(proposal.reasoning).toContain('memory/working/forged.md: the commit that created it');
    expect(proposal.reasoning).toContain('memory/working/edited.md: it was edited since Keel committed it');
    expect(await readFile(join(dirs.workspace, 'memory/working/forged.md'), 'utf8')).toBe(
      EXPIRED('r-forged'),
    );

    // The control: Keel's own unedited note alone is deleted by the rule, and committed.
    await writeNote(dirs.workspace, 'memory/working/own.md', EXPIRED('r-5'));
    commitAsKeel('memory/working/own.md', 'r-5');
    const tomorrow = await openJob(2);
    const own = (await tomorrow.runDue())!;
    expect(own.changes.map((c) => c.path)).toEqual(['memory/working/own.md']);
    expect(own.status).toBe('applied');
    expect(own.decision?.kind).toBe('policy');
    expect(git('log', '-1', '--format=%B')).toContain(`Keel-Proposal: ${own.id}`);
  });

  it('asks the operator for an operator’s note that a Keel run later edited to say source: that run', async () => {
    // The operator wrote the note; a run's approved edit added `source:` naming the run itself
    // (a model can write any frontmatter). Keel's commit is its last, but not the one that made it.
    await writeNote(
      dirs.workspace,
      'memory/working/mine.md',
      '---\ncreated: 2020-01-01T00:00:00Z\n---\n# Mine\n',
    );
    git('add', '-A');
    git('commit', '-qm', 'My note');
    await writeFile(join(dirs.workspace, 'memory/working/mine.md'), EXPIRED('r-6'));
    commitAsKeel('memory/working/mine.md', 'r-6');

    const proposal = (await (await openJob()).runDue())!;
    expect(proposal.changes.map((c) => c.path)).toEqual(['memory/working/mine.md']);
    expect(proposal.status).toBe('pending');
    expect(proposal.reasoning).toContain('memory/working/mine.md: the commit that created it');
    expect(await readFile(join(dirs.workspace, 'memory/working/mine.md'), 'utf8')).toBe(EXPIRED('r-6'));
  });

  it('counts a note Keel created, deleted and that the operator re-created as the operator’s', async () => {
    await writeNote(dirs.workspace, 'memory/working/again.md', EXPIRED('r-7'));
    commitAsKeel('memory/working/again.md', 'r-7');
    git('rm', '-q', 'memory/working/again.md');
    git('commit', '-qm', 'Gone');
    await writeNote(dirs.workspace, 'memory/working/again.md', EXPIRED('r-7'));
    git('add', '-A');
    git('commit', '-qm', 'Back, by hand');
    const [note] = await expiredNotes({
      workspace: dirs.workspace,
      memoryDir: 'memory',
      rules: CONFIG.memory.retention,
      now: new Date(),
      waiting: new Set(),
    });
    expect(note!.keelOwned).toBe(false);
    expect(note!.operatorReason).toContain('the commit that created it');
  });
});

describe('the archive', () => {
  const ARCHIVING = WorkspaceConfig.parse({
    version: 1,
    memory: { retention: [{ path: 'memory/working/**', after: '1d', then: 'archive' }] },
    approvals: {
      rules: [
        { path: 'memory/working/**', allow: ['create', 'delete'] },
        { path: 'memory/archive/**', allow: ['create'] },
      ],
    },
  });

  it('never overwrites an earlier archive of the same path: the second one gets the day in its name', async () => {
    await writeNote(dirs.workspace, 'memory/working/brief.md', EXPIRED('r-1'));
    commitAsKeel('memory/working/brief.md', 'r-1');
    const first = (await (await openJob(0, ARCHIVING)).runDue())!;
    expect(first.status).toBe('applied');
    const archived = join(dirs.workspace, 'memory/archive/working/brief.md');
    expect(await readFile(archived, 'utf8')).toBe(EXPIRED('r-1'));

    // A later run writes a note at the same path; it expires too.
    await writeNote(dirs.workspace, 'memory/working/brief.md', EXPIRED('r-2'));
    commitAsKeel('memory/working/brief.md', 'r-2');
    const second = (await (await openJob(2, ARCHIVING)).runDue())!;
    const day = second.id.slice('retention-'.length);
    expect(second.changes.map((c) => c.path).sort()).toEqual([
      `memory/archive/working/brief.${day}.md`,
      'memory/working/brief.md',
    ]);
    // A create, so the archive rule applies it; the first archive is untouched.
    expect(second.status).toBe('applied');
    expect(await readFile(archived, 'utf8')).toBe(EXPIRED('r-1'));
    expect(await readFile(join(dirs.workspace, `memory/archive/working/brief.${day}.md`), 'utf8')).toBe(
      EXPIRED('r-2'),
    );
  });
});

async function openJob(offsetDays = 0, config = CONFIG): Promise<ExpiryJob> {
  const approvals = await ApprovalService.open({
    workspace: dirs.workspace,
    config,
    log,
    onChanged: () => undefined,
    trusted: () => true,
  });
  return ExpiryJob.open({
    workspace: dirs.workspace,
    log,
    clock: { now: () => Date.now() + offsetDays * 86_400_000 },
    config: () => config,
    approvals,
    trusted: () => true,
  });
}
