/**
 * Drift probes against a real Radicale: with a wrong password the scheduled probe (no manual
 * check) fails and opens the connector's breaker; a run's action then fails at once naming the
 * probe and how to retry; a restart keeps the open breaker; a passing `check` closes it and the
 * same action runs.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import {
  ConnectorsCheckRequest,
  ConnectorsListRequest,
  ControlStateRequest,
  RunGetRequest,
  RunStartRequest,
} from '@keel/schemas';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { calendarAccount, startCalendarServer, type CalendarServer } from '../helpers/calendarServer';
import { startTrustedDaemon, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const VARIABLE = 'KEEL_PROBE_TEST_PASSWORD';
let caldav: CalendarServer;
let dirs: TempDirs;
let running: InProcessDaemon | null = null;

beforeAll(async () => {
  caldav = await startCalendarServer({ users: ['alice'] });
}, 60_000);
afterAll(async () => {
  await caldav?.stop();
});
beforeEach(async () => {
  dirs = await makeTempDirs('keel-probes-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'runbooks', 'book.yaml'),
    `apiVersion: keel/v1
name: book
role: Tester
description: Books a meeting.
steps:
  - id: meet
    type: connector
    use: cal
    action: create
    with: { summary: probe-${Date.now()}, start: "2031-06-03T09:00:00Z", end: "2031-06-03T09:30:00Z" }
`,
  );
});
afterEach(async () => {
  await running?.daemon.stop('test');
  running = null;
  delete process.env[VARIABLE];
  await dirs.cleanup();
});

async function keelYaml(probeMinutes: number): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
${calendarAccount(caldav, 'alice', { name: 'cal', password: `{ env: ${VARIABLE} }`, extra: [`probeMinutes: ${probeMinutes}`] })}approvals:
  actions:
    - { action: cal.create, decide: allow }
`,
  );
}

async function runOnce(daemon: InProcessDaemon) {
  const { id } = await daemon.client.request(RunStartRequest, { runbook: 'book', inputs: {} });
  return waitFor(
    `run ${id} finished`,
    async () => {
      const { run } = await daemon.client.request(RunGetRequest, { id });
      return run.status === 'failed' || run.status === 'succeeded' ? run : null;
    },
    30_000,
  );
}

it('a scheduled probe that fails opens the breaker, a restart keeps it, a passing check closes it', async () => {
  process.env[VARIABLE] = 'not-the-password-0123';
  await keelYaml(0.05);
  running = await startTrustedDaemon(dirs.workspace);
  const failed = await waitFor(
    'the scheduled probe fails',
    async () => {
      const { connectors } = await running!.client.request(ConnectorsListRequest, {});
      const cal = connectors.find((c) => c.name === 'cal');
      return cal?.lastProbe && !cal.lastProbe.ok ? cal : null;
    },
    30_000,
  );
  expect(failed.breaker).toBe('open');
  expect(failed.state).toBe('error');
  const control = await running.client.request(ControlStateRequest, {});
  expect(control.breakers.find((b) => b.name === 'connector:cal')).toMatchObject({ state: 'open' });

  const refused = await runOnce(running);
  expect(refused.status).toBe('failed');
  expect(refused.error).toContain('drift probe failed at');
  expect(refused.error).toContain('keel connectors check cal');
  expect(await caldav.events('alice')).toEqual([]);

  // Restarted with scheduled probes off: the breaker a failed probe opened still holds.
  await running.daemon.stop('restart');
  await keelYaml(0);
  running = await startTrustedDaemon(dirs.workspace);
  const { connectors } = await running.client.request(ConnectorsListRequest, {});
  expect(connectors.find((c) => c.name === 'cal')?.breaker).toBe('open');
  expect((await runOnce(running)).error).toContain('drift probe failed');

  process.env[VARIABLE] = caldav.users.alice!.password;
  const checked = await running.client.request(ConnectorsCheckRequest, { name: 'cal' });
  expect(checked.connectors[0]).toMatchObject({ state: 'ready', breaker: 'closed' });
  expect(checked.connectors[0]!.lastProbe?.version).toMatch(/\S/);
  const after = await running.client.request(ControlStateRequest, {});
  expect(after.breakers.find((b) => b.name === 'connector:cal')).toMatchObject({ state: 'closed' });
  expect((await runOnce(running)).status).toBe('succeeded');
}, 90_000);
