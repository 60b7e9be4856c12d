/**
 * The operator's trust decisions, kept per user outside every workspace (a cloned workspace cannot
 * bring its own): `<state dir>/trust/<workspace key>.json`, one file per workspace real path.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TrustEndpoint } from '@keel/schemas';
import { z } from 'zod';
import { userStateDir, workspaceKey } from '../runtime/paths';

export const TrustRecord = z.object({
  version: z.literal(1),
  /** The workspace's real path: a key collision or a moved file is never taken for consent. */
  workspace: z.string(),
  grantedAt: z.string(),
  endpoints: z.array(TrustEndpoint.unwrap()),
  /** Ids of the trigger definitions consented to (see `triggerId`). */
  triggers: z.array(z.string()),
  /** The approvals policy consented to: file rules, action rules, lists, MCP tool risks (wants.ts). */
  rules: z.array(z.string()),
});
export type TrustRecord = z.infer<typeof TrustRecord>;

export function trustFilePath(workspace: string): string {
  return join(userStateDir(), 'trust', `${workspaceKey(workspace)}.json`);
}

/**
 * The stored decision for `workspace` (a real path), or null when there is none. A file that does
 * not parse, or names another workspace, counts as no decision: the operator is asked again.
 */
export async function readTrust(
  workspace: string,
  warn: (message: string) => void,
): Promise<TrustRecord | null> {
  const path = trustFilePath(workspace);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    warn(`Cannot read the trust decision ${path} (${(error as Error).message}); Keel asks again.`);
    return null;
  }
  const parsed = TrustRecord.safeParse(safeJson(text));
  if (!parsed.success || parsed.data.workspace !== workspace) {
    warn(`The trust decision ${path} is damaged or names another folder; Keel asks again.`);
    return null;
  }
  return parsed.data;
}

/** Saves the decision atomically (a temporary file, fsync, rename), readable by the user only. */
export async function writeTrust(record: TrustRecord): Promise<void> {
  const path = trustFilePath(record.workspace);
  await mkdir(join(userStateDir(), 'trust'), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

export async function removeTrust(workspace: string): Promise<void> {
  await rm(trustFilePath(workspace), { force: true });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
