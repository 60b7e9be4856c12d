/**
 * `fs.outbox@1`: writes a file under `outbox/`, the workspace's tray of things agents produced for
 * the outside world. Exactly once per idempotency key: the file is created with a hard link, which
 * fails if the name exists; a file already there with the same content is the same write, done
 * before a crash, and is adopted rather than written again. Whether a write may happen without
 * the operator is decided by the approvals policy (see steps/connector.ts).
 */
import { createHash } from 'node:crypto';
import { link, open, rm } from 'node:fs/promises';
import { expectOwnWrite } from '../../files/ownWrites';
import { StepFailedError } from '../steps/stepRuntime';
import { readInside, tempFile, workspaceRelative, writableTarget } from '../../files/workspacePaths';

export const FS_OUTBOX = 'fs.outbox@1';
export const OUTBOX_DIR = 'outbox';

export interface OutboxWrite {
  path: string;
  content: string;
}

export interface OutboxResult {
  /** Workspace-relative path of the file written. */
  path: string;
  bytes: number;
  sha256: string;
  /** False when the file was found already written (by this key, before a crash). */
  written: boolean;
  /** Who let it be written: a keel.yaml rule (`policy`) or the operator (`approved`, `edited`). */
  decision?: 'policy' | 'approved' | 'edited';
  /** For `policy`: the rule, as `<path glob> allow <kinds>`. */
  rule?: string | null;
}

export function outboxArguments(value: Record<string, unknown>): OutboxWrite {
  if (typeof value.path !== 'string' || value.path.trim() === '') {
    throw new StepFailedError(`${FS_OUTBOX} write needs "path", a file name under outbox/`);
  }
  if (typeof value.content !== 'string') {
    throw new StepFailedError(`${FS_OUTBOX} write needs "content", the text of the file`);
  }
  return { path: value.path, content: value.content };
}

/** What a write would return, without writing: runbook tests see the same result a run does. */
export function previewOutbox(request: OutboxWrite): OutboxResult {
  const relative = outboxPath(request.path);
  const data = Buffer.from(request.content, 'utf8');
  return {
    path: relative,
    bytes: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
    written: true,
  };
}

/** The workspace-relative path an outbox write goes to (always under outbox/). */
export function outboxPath(path: string): string {
  const relative = workspaceRelative(`${OUTBOX_DIR}/${path.replace(/^\/*(outbox\/)?/, '')}`);
  if (!relative.startsWith(`${OUTBOX_DIR}/`)) {
    throw new StepFailedError(`${FS_OUTBOX} writes only under ${OUTBOX_DIR}/, not to "${path}"`);
  }
  return relative;
}

/**
 * What the write would do to the file now: `create` when it does not exist, or holds exactly this
 * content (the same write, done before a crash); `modify` when it holds anything else.
 */
export async function outboxChangeKind(
  workspace: string,
  request: OutboxWrite,
): Promise<'create' | 'modify'> {
  const existing = await readInside(workspace, outboxPath(request.path));
  return existing === null || existing.equals(Buffer.from(request.content, 'utf8')) ? 'create' : 'modify';
}

/** Reports a file the operator's decision wrote, as the outbox reports its own writes. */
export async function outboxWritten(
  workspace: string,
  relative: string,
  decision: 'approved' | 'edited',
): Promise<OutboxResult> {
  const data = await readInside(workspace, relative);
  if (data === null) throw new StepFailedError(`${relative} was approved but is gone from the workspace`);
  return {
    path: relative,
    bytes: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
    written: true,
    decision,
    rule: null,
  };
}

export async function writeOutbox(workspace: string, request: OutboxWrite): Promise<OutboxResult> {
  const relative = outboxPath(request.path);
  // Folders made and checked on the way: an outbox/ that is a link elsewhere is refused.
  const target = await writableTarget(workspace, relative, true);
  const data = Buffer.from(request.content, 'utf8');
  const sha256 = createHash('sha256').update(data).digest('hex');
  // The temporary file lives in .keel/tmp (same file system, so it can be linked): a crash never
  // leaves a half-written file in the outbox.
  const temp = await tempFile(workspace, 'outbox');
  const file = await open(temp, 'wx', 0o644);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    expectOwnWrite(target, data);
    await link(temp, target);
    return { path: relative, bytes: data.length, sha256, written: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const existing = await readInside(workspace, relative);
    if (existing && createHash('sha256').update(existing).digest('hex') === sha256) {
      return { path: relative, bytes: data.length, sha256, written: false };
    }
    throw new StepFailedError(
      `${relative} already exists with other content; the outbox never overwrites a file`,
    );
  } finally {
    await rm(temp, { force: true });
  }
}
