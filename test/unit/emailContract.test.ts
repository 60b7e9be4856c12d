/**
 * email@1's contract with an IMAP server, offline: Dovecot's recorded answers
 * (test/unit/recordings/email-dovecot.json, re-recorded with `npx tsx
 * test/helpers/emailRecording.ts`) are replayed on loopback, and the connector's `search` and
 * `read` (the probe's sample call) must still turn them into the same outputs, valid by their
 * schemas. A recording whose answers change shape (another server version) fails here, by name,
 * naming the field that drifted, before any probe or run does.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { readAction, searchAction } from '../../daemon/src/connectors/email/mailbox';
import { checkSample, ProbeDriftError } from '../../daemon/src/connectors/probeCheck';
import {
  EMAIL_RECORDING,
  RECORDED_PASSWORD,
  recordedAccount,
  replayServer,
  type ImapConversation,
} from '../helpers/emailRecording';

let replay: Awaited<ReturnType<typeof replayServer>> | undefined;
afterEach(async () => {
  await replay?.close();
  replay = undefined;
});

const recorded = async (): Promise<ImapConversation[]> =>
  JSON.parse(await readFile(EMAIL_RECORDING, 'utf8')) as ImapConversation[];

async function contextFor(conversations: ImapConversation[]) {
  replay = await replayServer(conversations);
  return {
    workspace: '/nonexistent',
    idempotencyKey: 'contract',
    credential: () => RECORDED_PASSWORD,
    config: recordedAccount(replay.port),
    signal: new AbortController().signal,
  };
}

/** The recording with one server answer changed, as a newer server might answer. */
function changed(conversations: ImapConversation[], from: string, to: string): ImapConversation[] {
  return conversations.map((c) => ({
    ...c,
    turns: c.turns.map((t) => ({ ...t, server: t.server.split(from).join(to) })),
  }));
}

it('search and read turn the recorded Dovecot answers into their output schemas', async () => {
  const ctx = await contextFor(await recorded());
  const listed = checkSample(
    'email.search',
    searchAction.output,
    await searchAction.perform(searchAction.input.parse({ folder: 'INBOX', limit: 1 }), ctx),
  );
  expect(listed.messages).toEqual([
    {
      uid: 1,
      messageId: '<recorded-1@example.org>',
      from: 'Dana <dana@example.org>',
      to: ['alice@keel.test'],
      subject: 'Recorded invoice',
      date: '2031-03-04T09:00:00.000Z',
      flags: ['\\Recent'],
      size: 631,
    },
  ]);
  const read = checkSample(
    'email.read',
    readAction.output,
    await readAction.perform(readAction.input.parse({ folder: 'INBOX', uid: 1 }), ctx),
  );
  expect(read).toMatchObject({
    folder: 'INBOX',
    uid: 1,
    messageId: '<recorded-1@example.org>',
    from: 'Dana <dana@example.org>',
    subject: 'Recorded invoice',
    text: 'Hello Alice,\nthe invoice is attached in spirit.\n',
    truncated: false,
    untrusted: true,
  });
  expect(replay!.unexpected).toEqual([]);
});

it('a recording whose FETCH lost the UID fails naming the field "messages.0.uid"', async () => {
  const ctx = await contextFor(changed(await recorded(), '* 1 FETCH (UID 1 FLAGS', '* 1 FETCH (FLAGS'));
  const output = await searchAction.perform(searchAction.input.parse({ folder: 'INBOX', limit: 1 }), ctx);
  expect(() => checkSample('email.search', searchAction.output, output)).toThrow(ProbeDriftError);
  expect(() => checkSample('email.search', searchAction.output, output)).toThrow(/"messages\.0\.uid"/);
});

it('a recording whose envelope lost its sender reads as another message', async () => {
  const ctx = await contextFor(
    changed(
      await recorded(),
      '"Recorded invoice" (("Dana" NIL "dana" "example.org"))',
      '"Recorded invoice" NIL',
    ),
  );
  const output = await searchAction.perform(searchAction.input.parse({ folder: 'INBOX', limit: 1 }), ctx);
  expect(output.messages[0]?.from).not.toBe('Dana <dana@example.org>');
});
