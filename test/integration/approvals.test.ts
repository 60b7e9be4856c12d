/**
 * Approvals in a real daemon (in this process) with a real git repository: a run waits for the
 * operator, durably; approving applies and commits with trailers; editing records feedback that
 * the next run's prompt carries; rejecting ends the run with the reason; a file changed meanwhile
 * is never overwritten; .git/ is refused and keel.yaml always needs a decision; a run keeps the
 * runbook it started with while the file is edited or deleted, over a restart too.
 */
import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalGetRequest,
  ApprovalRejectRequest,
  ApprovalsListRequest,
  MetricsReportRequest,
  RunGetRequest,
  RunReplayRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import { WorkspaceConfig } from '@keel/schemas';
import { ApprovalService } from '../../daemon/src/approvals/approvalService';
import { sha256 } from '../../daemon/src/approvals/applyChanges';
import { describeTrace } from '../../daemon/src/cli/runFormat';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { trust } from '../helpers/trust';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

const NOTE = 'memory/customers/acme.md';
const OLD = '# Acme\n\nRenewal in March.\n';

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: dirs.workspace, encoding: 'utf8' });
}

async function start(): Promise<void> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

async function stop(): Promise<void> {
  await daemon?.stop('test');
  daemon = null;
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await initWorkspace(dirs.workspace);
  const config = join(dirs.workspace, 'keel.yaml');
  await writeFile(
    config,
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m }\n`,
  );
  await writeNote(dirs.workspace, NOTE, OLD);
  git('add', '-A');
  git('-c', 'user.name=Maya', '-c', 'user.email=maya@example.com', 'commit', '-q', '-m', 'Start');
  git('config', 'user.name', 'Maya');
  git('config', 'user.email', 'maya@example.com');
});
afterEach(async () => {
  await stop();
  await server.close();
  await dirs.cleanup();
});

const UPDATE = (extra = '') => `apiVersion: keel/v1
name: renewal
role: Account manager
description: Proposes the renewal date in the customer's note.
steps:
  - id: draft
    type: llm
    prompt: Write the renewal line for Acme.
  - id: update
    type: propose
    path: ${NOTE}
    content: "# Acme\\n\\n{{ steps.draft.output }}\\n"
    summary: Acme renewal date
    reasoning: The contract says April.
${extra}`;

async function runUntil(status: RunSummary['status'][], runbook = 'renewal'): Promise<RunSummary> {
  const started = await client.request(RunStartRequest, { runbook, inputs: {} });
  return waitFor(
    `run ${started.id} ${status.join('/')}`,
    async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return status.includes(run.status) ? run : null;
    },
    30_000,
  );
}

async function finished(id: string): Promise<RunSummary> {
  return waitFor(
    `run ${id} to end`,
    async () => {
      const { run } = await client.request(RunGetRequest, { id });
      return run.endedAt ? run : null;
    },
    30_000,
  );
}

describe('a proposed change', () => {
  it('waits for approval, then is written, committed with trailers, and the run goes on', async () => {
    await writeNote(dirs.workspace, 'runbooks/renewal.yaml', UPDATE());
    await start();
    server.enqueue({ content: 'Renewal in April.' });
    const waiting = await runUntil(['waiting_approval']);
    expect(waiting.waitingFor).toMatch(/^p-/);
    expect(await readFile(join(dirs.workspace, NOTE), 'utf8')).toBe(OLD);

    const { approvals } = await client.request(ApprovalsListRequest, { status: ['pending'] });
    expect(approvals).toHaveLength(1);
    expect(approvals[0]).toMatchObject({
      id: waiting.waitingFor,
      runbook: 'renewal',
      summary: 'Acme renewal date',
    });
    expect(approvals[0]!.changes).toEqual([expect.objectContaining({ path: NOTE, action: 'modify' })]);
    const { current } = await client.request(ApprovalGetRequest, { id: waiting.waitingFor! });
    expect(current[NOTE]).toBe(OLD);

    const applied = await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });
    expect(applied).toMatchObject({ status: 'applied', decision: { kind: 'approved' } });
    expect(await readFile(join(dirs.workspace, NOTE), 'utf8')).toBe('# Acme\n\nRenewal in April.\n');
    const message = git('log', '-1', '--format=%B');
    expect(message).toContain('Acme renewal date');
    expect(message).toContain(`Keel-Run: ${waiting.id}`);
    expect(message).toContain('Keel-Step: update');
    expect(message).toContain('Keel-Runbook: renewal');
    expect(message).toContain('Keel-Decision: approved');
    expect(git('log', '-1', '--format=%H').trim()).toBe(applied.decision!.commit);
    expect(git('show', '--name-only', '--format=', 'HEAD').trim()).toBe(NOTE);
    expect(await finished(waiting.id)).toMatchObject({ status: 'succeeded' });
  });

  it('keeps waiting over a daemon restart, and the decision resumes it', async () => {
    await writeNote(dirs.workspace, 'runbooks/renewal.yaml', UPDATE());
    await start();
    server.enqueue({ content: 'Renewal in April.' });
    const waiting = await runUntil(['waiting_approval']);
    await stop();
    await start();
    const { run } = await client.request(RunGetRequest, { id: waiting.id });
    expect(run).toMatchObject({ status: 'waiting_approval', waitingFor: waiting.waitingFor });
    await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });
    expect(await finished(waiting.id)).toMatchObject({ status: 'succeeded' });
    expect(server.requests).toHaveLength(1);
  });

  it('records an edit as feedback, and the next run’s prompt carries the correction', async () => {
    await writeNote(dirs.workspace, 'runbooks/renewal.yaml', UPDATE());
    await start();
    server.enqueue({ content: 'Renewal in April.' });
    const waiting = await runUntil(['waiting_approval']);
    const edited = '# Acme\n\nRenewal on 1 May (they asked for a month more).\n';
    const applied = await client.request(ApprovalApproveRequest, {
      id: waiting.waitingFor!,
      edited: { [NOTE]: edited },
    });
    expect(applied.decision?.kind).toBe('edited');
    expect(await readFile(join(dirs.workspace, NOTE), 'utf8')).toBe(edited);
    expect(git('log', '-1', '--format=%B')).toContain('Keel-Decision: edited');
    const feedback = await readFile(join(dirs.workspace, 'memory/feedback/renewal.md'), 'utf8');
    expect(feedback).toContain('-Renewal in April.');
    expect(feedback).toContain('+Renewal on 1 May (they asked for a month more).');
    expect(git('show', '--name-only', '--format=', 'HEAD').trim().split('\n').sort()).toEqual([
      'memory/customers/acme.md',
      'memory/feedback/renewal.md',
    ]);
    await finished(waiting.id);

    server.enqueue({ content: 'Renewal on 1 May.' });
    await runUntil(['waiting_approval']);
    const prompt = JSON.stringify(server.requests[1]!.body);
    expect(prompt).toContain('The operator corrected earlier proposals of this runbook');
    expect(prompt).toContain('+Renewal on 1 May (they asked for a month more).');
  });

  it('ends the run with the operator’s reason when rejected, or goes on when the step says so', async () => {
    await writeNote(dirs.workspace, 'runbooks/renewal.yaml', UPDATE());
    await writeNote(
      dirs.workspace,
      'runbooks/tolerant.yaml',
      UPDATE(
        '    onReject: continue\noutputs:\n  decision: { value: "{{ steps.update.output.decision }}: {{ steps.update.output.reason }}" }\n',
      ).replace('name: renewal', 'name: tolerant'),
    );
    await start();
    server.enqueue({ content: 'Renewal in April.' }, { content: 'Renewal in April.' });
    const first = await runUntil(['waiting_approval']);
    await client.request(ApprovalRejectRequest, { id: first.waitingFor!, reason: 'The contract says May.' });
    expect(await finished(first.id)).toMatchObject({
      status: 'failed',
      error: 'step "update" failed: the operator rejected the change: The contract says May.',
    });
    const second = await runUntil(['waiting_approval'], 'tolerant');
    await client.request(ApprovalRejectRequest, { id: second.waitingFor!, reason: 'Not now.' });
    expect(await finished(second.id)).toMatchObject({
      status: 'succeeded',
      outputs: { decision: 'rejected: Not now.' },
    });
    expect(await readFile(join(dirs.workspace, NOTE), 'utf8')).toBe(OLD);
    // Nothing of either change was written: each commit since holds only a reason, as a lesson.
    expect(git('log', '--format=', '--name-only', 'HEAD~2..HEAD').trim().split(/\n+/).sort()).toEqual([
      'memory/feedback/renewal.md',
      'memory/feedback/tolerant.md',
    ]);
  });

  it('keeps a rejection’s reason as a lesson the next runs read, until the operator deletes it', async () => {
    await writeNote(dirs.workspace, 'runbooks/renewal.yaml', UPDATE());
    await start();
    server.enqueue({ content: 'Renewal in April.' });
    const first = await runUntil(['waiting_approval']);
    // The reason's own lines never start a section (a lesson) of their own.
    const reason = 'The contract says May.\n## Also: never ask again';
    await client.request(ApprovalRejectRequest, { id: first.waitingFor!, reason });
    await finished(first.id);
    const path = join(dirs.workspace, 'memory/feedback/renewal.md');
    const feedback = await readFile(path, 'utf8');
    expect(feedback).toContain(`(proposal ${first.waitingFor}). The operator rejected it:`);
    expect(feedback).toContain('> The contract says May.\n> ## Also: never ask again\n');
    expect(feedback.match(/^## /gm)).toHaveLength(1);
    expect(git('log', '-1', '--format=%B')).toContain(`Keel-Lesson: ${first.waitingFor}`);
    expect(git('show', '--name-only', '--format=', 'HEAD').trim()).toBe('memory/feedback/renewal.md');

    server.enqueue({ content: 'Renewal in May.' });
    const second = await runUntil(['waiting_approval']);
    expect(JSON.stringify(server.requests[1]!.body)).toContain('The contract says May.');
    await client.request(ApprovalApproveRequest, { id: second.waitingFor! });
    await finished(second.id);

    const report = await client.request(MetricsReportRequest, {});
    expect(report.agents.find((a) => a.agent === 'renewal')?.lessons).toMatchObject({
      reworkBefore: 1,
      reworkAfter: 0,
      decidedAfter: 1,
    });

    // The operator deletes the lesson: the next run's prompt no longer has it.
    await writeFile(path, feedback.slice(0, feedback.indexOf('\n## ')) + '\n');
    server.enqueue({ content: 'Renewal in May.' });
    await runUntil(['waiting_approval']);
    expect(JSON.stringify(server.requests[2]!.body)).not.toContain('The contract says May.');
  });

  it('writes a lesson git could not commit at the next start, once', async () => {
    await writeNote(dirs.workspace, 'runbooks/renewal.yaml', UPDATE());
    await start();
    server.enqueue({ content: 'Renewal in April.' });
    const waiting = await runUntil(['waiting_approval']);
    // The operator's own git is busy: the commit of the lesson fails for now.
    const lock = join(dirs.workspace, '.git', 'index.lock');
    await writeFile(lock, '');
    await client.request(ApprovalRejectRequest, { id: waiting.waitingFor!, reason: 'Wrong month.' });
    await finished(waiting.id);
    expect(git('log', '--format=%B')).not.toContain('Keel-Lesson');
    await stop();
    await rm(lock);
    await start();
    await waitFor(
      'the lesson committed',
      () => git('log', '-1', '--format=%B').includes('Keel-Lesson') || null,
    );
    const feedback = await readFile(join(dirs.workspace, 'memory/feedback/renewal.md'), 'utf8');
    expect(feedback.match(/> Wrong month\./g)).toHaveLength(1);
    expect(git('log', '--format=%B').match(/Keel-Lesson:/g)).toHaveLength(1);
  });

  it('never overwrites a file changed after the proposal: marks it stale, applies only when approved again', async () => {
    await writeNote(dirs.workspace, 'runbooks/renewal.yaml', UPDATE());
    await start();
    server.enqueue({ content: 'Renewal in April.' });
    const waiting = await runUntil(['waiting_approval']);
    const mine = '# Acme\n\nRenewal in March. Call Dana first.\n';
    await writeFile(join(dirs.workspace, NOTE), mine);
    await expect(client.request(ApprovalApproveRequest, { id: waiting.waitingFor! })).rejects.toThrow(
      /changed since the proposal was made; it is marked stale/,
    );
    expect(await readFile(join(dirs.workspace, NOTE), 'utf8')).toBe(mine);
    const { proposal, current } = await client.request(ApprovalGetRequest, { id: waiting.waitingFor! });
    expect(proposal).toMatchObject({ status: 'stale', staleFiles: [NOTE] });
    expect(current[NOTE]).toBe(mine);
    // The operator has seen the new diff and approves again.
    await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });
    expect(await readFile(join(dirs.workspace, NOTE), 'utf8')).toBe('# Acme\n\nRenewal in April.\n');
  });

  it('refuses .git/ outright, and keeps keel.yaml for an explicit decision even with everything auto-applied', async () => {
    const config = join(dirs.workspace, 'keel.yaml');
    await writeFile(
      config,
      (await readFile(config, 'utf8')) +
        'approvals:\n  rules:\n    - { path: "**", allow: [create, modify, delete] }\n',
    );
    await writeNote(
      dirs.workspace,
      'runbooks/sneaky.yaml',
      `apiVersion: keel/v1
name: sneaky
role: Test
description: Tries the places agents must not write by themselves.
steps:
  - id: note
    type: propose
    path: memory/working/scratch.md
    content: "scratch"
  - id: config
    type: propose
    path: keel.yaml
    content: "version: 1"
  - id: hooks
    type: propose
    path: .git/hooks/pre-commit
    content: "rm -rf /"
`,
    );
    await start();
    const run = await runUntil(['waiting_approval'], 'sneaky');
    // Policy applied the note at once; keel.yaml waits, protected.
    // (stamped for retention: created, expires, source)
    expect(await readFile(join(dirs.workspace, 'memory/working/scratch.md'), 'utf8')).toMatch(
      /^---\ncreated: [\s\S]*\n---\nscratch$/,
    );
    const { approvals } = await client.request(ApprovalsListRequest, { status: ['pending'] });
    expect(approvals.map((a) => [a.changes[0]!.path, a.protected])).toEqual([['keel.yaml', true]]);
    await client.request(ApprovalApproveRequest, { id: run.waitingFor! });
    const ended = await finished(run.id);
    expect(ended.status).toBe('failed');
    expect(ended.error).toMatch(
      /"\.git\/hooks\/pre-commit": it is inside a \.git\/ folder, which Keel never/,
    );
    expect(
      await readFile(join(dirs.workspace, '.git/hooks/pre-commit'), 'utf8').catch(() => null),
    ).toBeNull();
  });
});

describe('a change computed from the file as it was (a propose step’s append:)', () => {
  it('is recorded stale when the file changed before the proposal was made, and no rule applies it', async () => {
    const approvals = await ApprovalService.open({
      workspace: dirs.workspace,
      config: WorkspaceConfig.parse({
        version: 1,
        approvals: { rules: [{ path: 'memory/**', allow: ['create', 'modify'] }] },
      }),
      log: createLogger({ level: 'error' }),
      onChanged: () => undefined,
      trusted: () => true,
    });
    const computedFrom = sha256(OLD);
    const proposed = `${OLD}\n## Payments\n\n- paid\n`;
    // The operator saves the note between the step reading it and the proposal being recorded.
    const mine = '# Acme\n\nRenewal in March. Call Dana first.\n';
    await writeFile(join(dirs.workspace, NOTE), mine);
    const proposal = await approvals.propose({
      id: 'p-race',
      runId: 'r-race',
      stepId: 'note',
      runbook: 'payment-received',
      summary: 'Payment received',
      reasoning: '',
      changes: [{ path: NOTE, content: proposed, baseHash: computedFrom }],
    });
    expect(proposal).toMatchObject({ status: 'stale', staleFiles: [NOTE] });
    expect(proposal.changes[0]!.content).toBe(proposed);
    expect(await readFile(join(dirs.workspace, NOTE), 'utf8')).toBe(mine);
    // An append is computed again from the note as it is now: the diff adds only its lines.
    const appended = await approvals.propose({
      id: 'p-race-append',
      runId: 'r-race-append',
      stepId: 'note',
      runbook: 'payment-received',
      summary: 'Payment received',
      reasoning: '',
      changes: [
        {
          path: NOTE,
          content: proposed,
          baseHash: computedFrom,
          append: { under: '## Payments', text: '- paid' },
        },
      ],
    });
    expect(appended).toMatchObject({ status: 'stale', staleFiles: [NOTE] });
    expect(appended.changes[0]!.content).toBe(`${mine}\n## Payments\n\n- paid\n`);
    // Unchanged since: the same rule applies it at once.
    const applied = await approvals.propose({
      id: 'p-calm',
      runId: 'r-calm',
      stepId: 'note',
      runbook: 'payment-received',
      summary: 'Payment received',
      reasoning: '',
      changes: [{ path: NOTE, content: `${mine}- paid\n`, baseHash: sha256(mine) }],
    });
    expect(applied.status).toBe('applied');
  });
});

describe('a run waiting for approval keeps the runbook it started with', () => {
  /** The edit an operator might make while the run waits: another prompt, another file, a step more. */
  const EDITED = UPDATE(`  - id: extra
    type: llm
    prompt: Now also write to the customer.
`)
    .replace('Write the renewal line for Acme.', 'Write a longer renewal line.')
    .replace(`path: ${NOTE}`, 'path: memory/customers/other.md');
  const GONE = UPDATE().replace('name: renewal', 'name: gone');

  async function startBoth(): Promise<{ renewal: RunSummary; gone: RunSummary; blob: string }> {
    await writeNote(dirs.workspace, 'runbooks/renewal.yaml', UPDATE());
    await writeNote(dirs.workspace, 'runbooks/gone.yaml', GONE);
    const blob = git('hash-object', 'runbooks/renewal.yaml').trim();
    await start();
    server.enqueue({ content: 'Renewal in April.' }, { content: 'Renewal in April.' });
    const renewal = await runUntil(['waiting_approval']);
    const gone = await runUntil(['waiting_approval'], 'gone');
    return { renewal, gone, blob };
  }

  async function editAndDelete(): Promise<void> {
    await writeFile(join(dirs.workspace, 'runbooks/renewal.yaml'), EDITED);
    await rm(join(dirs.workspace, 'runbooks/gone.yaml'));
  }

  async function approveAndCheck(renewal: RunSummary, gone: RunSummary, blob: string): Promise<void> {
    // The trace says which version runs, and that the file is no longer it.
    const before = await client.request(RunGetRequest, { id: renewal.id });
    expect(before.runbook).toEqual({ path: 'runbooks/renewal.yaml', blob, file: 'changed' });
    expect(describeTrace(before)).toContain(
      `runbook: runbooks/renewal.yaml @ ${blob.slice(0, 7)} (changed since; this run keeps the version it started with)`,
    );
    const { runbook: goneVersion } = await client.request(RunGetRequest, { id: gone.id });
    expect(goneVersion).toMatchObject({ path: 'runbooks/gone.yaml', file: 'deleted' });

    for (const run of [renewal, gone]) {
      await client.request(ApprovalApproveRequest, { id: run.waitingFor! });
      const ended = await finished(run.id);
      expect(ended).toMatchObject({ status: 'succeeded', stepsDone: 2, stepsTotal: 2 });
      const { steps } = await client.request(RunGetRequest, { id: run.id });
      expect(steps.map((s) => [s.id, s.status])).toEqual([
        ['draft', 'succeeded'],
        ['update', 'succeeded'],
      ]);
    }
    // The old steps ran: the note the old version proposes, no new model call, no other file.
    expect(await readFile(join(dirs.workspace, NOTE), 'utf8')).toBe('# Acme\n\nRenewal in April.\n');
    expect(
      await readFile(join(dirs.workspace, 'memory/customers/other.md'), 'utf8').catch(() => null),
    ).toBeNull();
    expect(server.requests).toHaveLength(2);
  }

  it('finishes with the old steps when the file is edited or deleted meanwhile', async () => {
    const { renewal, gone, blob } = await startBoth();
    await editAndDelete();
    await approveAndCheck(renewal, gone, blob);
    // A new run takes the file as it is now.
    server.enqueue({ content: 'A longer line.' });
    const next = await runUntil(['waiting_approval']);
    const { runbook } = await client.request(RunGetRequest, { id: next.id });
    expect(runbook).toMatchObject({
      file: 'unchanged',
      blob: git('hash-object', 'runbooks/renewal.yaml').trim(),
    });
    expect(next.stepsTotal).toBe(3);
  });

  it('keeps the old version over a daemon restart', async () => {
    const { renewal, gone, blob } = await startBoth();
    await stop();
    await editAndDelete();
    await start();
    await approveAndCheck(renewal, gone, blob);
  });

  it('replays the version it kept, or the file as it is now when asked', async () => {
    await writeNote(dirs.workspace, 'runbooks/renewal.yaml', UPDATE());
    await start();
    server.enqueue({ content: 'Renewal in April.' });
    const waiting = await runUntil(['waiting_approval']);
    await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });
    await finished(waiting.id);
    await writeFile(join(dirs.workspace, 'runbooks/renewal.yaml'), EDITED);
    const kept = await client.request(RunReplayRequest, { id: waiting.id });
    expect(kept).toMatchObject({ status: 'succeeded', divergence: null });
    const current = await client.request(RunReplayRequest, { id: waiting.id, runbook: 'current' });
    expect(current.divergence).toMatchObject({ stepId: 'draft', kind: 'request' });
    expect(current.divergence!.message).toMatch(/runbook changed since this run/);
    expect(server.requests).toHaveLength(1);
  });
});
