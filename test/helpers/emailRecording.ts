/**
 * Recorded IMAP exchanges for email@1's offline contract tests (issue 15, item 4): a TCP relay
 * between the connector and a real Dovecot keeps, per connection, the server's greeting and each
 * client line with everything the server answered to it; a replay server answers the same lines,
 * in order, on loopback. A recording made again from a newer server whose answers have another
 * shape fails the contract test by name.
 *
 *   npx tsx test/helpers/emailRecording.ts   # re-records test/unit/recordings/email-dovecot.json
 */
import { writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

/** One IMAP connection: what the server said first, then each client line and the answer to it. */
export interface ImapConversation {
  greeting: string;
  turns: { client: string; server: string }[];
}

export const EMAIL_RECORDING = join(__dirname, '..', 'unit', 'recordings', 'email-dovecot.json');
/** The account the recording logs in as; its password is a test server's, never a real one. */
export const RECORDED_USER = 'alice@keel.test';
export const RECORDED_PASSWORD = 'alice-secret';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Splits what a client sent into its lines (CRLF kept off). */
function lines(buffer: { text: string }): string[] {
  const out: string[] = [];
  let at = buffer.text.indexOf('\r\n');
  while (at >= 0) {
    out.push(buffer.text.slice(0, at));
    buffer.text = buffer.text.slice(at + 2);
    at = buffer.text.indexOf('\r\n');
  }
  return out;
}

/** A relay to the IMAP server at `port` that records each connection as a conversation. */
export async function recordingRelay(
  port: number,
): Promise<{ port: number; conversations: ImapConversation[]; close(): Promise<void> }> {
  const conversations: ImapConversation[] = [];
  const server = createServer((client: Socket) => {
    const conversation: ImapConversation = { greeting: '', turns: [] };
    conversations.push(conversation);
    const upstream = connect(port, '127.0.0.1');
    const pending = { text: '' };
    upstream.on('data', (data: Buffer) => {
      const text = data.toString('latin1');
      const turn = conversation.turns.at(-1);
      if (turn) turn.server += text;
      else conversation.greeting += text;
      client.write(data);
    });
    client.on('data', (data: Buffer) => {
      pending.text += data.toString('latin1');
      for (const line of lines(pending)) conversation.turns.push({ client: line, server: '' });
      upstream.write(data);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return {
    port: await listen(server),
    conversations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A loopback IMAP server answering from `conversations`, one per connection in order: the
 * greeting, then for each client line the recorded answer. A line the recording does not have
 * next is kept in `unexpected` and the connection is closed.
 */
export async function replayServer(
  conversations: ImapConversation[],
): Promise<{ port: number; unexpected: string[]; close(): Promise<void> }> {
  const unexpected: string[] = [];
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const conversation = conversations[next++];
    if (!conversation) {
      unexpected.push(`connection ${next} (the recording has ${conversations.length})`);
      socket.destroy();
      return;
    }
    socket.write(conversation.greeting, 'latin1');
    const pending = { text: '' };
    let turn = 0;
    socket.on('data', (data: Buffer) => {
      pending.text += data.toString('latin1');
      for (const line of lines(pending)) {
        const recorded = conversation.turns[turn++];
        if (!recorded || !sameLine(recorded.client, line)) {
          unexpected.push(`"${line}" (recorded: "${recorded?.client ?? 'nothing more'}")`);
          socket.destroy();
          return;
        }
        if (recorded.server) socket.write(recorded.server, 'latin1');
      }
    });
  });
  return {
    port: await listen(server),
    unexpected,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Whether a client line is the recorded one; an `ID` command matches any `ID` with the same tag,
 * since it names the IMAP library's version, which is not the server's contract.
 */
function sameLine(recorded: string, line: string): boolean {
  const id = /^(\S+) ID \(/;
  const a = id.exec(recorded);
  const b = id.exec(line);
  return a && b ? a[1] === b[1] : recorded === line;
}

/** The account settings email@1 reads, pointed at an IMAP port (SMTP is not part of the recording). */
export function recordedAccount(imapPort: number): Record<string, unknown> {
  return {
    from: RECORDED_USER,
    user: RECORDED_USER,
    imap: { host: '127.0.0.1', port: imapPort, secure: false },
    smtp: { host: '127.0.0.1', port: 1, secure: false },
  };
}

/** Re-records: Dovecot with one known message in INBOX, `search` and `read` through the relay. */
async function main(): Promise<void> {
  const { startMailServers } = await import('./mailServers');
  const { searchAction, readAction } = await import('../../daemon/src/connectors/email/mailbox');
  const mail = await startMailServers({ users: ['alice'] });
  try {
    await mail.deliver({
      from: 'dana@example.org',
      to: [RECORDED_USER],
      raw:
        'From: Dana <dana@example.org>\r\nTo: alice@keel.test\r\nSubject: Recorded invoice\r\n' +
        'Date: Tue, 04 Mar 2031 09:00:00 +0000\r\nMessage-ID: <recorded-1@example.org>\r\n\r\n' +
        'Hello Alice,\r\nthe invoice is attached in spirit.\r\n',
    });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const relay = await recordingRelay(mail.imap.port);
    const ctx = {
      workspace: mail.root,
      idempotencyKey: 'record',
      credential: () => RECORDED_PASSWORD,
      config: recordedAccount(relay.port),
      signal: new AbortController().signal,
    };
    const listed = await searchAction.perform(searchAction.input.parse({ folder: 'INBOX', limit: 1 }), ctx);
    const uid = listed.messages[0]!.uid;
    await readAction.perform(readAction.input.parse({ folder: 'INBOX', uid }), ctx);
    await relay.close();
    await writeFile(EMAIL_RECORDING, `${JSON.stringify(relay.conversations, null, 2)}\n`);
    process.stdout.write(`recorded ${relay.conversations.length} conversations to ${EMAIL_RECORDING}\n`);
  } finally {
    await mail.stop();
  }
}

if (require.main === module) void main();
