/**
 * `keel demo`: a newcomer's first minutes. A fresh folder becomes a sample company, indexed, with
 * every example runbook run offline from its cassette: a run history, metrics, an approval waiting
 * and drafts in the outbox. It never touches a folder that is not empty.
 */
import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Proposal, RunSummary } from '@keel/schemas';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
beforeEach(async () => (dirs = await makeTempDirs()));
afterEach(() => dirs.cleanup());

it('creates a sample company, runs its agents offline, and leaves an approval waiting', async () => {
  const demo = join(dirs.workspace, 'acme');
  const made = await runKeel(['demo', demo], { runtime: dirs.runtime });
  expect(made.code, made.stderr).toBe(0);
  expect(made.stdout).toContain(`code ${demo}`);
  // The demo's answers were written for it, not given by a model: every run says so.
  const runLines = made.stdout.split('\n').filter((line) => /^\d{8}-\d{6}-/.test(line));
  expect(runLines).toHaveLength(7);
  for (const line of runLines) expect(line).toMatch(/ {2}\(scripted answers\)$/);

  const keel = (...args: string[]) => runKeel(args, { cwd: demo, runtime: dirs.runtime });
  const runs = JSON.parse((await keel('runs', '--json')).stdout) as RunSummary[];
  expect(runs.map((r) => [r.runbook, r.status]).sort()).toEqual([
    ['content', 'succeeded'],
    ['inbox-triage', 'waiting_approval'],
    ['meeting-prep', 'succeeded'],
    ['onboarding', 'waiting_approval'],
    ['ops', 'succeeded'],
    ['payment-received', 'waiting_approval'],
    ['sales', 'succeeded'],
  ]);
  const approvals = JSON.parse((await keel('approvals', '--json')).stdout) as Proposal[];
  expect(approvals.map((a) => [a.runbook, a.changes[0]?.path ?? a.action?.review.title])).toEqual([
    ['payment-received', 'memory/customers/acme-logistics.md'],
    ['inbox-triage', 'Email to Dana Whitfield <dana@acme-logistics.example>: Re: Kickoff workshop'],
    ['onboarding', 'memory/customers/acme-logistics-onboarding.md'],
  ]);
  // Acme's payment is one line under a new Payments section of Acme's own note, frontmatter kept.
  const payment = approvals.find((a) => a.runbook === 'payment-received')!.changes[0]!.content!;
  expect(payment).toMatch(/^---\ntype: customer\n/);
  expect(payment.endsWith('\n\n## Payments\n\n- 2026-12-03: invoice KEEL-0007 paid, 4,000 EUR.\n')).toBe(
    true,
  );
  // The reply waits as an email the operator reads before anything is sent.
  const reply = approvals.find((a) => a.runbook === 'inbox-triage')!.action!;
  expect(reply).toMatchObject({ connector: 'mail', action: 'send', risk: 'external' });
  expect(reply.review.text).toContain('In-Reply-To: <kickoff-1@acme-logistics.example>');
  expect(reply.review.text).toContain('bring the three dispatch spreadsheets');
  const report = JSON.parse((await keel('report', '--json')).stdout) as {
    agents: { agent: string; costUsd: number }[];
  };
  expect(report.agents.map((a) => a.agent)).toEqual([
    'content',
    'inbox-triage',
    'meeting-prep',
    'onboarding',
    'ops',
    'payment-received',
    'sales',
  ]);
  expect(report.agents.every((a) => a.costUsd > 0)).toBe(true);
  expect((await readdir(join(demo, 'outbox'))).sort()).toEqual([
    'followup-northwind-retail.md',
    'posts',
    'welcome-acme-logistics.md',
  ]);
  // The weekly review and the meeting brief were auto-applied (memory/working/) and committed.
  const log = execFileSync('git', ['log', '--format=%s'], { cwd: demo, encoding: 'utf8' });
  expect(log).toContain('Weekly review 2026-W48');
  expect(log).toContain('Brief for Northwind Retail');

  const again = await runKeel(['demo', demo], { runtime: dirs.runtime });
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('is not empty; give keel demo a new folder');
});
