/**
 * `keel connectors` against a real daemon (`keel daemon`) whose keel.yaml names an email account on
 * a real Dovecot and Postfix and one on a port nothing listens on: `list` shows both, `check` says
 * ok for one and a clear error for the other and exits 1. Before the operator trusts the
 * workspace, `check` contacts nothing: a listening server named in keel.yaml sees no connection.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConnectorInfo } from '@keel/schemas';
import { startMailServers, type MailServers } from '../helpers/mailServers';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const PASSWORD_ENV = 'KEEL_TEST_CONNECTORS_PASSWORD';
let mail: MailServers;
let dirs: TempDirs;
let daemon: RunningDaemon | null = null;

beforeAll(async () => {
  mail = await startMailServers({ users: ['alice'] });
  process.env[PASSWORD_ENV] = mail.users.alice!.password;
});
afterAll(async () => {
  delete process.env[PASSWORD_ENV];
  await mail?.stop();
});
beforeEach(async () => {
  dirs = await makeTempDirs('keel-connectors-');
  await mkdir(join(dirs.workspace, 'memory'));
  await mkdir(join(dirs.workspace, 'runbooks'));
});
afterEach(async () => {
  if (daemon) {
    daemon.process.kill('SIGTERM');
    await daemon.exited;
    daemon = null;
  }
  await dirs.cleanup();
});

/** An email@1 entry for alice at these IMAP and SMTP ports. */
function account(name: string, imap: number, smtp: number): string {
  const alice = mail.users.alice!.address;
  return `  ${name}:
    use: email@1
    imap: { host: 127.0.0.1, port: ${imap}, secure: false }
    smtp: { host: 127.0.0.1, port: ${smtp}, secure: false }
    user: ${alice}
    from: Alice <${alice}>
    credentials: { password: { env: ${PASSWORD_ENV} } }
    probeMinutes: 0 # only the checks this test asks for, so "list" shows what was never probed
`;
}

async function workspaceWith(...accounts: string[]): Promise<void> {
  await writeFile(join(dirs.workspace, 'keel.yaml'), `version: 1\nconnectors:\n${accounts.join('')}`);
}

/** A port nothing listens on: taken from the system, then given back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function keel(...args: string[]) {
  return runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime });
}

const byName = (list: ConnectorInfo[], name: string): ConnectorInfo => list.find((c) => c.name === name)!;

describe('keel connectors', () => {
  it('lists both accounts, checks the real one ok and the dead one with a clear error, exit 1', async () => {
    const dead = await closedPort();
    await workspaceWith(account('mail', mail.imap.port, mail.smtp.port), account('dead', dead, dead));
    expect((await keel('trust', '--yes')).code).toBe(0);
    daemon = await startDaemon(dirs.workspace, dirs.runtime);

    const listed = await keel('connectors');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^NAME\s+USE\s+STATE\s+BREAKER\s+LAST PROBE\s+LAST EVENT$/m);
    expect(listed.stdout).toMatch(/^mail\s+email@1\s+unchecked\s+closed\s+never/m);
    expect(listed.stdout).toMatch(/^dead\s+email@1\s+unchecked\s+closed\s+never/m);

    const checked = await keel('connectors', 'check');
    expect(checked.code).toBe(1);
    expect(checked.stdout).toMatch(/^mail\s+email@1\s+ready\s+closed\s+ok just now/m);
    expect(checked.stdout).toMatch(/^dead\s+email@1\s+error\s+open\s+failed just now/m);
    expect(checked.stdout).toContain(`mail: IMAP 127.0.0.1:${mail.imap.port} as alice@keel.test`);
    expect(checked.stdout).toMatch(/^mail: server IMAP: \S/m);
    expect(checked.stdout).toContain(
      'dead: breaker open, its actions are refused until "keel connectors check dead" passes',
    );
    expect(checked.stdout).toMatch(new RegExp(`dead: .*127\\.0\\.0\\.1:${dead}.*ECONNREFUSED`));

    // The daemon keeps the probes: a later list (and the sidebar) shows them.
    const json = await keel('connectors', 'list', '--json');
    const list = JSON.parse(json.stdout) as ConnectorInfo[];
    expect(byName(list, 'mail')).toMatchObject({
      use: 'email@1',
      state: 'ready',
      lastProbe: { ok: true },
      lastError: null,
      credentials: [{ name: 'password', from: 'env' }],
      events: ['email.received'],
    });
    expect(byName(list, 'mail').actions).toContainEqual({ name: 'send', risk: 'external' });
    expect(byName(list, 'dead')).toMatchObject({ state: 'error', lastProbe: { ok: false } });

    // One by name: only it is probed, and it passing exits 0.
    const one = await keel('connectors', 'check', 'mail', '--json');
    expect(one.code).toBe(0);
    expect((JSON.parse(one.stdout) as ConnectorInfo[]).map((c) => c.name)).toEqual(['mail']);
    const unknown = await keel('connectors', 'check', 'nope');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('keel.yaml names no connector "nope" (it names: mail, dead)');

    const password = mail.users.alice!.password;
    for (const output of [listed, checked, json, one, unknown]) {
      expect(output.stdout + output.stderr).not.toContain(password);
    }
    expect(daemon.output()).not.toContain(password);
  });

  it('an untrusted workspace is checked without contacting anything, and says what to do', async () => {
    const connections: string[] = [];
    const watcher: Server = createServer((socket) => {
      connections.push(String(socket.remotePort));
      socket.destroy();
    });
    await new Promise<void>((resolve) => watcher.listen(0, '127.0.0.1', resolve));
    const port = (watcher.address() as { port: number }).port;
    try {
      await workspaceWith(account('watched', port, port), account('mail', mail.imap.port, mail.smtp.port));
      const checked = await keel('connectors', 'check', '--json');
      expect(checked.code).toBe(1);
      const list = JSON.parse(checked.stdout) as ConnectorInfo[];
      for (const name of ['watched', 'mail']) {
        expect(byName(list, name)).toMatchObject({ state: 'needs_trust', lastProbe: null });
        expect(byName(list, name).lastError).toContain('keel trust');
      }
      const human = await keel('connectors', 'check');
      expect(human.stdout).toMatch(/^watched\s+email@1\s+needs trust\s+closed\s+never/m);
      expect(connections).toEqual([]);

      // Trusted now, the same check reaches the server: the watch above could see a connection.
      expect((await keel('trust', '--yes')).code).toBe(0);
      await keel('connectors', 'check', 'watched');
      await waitFor('a connection to the watched server', () => connections.length > 0);
    } finally {
      await new Promise((resolve) => watcher.close(resolve));
    }
  });

  it('a missing credential is named, with the fix, and nothing is contacted', async () => {
    await writeFile(
      join(dirs.workspace, 'keel.yaml'),
      `version: 1\nconnectors:\n${account('mail', mail.imap.port, mail.smtp.port).replace(
        `{ env: ${PASSWORD_ENV} }`,
        '{ secret: true }',
      )}`,
    );
    expect((await keel('trust', '--yes')).code).toBe(0);
    const checked = await keel('connectors', 'check');
    expect(checked.code).toBe(1);
    expect(checked.stdout).toMatch(/^mail\s+email@1\s+needs credential password\s+closed\s+never/m);
    expect(checked.stdout).toContain('Keel: Set Connector Secret');
  });
});
