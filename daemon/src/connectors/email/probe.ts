/**
 * email@1's probe: logs in to IMAP and lists the folders (the Sent folder must be among them),
 * makes a sample call (the newest message of INBOX, searched and read as the `search` and `read`
 * actions do) checked against those actions' output schemas, then greets the SMTP server and
 * checks its login with EHLO and AUTH (nodemailer's verify). Reports the servers' own words (IMAP
 * ID or greeting, the SMTP 220 line) as the version.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { checkSample } from '../probeCheck';
import type { ActionContext, ProbeResult } from '../sdk';
import { readAction, searchAction } from './mailbox';
import {
  EmailError,
  redact,
  settings,
  smtpFailure,
  smtpTransport,
  withImap,
  type EmailSettings,
} from './account';

type Context = Omit<ActionContext, 'idempotencyKey'>;

export async function probeEmail(ctx: Context): Promise<ProbeResult> {
  const checkedAt = new Date().toISOString();
  let account: EmailSettings | undefined;
  try {
    account = settings(ctx);
    const imap = await probeImap(ctx, account);
    const sample = await sampleInbox(ctx);
    const smtpGreeting = await greeting(account);
    const transport = smtpTransport(ctx);
    try {
      await transport.verify();
    } catch (error) {
      throw smtpFailure(error, ctx);
    } finally {
      transport.close();
    }
    return {
      ok: true,
      detail:
        `IMAP ${account.imap.host}:${account.imap.port} as ${account.user}: ${imap.folders.length} folders ` +
        `(${imap.folders.slice(0, 10).join(', ')}), ${sample}; SMTP ${account.smtp.host}:${account.smtp.port}: ${smtpGreeting}, login ok`,
      version: `IMAP: ${imap.server}; SMTP: ${smtpGreeting.replace(/^220[ -]/, '')}`,
      checkedAt,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // The password is cut out of anything a server or library said, whatever path the error took.
    let secret = '';
    try {
      secret = ctx.credential('password');
    } catch {
      // An unset credential is itself the failure being reported.
    }
    return { ok: false, detail: redact(message, secret), checkedAt };
  }
}

async function probeImap(ctx: Context, account: EmailSettings) {
  return withImap(ctx, async (imap) => {
    const folders = (await imap.list()).map((folder) => folder.path);
    if (!folders.includes(account.sentFolder)) {
      throw new EmailError(
        `IMAP has no folder "${account.sentFolder}" (has ${folders.join(', ')}): set sentFolder in keel.yaml.`,
      );
    }
    const info = imap.serverInfo;
    const server = info?.name
      ? `${info.name}${info.version ? ` ${info.version}` : ''}`
      : (imap.greeting ?? 'no greeting').replace(/^\* OK (\[[^\]]*\] )?/, '').trim();
    return { folders, server };
  });
}

/**
 * The sample call: INBOX's newest message, listed and read through the actions themselves, each
 * answer checked against the action's declared output (a field the server or parser no longer
 * gives fails here by its path). An empty INBOX checks the listing only.
 */
async function sampleInbox(ctx: Context): Promise<string> {
  const listed = checkSample(
    'email.search (INBOX, newest message)',
    searchAction.output,
    await searchAction.perform(searchAction.input.parse({ folder: 'INBOX', limit: 1 }), {
      ...ctx,
      idempotencyKey: 'probe',
    }),
  );
  const newest = listed.messages[0];
  if (!newest) return 'INBOX empty';
  checkSample(
    `email.read (INBOX, UID ${newest.uid})`,
    readAction.output,
    await readAction.perform(readAction.input.parse({ folder: 'INBOX', uid: newest.uid }), {
      ...ctx,
      idempotencyKey: 'probe',
    }),
  );
  return `newest INBOX message read and checked`;
}

/** The SMTP server's 220 greeting line (the connection is closed with QUIT). */
function greeting(account: EmailSettings): Promise<string> {
  const where = `SMTP ${account.smtp.host}:${account.smtp.port}`;
  return new Promise((resolve, reject) => {
    const options = { host: account.smtp.host, port: account.smtp.port, servername: account.smtp.host };
    const socket: Socket = account.smtp.secure ? tlsConnect(options) : tcpConnect(options);
    let text = '';
    socket.setTimeout(15_000, () => socket.destroy(new Error('no greeting within 15 s')));
    socket.on('data', (data: Buffer) => {
      text += data.toString('latin1');
      const line = /^(\d{3})[ -].*\r?\n/.exec(text);
      if (!line) return;
      socket.end('QUIT\r\n');
      const first = line[0].trim().slice(0, 200);
      if (line[1] === '220') resolve(first);
      else reject(new EmailError(`${where} greeted with "${first}" instead of 220`));
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        new EmailError(
          `${where} is not reachable (${error.code ?? error.message}): check smtp.host and smtp.port.`,
        ),
      ),
    );
  });
}
