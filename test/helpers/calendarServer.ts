/**
 * A real CalDAV server for tests: Radicale from Debian's `radicale`, started as the test's own
 * process on loopback in a temp folder, with htpasswd authentication (plain text passwords in
 * the temp folder; Radicale also takes bcrypt, which needs python3-bcrypt and proves nothing more
 * here). Each user gets one calendar, `<user>/calendar/`, made with MKCALENDAR. Nothing under
 * /etc changes and the system service is never started.
 *
 *   const caldav = await startCalendarServer();        // alice, bob
 *   caldav.url                                          // http://127.0.0.1:PORT/
 *   await caldav.events('alice')                        // the .ics bodies in alice's calendar
 *   await caldav.stop();                                // stops it, removes the temp folder
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './processes';

const HOST = '127.0.0.1';
const RADICALE = '/usr/bin/radicale';

export interface CalendarUser {
  name: string;
  password: string;
  /** The user's calendar collection, absolute: `http://127.0.0.1:PORT/alice/calendar/`. */
  calendarUrl: string;
}

export interface CalendarServer {
  /** The server root, `http://127.0.0.1:PORT/` (discovery starts here). */
  url: string;
  port: number;
  users: Record<string, CalendarUser>;
  root: string;
  /** The iCalendar text of every object in the user's calendar, read from Radicale's storage folder. */
  events(user: string): Promise<string[]>;
  /** Puts an event into the user's calendar over HTTP, as another client would. */
  put(user: string, uid: string, ics: string): Promise<void>;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * keel.yaml's entry (under `connectors:`) for a test user's calendar: `calendar` unless named, the
 * password from KEEL_CALENDAR_PASSWORD unless `password` says where, plus `extra` lines.
 */
export function calendarAccount(
  server: Pick<CalendarServer, 'url' | 'users'>,
  user: string,
  options: { name?: string; password?: string; extra?: string[] } = {},
): string {
  return [
    `  ${options.name ?? 'calendar'}:`,
    '    use: calendar@1',
    `    url: ${server.url}`,
    `    user: ${user}`,
    `    credentials: { password: ${options.password ?? '{ env: KEEL_CALENDAR_PASSWORD }'} }`,
    ...(options.extra ?? []).map((line) => `    ${line}`),
    '',
  ].join('\n');
}

export async function startCalendarServer(options: { users?: string[] } = {}): Promise<CalendarServer> {
  await readFile(RADICALE).catch(() => {
    throw new Error(
      `${RADICALE} is missing: install radicale (bash test/e2e/install-code-server.sh installs every package the tests need)`,
    );
  });
  const root = await realpath(await mkdtemp(join(tmpdir(), 'keel-caldav-')));
  const port = await freePort();
  const url = `http://${HOST}:${port}/`;
  const names = options.users ?? ['alice', 'bob'];
  const users: Record<string, CalendarUser> = Object.fromEntries(
    names.map((name) => [
      name,
      { name, password: `${name}-cal-secret`, calendarUrl: `${url}${name}/calendar/` },
    ]),
  );
  await writeFile(
    join(root, 'users'),
    Object.values(users)
      .map((user) => `${user.name}:${user.password}\n`)
      .join(''),
  );
  await writeFile(
    join(root, 'config'),
    `[server]
hosts = ${HOST}:${port}
[auth]
type = htpasswd
htpasswd_filename = ${join(root, 'users')}
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = ${join(root, 'collections')}
[web]
type = none
[logging]
level = warning
`,
  );
  let log = '';
  // Debian's script runs /usr/bin/python3, whatever python3 the PATH finds first.
  const child: ChildProcess = spawn(RADICALE, ['--config', join(root, 'config')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: root },
  });
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const server: CalendarServer = {
    url,
    port,
    users,
    root,
    events: (user) => readEvents(root, user),
    put: (user, uid, ics) => put(users[user]!, uid, ics),
    logs: () => Promise.resolve(log),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      `Radicale to listen on ${url}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`Radicale exited (${child.exitCode}):\n${log}`);
        return fetch(url).then(
          () => true,
          () => false,
        );
      },
      30_000,
    );
    for (const user of Object.values(users)) await makeCalendar(user);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

function basic(user: CalendarUser): string {
  return `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}`;
}

async function makeCalendar(user: CalendarUser): Promise<void> {
  const response = await fetch(user.calendarUrl, {
    method: 'MKCALENDAR',
    headers: { authorization: basic(user), 'content-type': 'application/xml' },
    body: `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>${user.name}'s calendar</D:displayname></D:prop></D:set></C:mkcalendar>`,
  });
  if (response.status !== 201) {
    throw new Error(`MKCALENDAR ${user.calendarUrl} answered ${response.status}: ${await response.text()}`);
  }
}

async function put(user: CalendarUser, uid: string, ics: string): Promise<void> {
  const response = await fetch(`${user.calendarUrl}${uid}.ics`, {
    method: 'PUT',
    headers: { authorization: basic(user), 'content-type': 'text/calendar; charset=utf-8' },
    body: ics,
  });
  if (response.status >= 300) throw new Error(`PUT answered ${response.status}: ${await response.text()}`);
}

async function readEvents(root: string, user: string): Promise<string[]> {
  const folder = join(root, 'collections', 'collection-root', user, 'calendar');
  const names = (await readdir(folder).catch(() => [] as string[])).filter((name) => name.endsWith('.ics'));
  return Promise.all(names.sort().map((name) => readFile(join(folder, name), 'utf8')));
}

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
