/**
 * email@1 sends only what the workspace holds: an attachment path that is, or passes through, a
 * symlink (to ~/.ssh, to /etc) is refused before any connection is made, as are paths leaving the
 * workspace, and no header can be smuggled in through a subject, an address or a file name.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendAction } from '../../daemon/src/connectors/email/send';
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
  await mkdir(join(dirs.workspace, 'docs'));
  await symlink(join(outside, 'id_rsa'), join(dirs.workspace, 'docs', 'quote.pdf'));
  await symlink(outside, join(dirs.workspace, 'linked'));
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
    const sending = sendAction.perform(mail([{ path: 'docs/quote.pdf' }]), context());
    await expect(sending).rejects.toThrow(WorkspacePathError);
    await expect(sending).rejects.toThrow(/symbolic link/);
  });

  it('refuses a file reached through a symlinked folder', async () => {
    await expect(sendAction.perform(mail([{ path: 'linked/id_rsa' }]), context())).rejects.toThrow(
      /linked is a symbolic link/,
    );
  });

  it('refuses paths outside the workspace and into .git', async () => {
    for (const path of ['../secret/id_rsa', '/etc/passwd', '.git/config']) {
      await expect(sendAction.perform(mail([{ path }]), context())).rejects.toThrow(WorkspacePathError);
    }
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
