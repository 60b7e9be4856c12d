/**
 * Triggers in a real daemon (in this process) on a real workspace: a schedule missed while the
 * daemon was down fires once at start-up, then at its next slot; a burst of saves to a matching
 * file is one run, other files none, and files Keel writes itself (outbox, approved changes) none.
 * Absence is shown by a sentinel: a later matching change whose run proves the watcher got past
 * the events that must not fire.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  RunCancelRequest,
  RunGetRequest,
  RunsListRequest,
  TrustStateRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import { RunbookCatalog } from '../../daemon/src/conductor/runbookCatalog';
import { TriggerScheduler } from '../../daemon/src/conductor/triggers';
import type { Clock } from '../../daemon/src/conductor/triggerSchedule';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { trust } from '../helpers/trust';
import { writeNote } from '../helpers/memory';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\n');
});
afterEach(async () => {
  await stop();
  await dirs.cleanup();
});

/** Starts the daemon and resolves once its triggers are armed and watching. */
async function start(clock?: Clock): Promise<void> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
    ...(clock ? { clock } : {}),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
  await daemon.conductor.triggers()!.settled();
}

async function stop(): Promise<void> {
  if (!daemon) return;
  const { runs } = await client.request(RunsListRequest, { limit: 100 });
  for (const run of runs) await ended(run.id);
  await daemon.stop('test');
  daemon = null;
}

async function runs(runbook: string): Promise<RunSummary[]> {
  return (await client.request(RunsListRequest, { limit: 100, runbook })).runs.reverse();
}

async function ended(id: string): Promise<RunSummary> {
  return waitFor(`run ${id} to end`, async () => {
    const { run } = await client.request(RunGetRequest, { id });
    return run.endedAt ? run : null;
  });
}

/** A clock at `iso` when first read, running at real speed from then on. */
function clockAt(iso: string): Clock {
  let first: number | null = null;
  return {
    now: () => {
      first ??= Date.now();
      return Date.parse(iso) + (Date.now() - first);
    },
  };
}

const WEEKLY = `apiVersion: keel/v1
name: weekly
role: Reporter
description: Notes the week, Mondays at 09:00 in Amsterdam.
inputs:
  slot: { type: string }
triggers:
  - type: schedule
    cron: "0 9 * * 1"
    timezone: Europe/Amsterdam
    inputs: { slot: "{{ trigger.slot }}" }
steps:
  - id: note
    type: connector
    use: fs.outbox@1
    with: { path: "weekly/{{ inputs.slot }}.txt", content: "Week of {{ inputs.slot }}" }
`;

describe('a schedule', () => {
  it('missed while the daemon was down fires exactly once at start-up, then at its next slot', async () => {
    await writeNote(dirs.workspace, 'runbooks/weekly.yaml', WEEKLY);
    // Monday 2 November, 08:00 in Amsterdam: the first slot is an hour away.
    await start(clockAt('2026-11-02T07:00:00Z'));
    expect(await runs('weekly')).toEqual([]);
    await stop();

    // Three weeks later, 08:59:58 in Amsterdam: the slots of 2, 9 and 16 November were missed.
    await start(clockAt('2026-11-23T07:59:58Z'));
    const caughtUp = await runs('weekly');
    expect(caughtUp.map((r) => r.inputs.slot)).toEqual(['2026-11-16T08:00:00.000Z']);
    const next = await waitFor('the 09:00 slot of 23 November', async () => (await runs('weekly'))[1]);
    expect(next.inputs.slot).toBe('2026-11-23T08:00:00.000Z');
    expect((await ended(caughtUp[0]!.id)).status).toBe('succeeded');
    expect((await ended(next.id)).status).toBe('succeeded');
    const state = JSON.parse(await readFile(join(dirs.workspace, '.keel', 'triggers.json'), 'utf8')) as {
      schedules: Record<string, { lastSlot: string; timezone: string }>;
    };
    expect(state.schedules['weekly#0']).toMatchObject({
      lastSlot: '2026-11-23T08:00:00.000Z',
      timezone: 'Europe/Amsterdam',
    });
    await stop();

    // Later that day: the slot that fired is not fired again.
    await start(clockAt('2026-11-23T12:00:00Z'));
    expect(await runs('weekly')).toHaveLength(2);
  });
});

const DAILY_CHECK = `apiVersion: keel/v1
name: daily
role: Clerk
description: Asks the operator every morning at 09:00 (UTC).
triggers:
  - type: schedule
    cron: "0 9 * * *"
steps:
  - id: ask
    type: checkpoint
    message: Go on?
`;

describe('a schedule whose last run is still under way', () => {
  it('starts no run at the next slot until that run has ended, then fires again', async () => {
    await writeNote(dirs.workspace, 'runbooks/daily.yaml', DAILY_CHECK);
    // 08:59:58: the 09:00 slot fires, and its run waits for the operator at its checkpoint.
    await start(clockAt('2026-11-23T08:59:58Z'));
    const first = await waitFor('the 09:00 run to wait', async () => {
      const [run] = await runs('daily');
      return run?.status === 'waiting_operator' ? run : null;
    });
    await daemon!.stop('test');
    daemon = null;

    // The next morning the operator has not answered yet: that slot starts no second run.
    await start(clockAt('2026-11-24T10:00:00Z'));
    const state = async () =>
      (
        JSON.parse(await readFile(join(dirs.workspace, '.keel', 'triggers.json'), 'utf8')) as {
          schedules: Record<string, { lastSlot: string; lastRun?: string }>;
        }
      ).schedules['daily#0'];
    expect(await state()).toMatchObject({ lastSlot: '2026-11-24T09:00:00.000Z', lastRun: first.id });
    expect((await runs('daily')).map((r) => r.id)).toEqual([first.id]);
    await client.request(RunCancelRequest, { id: first.id });
    await ended(first.id);
    await daemon!.stop('test');
    daemon = null;

    // Once it ended, the next slot fires as usual.
    await start(clockAt('2026-11-25T10:00:00Z'));
    const later = await runs('daily');
    expect(later).toHaveLength(2);
    expect(later[1]!.id).not.toBe(first.id);
    expect((await state())?.lastRun).toBe(later[1]!.id);
    await client.request(RunCancelRequest, { id: later[1]!.id });
  });
});

describe('a schedule edited while the daemon runs', () => {
  const scheduled = async (): Promise<Record<string, { cron: string }>> =>
    (
      JSON.parse(await readFile(join(dirs.workspace, '.keel', 'triggers.json'), 'utf8')) as {
        schedules: Record<string, { cron: string }>;
      }
    ).schedules;

  it('follows the runbook: a new cron from now on, none once the runbook is removed', async () => {
    await writeNote(dirs.workspace, 'runbooks/weekly.yaml', WEEKLY.replace('0 9 * * 1', '0 10 * * 1'));
    // 08:59:55 in Amsterdam on a Monday; the runbook says 10:00.
    await start(clockAt('2026-11-23T07:59:55Z'));
    expect((await scheduled())['weekly#0']?.cron).toBe('0 10 * * 1');
    await writeNote(dirs.workspace, 'runbooks/weekly.yaml', WEEKLY);
    // An edited trigger is a new one: it stays unarmed until the operator consents to it.
    await waitFor('the edited trigger to ask for consent', async () =>
      (await client.request(TrustStateRequest, {})).triggers.some((t) => !t.consented),
    );
    await daemon!.conductor.triggers()!.settled();
    expect((await scheduled())['weekly#0']?.cron).not.toBe('0 9 * * 1');
    await trust(daemon!);
    await waitFor('the new cron', async () => (await scheduled())['weekly#0']?.cron === '0 9 * * 1');
    const run = await waitFor('the 09:00 slot', async () => (await runs('weekly'))[0]);
    expect(run.inputs.slot).toBe('2026-11-23T08:00:00.000Z');
    await ended(run.id);
    await rm(join(dirs.workspace, 'runbooks/weekly.yaml'));
    await waitFor('the schedule to be dropped', async () => !('weekly#0' in (await scheduled())));
    expect(await runs('weekly')).toHaveLength(1);
  });
});

describe('a schedule outside the long-lived daemon', () => {
  it('never fires in a one-command CLI daemon', async () => {
    await writeNote(dirs.workspace, 'runbooks/weekly.yaml', WEEKLY);
    daemon = await Daemon.start({
      workspace: dirs.workspace,
      mode: 'in-process',
      log: createLogger({ level: 'error' }),
      clock: clockAt('2026-11-23T12:00:00Z'),
    });
    client = new InProcessClient(daemon);
    await trust(daemon);
    expect(daemon.conductor.triggers()).toBeNull();
    expect(await runs('weekly')).toEqual([]);
  });
});

const CALLS = `apiVersion: keel/v1
name: calls
role: Note taker
description: Notes every call note that changes.
inputs:
  note: { type: string }
triggers:
  - type: manual
  - type: fileChanged
    paths: ["memory/calls/**/*.md", "memory/working/**/*.md", "outbox/**"]
    inputs: { note: "{{ trigger.path }}" }
steps:
  - id: seen
    type: connector
    use: fs.outbox@1
    with: { path: "seen/{{ inputs.note | replace: '/', '_' }}", content: "{{ inputs.note }}" }
`;

/** Saves a matching file by hand and waits for its run: every earlier event has been handled. */
async function sentinel(): Promise<RunSummary> {
  await writeNote(dirs.workspace, 'memory/calls/sentinel.md', '# Sentinel\n');
  return waitFor('the sentinel run', async () =>
    (await runs('calls')).find((r) => r.inputs.note === 'memory/calls/sentinel.md'),
  );
}

const notes = async (): Promise<string[]> => (await runs('calls')).map((r) => String(r.inputs.note));

describe('a fileChanged trigger', () => {
  beforeEach(() => writeNote(dirs.workspace, 'runbooks/calls.yaml', CALLS));

  it('fires one run for a burst of 20 saves to a matching file', async () => {
    await start();
    // The operator's pace: 20 saves over about 400 ms, longer than the 300 ms a change must settle.
    // A burst in which this test itself was held up longer than that between two saves (a loaded
    // machine) is two bursts by design: such a burst is saved again under another name.
    const burst = async (path: string): Promise<number> => {
      let longestGap = 0;
      let last = performance.now();
      for (let save = 0; save < 20; save++) {
        await writeNote(dirs.workspace, path, `# Acme call\n\nDraft ${save}\n`);
        longestGap = Math.max(longestGap, performance.now() - last);
        last = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return longestGap;
    };
    let path = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      path = `memory/calls/2026/acme-${attempt}.md`;
      if ((await burst(path)) < 250) break;
    }
    await sentinel();
    const burstRuns = (await runs('calls')).filter((r) => r.inputs.note === path);
    expect(burstRuns).toHaveLength(1);
    expect((await ended(burstRuns[0]!.id)).status).toBe('succeeded');
  });

  it('fires no run for files its globs do not match', async () => {
    await start();
    await writeNote(dirs.workspace, 'memory/calls/acme.txt', 'not Markdown');
    await writeNote(dirs.workspace, 'memory/customers/acme.md', '# Acme\n');
    await writeNote(dirs.workspace, 'notes/memory/calls/acme.md', '# Elsewhere\n');
    await sentinel();
    expect(await notes()).toEqual(['memory/calls/sentinel.md']);
  });

  it("fires no run for Keel's own writes: outbox files and approved changes", async () => {
    await writeNote(
      dirs.workspace,
      'runbooks/writer.yaml',
      `apiVersion: keel/v1
name: writer
role: Writer
description: Writes an outbox file, a working note (applied by policy) and a call note (approved).
steps:
  - id: report
    type: connector
    use: fs.outbox@1
    with: { path: report.md, content: "# Report" }
  - id: working
    type: propose
    path: memory/working/calls/summary.md
    content: "# Summary"
  - id: call
    type: propose
    path: memory/calls/approved.md
    content: "# Approved call note"
`,
    );
    await start();
    const started = await client.request(RunStartRequest, { runbook: 'writer', inputs: {} });
    const waiting = await waitFor('the call note to wait for approval', async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'waiting_approval' ? run : null;
    });
    await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });
    expect((await ended(started.id)).status).toBe('succeeded');
    expect(await readFile(join(dirs.workspace, 'memory/calls/approved.md'), 'utf8')).toBe(
      '# Approved call note',
    );
    // Working memory a run creates is stamped with when it expires and which run wrote it.
    expect(await readFile(join(dirs.workspace, 'memory/working/calls/summary.md'), 'utf8')).toMatch(
      /^---\ncreated: \S+\nexpires: \S+\nsource: \{"run":"[^"]+-writer-[^"]+"\}\n---\n# Summary$/,
    );

    // The sentinel's run writes outbox/seen/..., which matches too and is Keel's: no run for it.
    expect((await ended((await sentinel()).id)).status).toBe('succeeded');
    expect(await notes()).toEqual(['memory/calls/sentinel.md']);

    // The operator editing a file Keel wrote is the operator's change again.
    await writeNote(dirs.workspace, 'memory/calls/approved.md', '# Approved call note, corrected\n');
    await waitFor('the run for the edited note', async () => (await notes()).length === 2);
    expect(await notes()).toEqual(['memory/calls/sentinel.md', 'memory/calls/approved.md']);
  });
});

describe('a trigger whose run is refused', () => {
  it('logs the refusal and keeps firing', async () => {
    await writeNote(dirs.workspace, 'runbooks/calls.yaml', CALLS);
    let logs = '';
    const started: string[] = [];
    const catalog = new RunbookCatalog(dirs.workspace, 'runbooks');
    const triggers = new TriggerScheduler({
      workspace: dirs.workspace,
      log: createLogger({ level: 'info', write: (line) => (logs += line + '\n') }),
      runbooks: () => catalog.list(),
      allowed: () => true, // the operator consented to this trigger
      // The conductor during an emergency stop: it refuses the first run.
      start: (runbook, inputs) => {
        started.push(String(inputs.note));
        if (started.length === 1) return Promise.reject(new Error('Keel is stopped (emergency stop)'));
        return Promise.resolve({ id: `run-${started.length}`, runbook } as RunSummary);
      },
    });
    try {
      await triggers.refresh();
      await writeNote(dirs.workspace, 'memory/calls/first.md', '# First\n');
      await waitFor('the refusal in the log', () => logs.includes('emergency stop'));
      expect(logs).toMatch(
        /a trigger fired but the run was refused .*runbook=calls.*path=memory\/calls\/first\.md/,
      );
      await writeNote(dirs.workspace, 'memory/calls/second.md', '# Second\n');
      await waitFor('the second run', () => logs.includes('run=run-2'));
      expect(started).toEqual(['memory/calls/first.md', 'memory/calls/second.md']);
    } finally {
      await triggers.stop();
    }
  });
});
