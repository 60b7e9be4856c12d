/**
 * email@1 sends only what the workspace holds, from outbox/ and memory/: an attachment path
 * elsewhere (.env, .keel/, .git/, any hidden file or folder), or that is or passes through a
 * symlink (to ~/.ssh, to /etc), is refused before any connection is made, as are paths leaving the
 * workspace; no header can be smuggled in through a subject, an address or a file name; and a
 * trusted-domains rule cannot be passed by putting an outsider in Cc or attaching a file.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceConfig } from '@keel/schemas';
import { decideAction } from '../../daemon/src/connectors/actionPolicy';
import { EmailInputError } from '../../daemon/src/connectors/email/account';
import { ActionInputError } from '../../daemon/src/connectors/sdk';
import { sendAction } from '../../daemon/src/connectors/email/send';
import type { SendInput } from '../../daemon/src/connectors/email/sendInput';
import type { ActionContext } from '../../daemon/src/connectors/sdk';
import { WorkspacePathError } from '../../daemon/src/files/workspacePaths';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let outside: string;

beforeAll(async () => {
  dirs = await makeTempDirs('keel-email-sec-');
  outside = join(dirs.workspace, '..', 'secret');
  await mkdir(outside);
  await writeFile(join(outside, 'id_rsa'), 'PRIVATE KEY');
  await mkdir(join(dirs.workspace, 'outbox'));
  await mkdir(join(dirs.workspace, 'memory'));
  await symlink(join(outside, 'id_rsa'), join(dirs.workspace, 'outbox', 'quote.pdf'));
  await symlink(outside, join(dirs.workspace, 'memory', 'linked'));
  await writeFile(join(dirs.workspace, '.env'), 'API_KEY=secret');
});
afterAll(() => dirs.cleanup());

/** A context whose servers do not exist: any attempt to connect would fail with another error. */
function context(): ActionContext {
  return {
    workspace: dirs.workspace,
    idempotencyKey: 'run/step',
    credential: () => 'pw',
    config: {
      imap: { host: '127.0.0.1', port: 9, secure: false },
      smtp: { host: '127.0.0.1', port: 9, secure: false },
      user: 'alice@keel.test',
      from: 'alice@keel.test',
    },
    signal: new AbortController().signal,
  };
}

const mail = (attachments: { path: string }[]) =>
  sendAction.input.parse({ to: 'bob@keel.test', subject: 'Quote', text: 'Attached.', attachments });

describe('email@1 attachments', () => {
  it('refuses a symlinked file', async () => {
    const sending = sendAction.perform(mail([{ path: 'outbox/quote.pdf' }]), context());
    await expect(sending).rejects.toThrow(WorkspacePathError);
    await expect(sending).rejects.toThrow(/symbolic link/);
  });

  it('refuses a file reached through a symlinked folder', async () => {
    await expect(sendAction.perform(mail([{ path: 'memory/linked/id_rsa' }]), context())).rejects.toThrow(
      /linked is a symbolic link/,
    );
  });

  it('refuses anything not under outbox/ or memory/, hidden files and folders, and paths leaving them', async () => {
    const refused = [
      '.env',
      '.keel/secrets.json',
      '.git/config',
      'memory/.private/notes.md',
      'outbox/.env',
      'outbox/../.env',
      'outbox//x',
      'outbox',
      'docs/quote.pdf',
      '../secret/id_rsa',
      '/etc/passwd',
      'outbox\\..\\.env',
    ];
    for (const path of refused) {
      const parsed = sendAction.input.safeParse({
        to: 'bob@keel.test',
        subject: 'x',
        text: 'x',
        attachments: [{ path }],
      });
      expect(parsed.success, path).toBe(false);
      expect(JSON.stringify(parsed.error?.issues), path).toMatch(/outbox\/ or memory\//);
      // Past the schema (an input built in code), the send still refuses it before connecting.
      const raw = { ...mail([]), attachments: [{ path }] } as SendInput;
      // Refused for its input: the step is never retried with it (ActionInputError).
      await expect(sendAction.perform(raw, context()), path).rejects.toThrow(EmailInputError);
      await expect(sendAction.perform(raw, context()), path).rejects.toBeInstanceOf(ActionInputError);
      await expect(sendAction.perform(raw, context()), path).rejects.toThrow(
        /not under outbox\/ or memory\//,
      );
    }
    expect(
      mail([{ path: 'outbox/quote.pdf' }, { path: 'memory/customers/acme.md' }]).attachments,
    ).toHaveLength(2);
  });
});

describe('email@1 approval rules', () => {
  const approvals: Pick<WorkspaceConfig['approvals'], 'actions' | 'lists'> = {
    lists: { trustedDomains: ['keel.test'] },
    actions: [
      { action: 'mail.send', when: { subject: { equals: 'never' } }, decide: 'deny' },
      { action: 'mail.send', when: { to: { in: 'trustedDomains' } }, decide: 'allow' },
    ],
  };
  const decide = (input: Record<string, unknown>) =>
    decideAction('mail', 'send', sendAction.risk, sendAction.input.parse(input), approvals, false, (i) =>
      sendAction.policy!(i as SendInput),
    );
  const base = { to: 'bob@keel.test', subject: 'Quote', text: 'x' };

  it('a rule on `to` reads every recipient: an outsider in Cc asks', () => {
    expect(decide(base).decide).toBe('allow');
    expect(decide({ ...base, cc: 'carol@keel.test' }).decide).toBe('allow');
    expect(decide({ ...base, cc: 'Mallory <a@evil.example>' }).decide).toBe('ask');
    expect(decide({ ...base, cc: ['carol@keel.test', 'a@evil.example'] }).decide).toBe('ask');
  });

  it('an email with attachments asks even when a rule allows it, and says why', () => {
    const decision = decide({ ...base, attachments: [{ path: 'outbox/quote.pdf' }] });
    expect(decision.decide).toBe('ask');
    expect(decision.rule).toMatch(/attachments \(outbox\/quote.pdf\)/);
    // A deny stays a deny.
    expect(decide({ ...base, subject: 'never', attachments: [{ path: 'outbox/quote.pdf' }] }).decide).toBe(
      'deny',
    );
  });
});

describe('email@1 headers', () => {
  it('refuses line breaks that would add headers', () => {
    const base = { to: 'bob@keel.test', subject: 'Hi', text: 'x' };
    for (const bad of [
      { ...base, subject: 'Hi\r\nBcc: everyone@example.org' },
      { ...base, to: 'bob@keel.test\r\nBcc: everyone@example.org' },
      { ...base, inReplyTo: '<a@b>\r\nBcc: x@y' },
      { ...base, attachments: [{ path: 'a.txt', filename: 'a.txt\r\nBcc: x@y' }] },
    ]) {
      expect(sendAction.input.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(sendAction.input.safeParse(base).success).toBe(true);
  });
});
