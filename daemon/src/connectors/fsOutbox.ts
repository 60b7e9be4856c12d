/**
 * `fs.outbox@1`: writes a file under `outbox/`, the workspace's tray of things agents produced for
 * the outside world. Exactly once per idempotency key: the file is created with a hard link, which
 * fails if the name exists; a file already there with the same content is the same write, done
 * before a crash, and is adopted rather than written again. Whether a write may happen without
 * the operator is decided by the approvals policy: its writes are file changes, so by default the
 * file rules of keel.yaml and file proposals (with their diff) decide (see steps/connector.ts).
 */
import { createHash } from 'node:crypto';
import { link, lstat, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { expectOwnWrite } from '../files/ownWrites';
import { StepFailedError } from '../conductor/steps/stepRuntime';
import { readInside, tempFile, workspaceRelative, writableTarget } from '../files/workspacePaths';
import type { Connector, ConnectorAction } from './sdk';

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

// Not strict: runbooks written before connectors had schemas pass other `with:` keys, which are dropped.
const OutboxInput = z.object({
  path: z.string().trim().min(1, { error: 'a file name under outbox/' }).describe('File name under outbox/'),
  content: z.string().describe('The text of the file'),
});

const OutboxOutput = z.object({
  path: z.string(),
  bytes: z.number().int().min(0),
  sha256: z.string(),
  written: z.boolean(),
  decision: z.enum(['policy', 'approved', 'edited']).optional(),
  rule: z.string().nullable().optional(),
});

const write: ConnectorAction<OutboxWrite, OutboxResult> = {
  description: 'Write a file to the outbox (drafts for the outside world).',
  risk: 'internal',
  input: OutboxInput,
  output: OutboxOutput,
  perform: (input, ctx) => writeOutbox(ctx.workspace, input),
  // The file itself says whether the write happened: the same content is the same write.
  find: async (input, ctx) => {
    const data = await readInside(ctx.workspace, outboxPath(input.path));
    return data !== null && data.equals(Buffer.from(input.content, 'utf8'))
      ? { ...previewOutbox(input), written: false }
      : null;
  },
  review: (input) => ({ title: outboxPath(input.path), language: 'markdown', text: input.content }),
  fromReview: (text, original) => ({ ...original, content: text }),
};

export const fsOutbox: Connector = {
  id: FS_OUTBOX,
  description: 'The outbox/ folder of the workspace: drafts agents write for the outside world.',
  configSchema: z.strictObject({}),
  credentials: [],
  actions: { write },
  events: {},
  probe: async (ctx) => {
    const checkedAt = new Date().toISOString();
    const stat = await lstat(join(ctx.workspace, OUTBOX_DIR)).catch(() => null);
    if (stat === null) return { ok: true, detail: `${OUTBOX_DIR}/ is made on the first write`, checkedAt };
    return stat.isDirectory()
      ? { ok: true, detail: `${OUTBOX_DIR}/ is a folder of the workspace`, checkedAt }
      : {
          ok: false,
          detail: `${OUTBOX_DIR}/ is not a plain folder; the outbox refuses to write through it`,
          checkedAt,
        };
  },
};
