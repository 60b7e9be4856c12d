/**
 * `email.received` triggers through a real daemon process and the real Dovecot and Postfix on
 * loopback: matching mail starts one run each with the event's fields as inputs, other mail none;
 * after a kill -9 and a cursor rolled back to before those mails (a crash between starting the
 * runs and saving the cursor), the restarted daemon starts a run for the one new mail only.
 */
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { waitForMessage } from '../helpers/mailboxes';
import { mailAccount, startMailServers, type MailServers } from '../helpers/mailServers';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let mail: MailServers;
let dirs: TempDirs;
let daemon: RunningDaemon | null = null;

beforeAll(async () => {
  mail = await startMailServers();
});
afterAll(async () => {
  await mail?.stop();
});

const RUNBOOK = `apiVersion: keel/v1
name: inbound
role: Front desk
description: Files every invoice a customer mails.
inputs:
  subject: { type: string }
  from: { type: string }
  uid: { type: string }
triggers:
  - type: event
    event: email.received
    connector: mail
    filter:
      from: { in: customers }
      subject: { contains: invoice }
    inputs:
      subject: "{{ trigger.event.subject }}"
      from: "{{ trigger.event.raw.from }}"
      uid: "{{ trigger.event.raw.uid }}"
steps:
  - id: file
    type: connector
    use: fs.outbox@1
    with: { path: "invoices/{{ inputs.uid }}.txt", content: "{{ inputs.subject }}" }
`;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-event-triggers-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_MAIL_PASSWORD = mail.users.alice!.password;
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
${mailAccount(mail, 'alice', { display: 'Alice', extra: ['pollSeconds: 0.5'] })}approvals:
  rules:
    - { path: "outbox/**", allow: [create], events: true }
  lists:
    customers: [customer.test]
`,
  );
  await writeFile(join(dirs.workspace, 'runbooks', 'inbound.yaml'), RUNBOOK);
});
afterEach(async () => {
  daemon?.process.kill('SIGKILL');
  if (daemon) await daemon.exited;
  daemon = null;
  delete process.env.KEEL_MAIL_PASSWORD;
  await dirs.cleanup();
});

const cursorFile = (): string => join(dirs.workspace, '.keel', 'event-cursors.json');

/** The mail connector's cursor as the daemon last saved it: the last UID fired and when it was saved. */
async function cursor(): Promise<{ uid: number; savedAt: string } | null> {
  const text = await readFile(cursorFile(), 'utf8').catch(() => null);
  if (!text) return null;
  const record = (JSON.parse(text) as { cursors: Record<string, { cursor: string; savedAt: string }> })
    .cursors.mail;
  return record ? { uid: Number(record.cursor.split(':')[2]), savedAt: record.savedAt } : null;
}

/** The runs the trigger started, from their journals on disk: id and inputs. */
async function eventRuns(): Promise<{ id: string; inputs: Record<string, string> }[]> {
  const dir = join(dirs.workspace, '.keel', 'runs');
  const names = (await readdir(dir).catch(() => [])).filter((n) => /^inbound-event-.*\.jsonl$/.test(n));
  return Promise.all(
    names.map(async (name) => {
      const first = JSON.parse((await readFile(join(dir, name), 'utf8')).split('\n')[0]!) as {
        id: string;
        inputs: Record<string, string>;
      };
      return { id: first.id, inputs: first.inputs };
    }),
  );
}

/**
 * Sends the message and waits until it is in Alice's inbox: Postfix delivers its queue in any
 * order, so without the wait a message sent later can take the earlier UID.
 */
async function deliver(from: string, subject: string): Promise<void> {
  await mail.deliver({
    from,
    to: [mail.users.alice!.address],
    raw: `From: ${from}\r\nTo: ${mail.users.alice!.address}\r\nSubject: ${subject}\r\n\r\nPlease see attached.\r\n`,
  });
  await waitForMessage(mail, 'alice', subject);
}

/** Resolves once the daemon has saved its cursor at least twice more (two whole polls passed). */
async function twoMorePolls(): Promise<void> {
  const first = (await cursor())!.savedAt;
  await waitFor('a poll', async () => ((await cursor())?.savedAt ?? '') > first && (await cursor()));
  const second = (await cursor())!.savedAt;
  await waitFor('another poll', async () => ((await cursor())?.savedAt ?? '') > second && (await cursor()));
}

it(
  'matching mail starts one run each with its fields; after kill -9 and a rolled-back cursor only new mail starts a run',
  { timeout: 120_000 },
  async () => {
    expect((await runKeel(['trust', '--yes'], { cwd: dirs.workspace, runtime: dirs.runtime })).code).toBe(0);
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    // The first poll starts from now: what was in the inbox before is not news.
    await waitFor('the first poll', cursor, 20_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${daemon?.output() ?? ''}`);
    });
    const before = join(dirs.runtime, 'cursor-before.json');
    await copyFile(cursorFile(), before);
    const start = (await cursor())!.uid;

    await deliver('dana@customer.test', 'Invoice 1001');
    await deliver('spam@elsewhere.test', 'Invoice from a stranger');
    await deliver('Erin <erin@billing.customer.test>', 'Re: invoice 1002');
    await waitFor('the cursor past all three', async () => ((await cursor())?.uid ?? 0) >= start + 3, 20_000);
    await twoMorePolls();
    const first = await eventRuns();
    expect(first.map((r) => r.inputs.from).sort()).toEqual([
      'Erin <erin@billing.customer.test>',
      'dana@customer.test',
    ]);
    const dana = first.find((r) => r.inputs.from === 'dana@customer.test')!;
    expect(dana.inputs.uid).toBe(String(start + 1));
    // The subject arrives fenced as untrusted data, its text intact inside.
    expect(dana.inputs.subject).toMatch(
      /^<untrusted-data source="email.received.subject"[^>]*>\nInvoice 1001\n<\/untrusted-data>$/,
    );
    await waitFor('the runs to file the invoices (events: true lets them)', async () => {
      const files = await readdir(join(dirs.workspace, 'outbox', 'invoices')).catch(() => []);
      return files.length === 2;
    });

    // kill -9, and the cursor as if the daemon had died before saving it after those mails.
    daemon.process.kill('SIGKILL');
    await daemon.exited;
    daemon = null;
    await copyFile(before, cursorFile());
    await deliver('dana@customer.test', 'Invoice 1003');
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    await waitFor(
      'the cursor past the new mail',
      async () => ((await cursor())?.uid ?? 0) >= start + 4,
      20_000,
    );
    await twoMorePolls();
    const after = await eventRuns();
    expect(after).toHaveLength(3);
    expect(after.filter((r) => !first.some((f) => f.id === r.id)).map((r) => r.inputs.uid)).toEqual([
      String(start + 4),
    ]);
  },
);
