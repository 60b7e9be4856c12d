/**
 * Real mail servers for tests, started as the test's own processes in a temp folder on loopback:
 * Dovecot (IMAP, LMTP, and its auth service for Postfix's SASL) from Debian's `dovecot-imapd` and
 * `dovecot-lmtpd`, and Postfix from Debian's `postfix`, which accepts mail over SMTP and delivers
 * it to Dovecot over LMTP. Each instance has its own config files, queue, mail folders and free
 * ports; nothing under /etc changes and the system services are never started.
 *
 * Postfix, not `smtp-server`: it is the SMTP server operators actually run, with its real queue,
 * SASL and relay rules. Its master process must run as root (it drops privileges per service),
 * which CI does; a non-root run fails at start with a message saying so.
 *
 *   const mail = await startMailServers();            // alice@keel.test, bob@keel.test
 *   (what a mailbox holds: listMessages, waitForMessage in ./mailboxes.ts)
 *   await mail.deliver({ from: 'bob@keel.test', to: 'alice@keel.test', raw });
 *   await mail.stop();                                 // stops both, removes the temp folder
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './processes';

const run = promisify(execFile);

/** The mail domain the servers own; every test user is `<name>@keel.test`. */
export const MAIL_DOMAIN = 'keel.test';
const HOST = '127.0.0.1';

export interface MailUser {
  address: string;
  password: string;
}

export interface MailServers {
  /** Dovecot's IMAP (plain text on loopback; no TLS). */
  imap: { host: string; port: number };
  /** Postfix's SMTP: delivers `@keel.test` mail to Dovecot; relays nowhere; AUTH PLAIN via Dovecot. */
  smtp: { host: string; port: number };
  /** Dovecot's LMTP, which Postfix delivers to. */
  lmtp: { host: string; port: number };
  /** The users by name: `users.alice.address === 'alice@keel.test'`. */
  users: Record<string, MailUser>;
  /** The temp folder everything lives in (removed by `stop`). */
  root: string;
  /** Sends a raw message through Postfix's SMTP without authentication, as an outside sender would. */
  deliver(message: { from: string; to: string[]; raw: string }): Promise<void>;
  /** Postfix's and Dovecot's logs, for failure messages. */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * keel.yaml's entry (under `connectors:`) for a test user's account on these servers: `mail`
 * unless named, plain text on loopback, the password from KEEL_MAIL_PASSWORD unless `password`
 * says where, and any `extra` settings (`pollSeconds: 1`) as further lines.
 *
 *   `version: 1\nconnectors:\n${mailAccount(mail, 'alice', { display: 'Alice' })}`
 */
export function mailAccount(
  mail: Pick<MailServers, 'imap' | 'smtp' | 'users'>,
  user: string,
  options: { name?: string; display: string; password?: string; extra?: string[] },
): string {
  const address = mail.users[user]?.address;
  if (!address) throw new Error(`the mail servers have no user ${user}`);
  return [
    `  ${options.name ?? 'mail'}:`,
    '    use: email@1',
    `    imap: { host: ${mail.imap.host}, port: ${mail.imap.port}, secure: false }`,
    `    smtp: { host: ${mail.smtp.host}, port: ${mail.smtp.port}, secure: false }`,
    `    user: ${address}`,
    `    from: ${options.display} <${address}>`,
    `    credentials: { password: ${options.password ?? '{ env: KEEL_MAIL_PASSWORD }'} }`,
    ...(options.extra ?? []).map((line) => `    ${line}`),
    '',
  ].join('\n');
}

/**
 * Starts Dovecot and Postfix with the given users (default alice and bob, password `<name>-secret`)
 * and resolves once both answer on their ports.
 */
export async function startMailServers(options: { users?: string[] } = {}): Promise<MailServers> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `startMailServers needs root: Postfix's master process refuses to run as ${userInfo().username}. ` +
        'CI runs the tests as root (.ci/run); run these tests as root or in the CI container.',
    );
  }
  await requireBinaries();
  const root = await realpath(await mkdtemp(join(tmpdir(), 'keel-mail-')));
  // Dovecot's login and mail processes run as dovenull and dovecot: they must reach into the folder.
  await chmod(root, 0o755);
  const names = options.users ?? ['alice', 'bob'];
  const users = Object.fromEntries(
    names.map((name) => [name, { address: `${name}@${MAIL_DOMAIN}`, password: `${name}-secret` }]),
  );
  const ports = {
    imap: await freePort(),
    lmtp: await freePort(),
    auth: await freePort(),
    smtp: await freePort(),
  };
  const children: ChildProcess[] = [];
  const servers: MailServers = {
    imap: { host: HOST, port: ports.imap },
    smtp: { host: HOST, port: ports.smtp },
    lmtp: { host: HOST, port: ports.lmtp },
    users,
    root,
    deliver: (message) => smtpDeliver(ports.smtp, message),
    logs: () => collectLogs(root),
    stop: () => stopAll(root, children),
  };
  try {
    children.push(await startDovecot(root, Object.values(users), ports));
    children.push(await startPostfix(root, ports));
  } catch (error) {
    const logs = await collectLogs(root);
    await stopAll(root, children);
    throw new Error(`${(error as Error).message}\n${logs}`);
  }
  return servers;
}

async function requireBinaries(): Promise<void> {
  for (const [binary, pkg] of [
    ['/usr/sbin/dovecot', 'dovecot-imapd dovecot-lmtpd'],
    ['/usr/lib/dovecot/lmtp', 'dovecot-lmtpd'],
    ['/usr/sbin/postfix', 'postfix'],
  ] as const) {
    await readFile(binary).catch(() => {
      throw new Error(
        `${binary} is missing: install ${pkg} (bash test/e2e/install-code-server.sh installs every package the tests need)`,
      );
    });
  }
}

/** A port free on loopback now (the servers bind it a moment later). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function startDovecot(
  root: string,
  users: MailUser[],
  ports: { imap: number; lmtp: number; auth: number },
): Promise<ChildProcess> {
  const dir = join(root, 'dovecot');
  const mail = join(root, 'mail');
  await mkdir(join(dir, 'run'), { recursive: true });
  await mkdir(join(dir, 'state'), { recursive: true });
  await mkdir(mail, { mode: 0o700 });
  // Dovecot refuses uid 0 for mail: the mail folders belong to its own `dovecot` user.
  // Its auth worker, also `dovecot`, reads the passwd-file.
  const uid = await uidOf('dovecot');
  const gid = Number((await run('id', ['-g', 'dovecot'])).stdout.trim());
  await chown(mail, uid, gid);
  const passwd = join(dir, 'users');
  const lines = users.map((user) => `${user.address}:{PLAIN}${user.password}::::::\n`);
  await writeFile(passwd, lines.join(''), { mode: 0o600 });
  await chown(passwd, uid, gid);
  const config = join(dir, 'dovecot.conf');
  await writeFile(config, dovecotConfig(root, ports));
  const child = spawn('/usr/sbin/dovecot', ['-c', config, '-F'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = exitWatch(child, 'dovecot');
  await Promise.race([
    Promise.all([greeting(ports.imap, '* OK'), greeting(ports.lmtp, '220 ')]),
    exited.then(() => {
      throw new Error(`dovecot exited during start (config ${config})`);
    }),
  ]);
  return child;
}

function dovecotConfig(root: string, ports: { imap: number; lmtp: number; auth: number }): string {
  const dir = join(root, 'dovecot');
  return `# Written by test/helpers/mailServers.ts for one test run.
protocols = imap lmtp
listen = ${HOST}
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:${root}/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/users
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=${root}/mail/%u
}
service imap-login {
  inet_listener imap {
    address = ${HOST}
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = ${HOST}
    port = ${ports.lmtp}
  }
}
service auth {
  inet_listener postfix {
    address = ${HOST}
    port = ${ports.auth}
  }
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}
`;
}

async function startPostfix(
  root: string,
  ports: { lmtp: number; auth: number; smtp: number },
): Promise<ChildProcess> {
  const dir = join(root, 'postfix');
  const conf = join(dir, 'conf');
  await mkdir(conf, { recursive: true });
  await mkdir(join(dir, 'queue'));
  await mkdir(join(dir, 'data'));
  await chown(join(dir, 'data'), await uidOf('postfix'), 0);
  await writeFile(join(conf, 'main.cf'), postfixMain(dir, ports));
  await writeFile(join(conf, 'master.cf'), postfixMaster(ports.smtp));
  // `check` creates the queue's folders with Postfix's owners and modes.
  await run('/usr/sbin/postfix', ['-c', conf, 'check']).catch((error: Error) => {
    throw new Error(`postfix -c ${conf} check failed: ${error.message}`);
  });
  // Its own process group: `postfix stop` signals the master's group, never the test runner.
  const child = spawn('/usr/sbin/postfix', ['-c', conf, 'start-fg'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = exitWatch(child, 'postfix');
  await Promise.race([
    greeting(ports.smtp, '220 '),
    exited.then(() => {
      throw new Error(`postfix exited during start (config ${conf})`);
    }),
  ]);
  return child;
}

function postfixMain(dir: string, ports: { lmtp: number; auth: number }): string {
  return `# Written by test/helpers/mailServers.ts for one test run.
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = smtp.${MAIL_DOMAIN}
mydomain = ${MAIL_DOMAIN}
myorigin = ${MAIL_DOMAIN}
mydestination =
inet_interfaces = ${HOST}
inet_protocols = ipv4
mynetworks =
alias_maps =
alias_database =
local_recipient_maps =
relay_domains =
virtual_mailbox_domains = ${MAIL_DOMAIN}
virtual_transport = lmtp:inet:${HOST}:${ports.lmtp}
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:${HOST}:${ports.auth}
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
maillog_file = ${dir}/postfix.log
maillog_file_prefixes = ${dir}
biff = no
smtputf8_enable = no
append_dot_mydomain = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
`;
}

function postfixMaster(smtpPort: number): string {
  const services = [
    `${HOST}:${smtpPort} inet n - n - - smtpd`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'smtp unix - - n - - smtp',
    'relay unix - - n - - smtp',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'lmtp unix - - n - - lmtp',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
  ];
  return `# Written by test/helpers/mailServers.ts: no chroot, SMTP on loopback only.\n${services.join('\n')}\n`;
}

async function uidOf(user: string): Promise<number> {
  return Number((await run('id', ['-u', user])).stdout.trim());
}

function exitWatch(child: ChildProcess, name: string): Promise<number | null> {
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      // Stopped by stopAll (a signal, or the shell's 128 + SIGTERM): its "Terminated" is noise.
      if (signal === null && code !== 143 && output.trim() !== '')
        process.stderr.write(`[${name}] ${output}`);
      resolve(code);
    }),
  );
}

/** Resolves once a connection to `port` is greeted with a line starting with `prefix`. */
async function greeting(port: number, prefix: string): Promise<void> {
  await waitFor(
    `a "${prefix.trim()}" greeting on ${HOST}:${port}`,
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, HOST);
        let text = '';
        socket.setTimeout(2000, () => socket.destroy());
        socket.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('\n')) {
            socket.destroy();
            resolve(text.startsWith(prefix));
          }
        });
        socket.on('error', () => resolve(false));
        socket.on('close', () => resolve(false));
      }),
    20_000,
  );
}

/** One SMTP transaction, no AUTH: Postfix accepts it only for @keel.test recipients. */
async function smtpDeliver(
  port: number,
  message: { from: string; to: string[]; raw: string },
): Promise<void> {
  const socket = connect(port, HOST);
  let buffer = '';
  const replies: string[] = [];
  let wake: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    buffer += d.toString();
    // A reply ends with a line "NNN text" (a dash after the code means more lines follow).
    for (let end = buffer.search(/^\d{3} .*\r\n/m); end !== -1; end = buffer.search(/^\d{3} .*\r\n/m)) {
      const lineEnd = buffer.indexOf('\r\n', end) + 2;
      replies.push(buffer.slice(0, lineEnd));
      buffer = buffer.slice(lineEnd);
    }
    wake?.();
  });
  const reply = async (expect: string): Promise<void> => {
    while (replies.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    const text = replies.shift()!;
    if (!text.startsWith(expect)) throw new Error(`SMTP said "${text.trim()}" where ${expect} was expected`);
  };
  try {
    await reply('220');
    socket.write('EHLO sender.example\r\n');
    await reply('250');
    socket.write(`MAIL FROM:<${message.from}>\r\n`);
    await reply('250');
    for (const to of message.to) {
      socket.write(`RCPT TO:<${to}>\r\n`);
      await reply('250');
    }
    socket.write('DATA\r\n');
    await reply('354');
    const body = message.raw.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    socket.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    await reply('250');
    socket.write('QUIT\r\n');
  } finally {
    socket.end();
  }
}

async function collectLogs(root: string): Promise<string> {
  const read = (path: string) => readFile(path, 'utf8').catch(() => '(no log)');
  return [
    `--- dovecot.log\n${await read(join(root, 'dovecot', 'dovecot.log'))}`,
    `--- postfix.log\n${await read(join(root, 'postfix', 'postfix.log'))}`,
  ].join('\n');
}

async function stopAll(root: string, children: ChildProcess[]): Promise<void> {
  const ended = children.map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.on('exit', () => resolve());
      }),
  );
  const conf = join(root, 'postfix', 'conf');
  await run('/usr/sbin/postfix', ['-c', conf, 'stop']).catch(() => undefined);
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.race([Promise.all(ended), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  await rm(root, { recursive: true, force: true });
}
