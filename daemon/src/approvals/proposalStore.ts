/**
 * Proposals on disk, one JSON file each in `.keel/approvals/`, written atomically (temporary file,
 * fsync, rename). A proposal being applied carries its decision (`applying`) before any file is
 * touched, so a daemon killed mid-apply finishes the job on its next start, exactly once. Each
 * file is sealed (runtime/stateKey): one Keel did not write for this workspace is quarantined.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { lazy, Proposal } from '@keel/schemas';
import { z } from 'zod';
import { quarantine, readStateFile, StateSeal } from '../runtime/stateKey';

export const StoredProposal = lazy(() =>
  Proposal.unwrap().safeExtend({
    /** A decision being carried out: the content to write, fixed before the first write. */
    applying: z
      .object({
        /** The operator's decision, or `policy` when rules of keel.yaml applied it. */
        kind: z.enum(['approved', 'edited', 'policy']),
        /** For `policy`: the rules (described) that let each file through. */
        rules: z.array(z.string()).default([]),
        contents: z.record(z.string(), z.string().nullable()),
        at: z.string(),
      })
      .nullable()
      .default(null),
    /** A rejection whose reason is still to be written as a lesson (see ApprovalService.reject). */
    lessonPending: z.boolean().optional(),
    /** The proposed contents as the agent made them, kept when the operator edits. */
    proposedContents: z.record(z.string(), z.string().nullable()).default({}),
  }),
);
export type StoredProposal = z.infer<typeof StoredProposal>;

export class ProposalStore {
  private readonly proposals = new Map<string, StoredProposal>();

  private constructor(
    private readonly dir: string,
    private readonly seal: StateSeal,
  ) {}

  /** Loads `.keel/approvals/` of `workspace`; what is not a proposal Keel sealed goes to quarantine. */
  static async open(workspace: string, warn: (message: string) => void): Promise<ProposalStore> {
    const dir = join(workspace, '.keel', 'approvals');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new ProposalStore(dir, new StateSeal(workspace));
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.json'))) {
      const path = join(dir, name);
      const problem = await store.load(path).catch((error: Error) => `it cannot be read (${error.message})`);
      if (problem === null) continue;
      const moved = await quarantine(workspace, path, `Not a proposal Keel made: ${problem}.`);
      warn(
        `${path} was not acted on: ${problem}. It was moved to ${moved ?? 'quarantine'}; ` +
          'a forged or edited approval is never applied. Delete it once you have looked at it.',
      );
    }
    return store;
  }

  /** Null once loaded, else why the file is not a proposal Keel made for this workspace. */
  private async load(path: string): Promise<string | null> {
    const text = await readStateFile(path);
    if (text === null) return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return 'it is not JSON';
    }
    const opened = this.seal.openObject('proposal', value);
    if (!opened) {
      return typeof value === 'object' && value !== null && 'seal' in value
        ? 'its seal does not match (edited by hand, or copied from another workspace or user)'
        : 'it carries no seal (written by hand, cloned with the repository, or by a Keel older than this one)';
    }
    const parsed = StoredProposal.safeParse(opened);
    if (!parsed.success)
      return `it is not a valid proposal (${parsed.error.issues[0]?.message ?? 'invalid'})`;
    this.proposals.set(parsed.data.id, parsed.data);
    return null;
  }

  get(id: string): StoredProposal | undefined {
    return this.proposals.get(id);
  }

  all(): StoredProposal[] {
    return [...this.proposals.values()];
  }

  /** Forgets a proposal Keel refuses to act on; its file stays where it is. Returns that file. */
  refuse(id: string): string {
    this.proposals.delete(id);
    return join(this.dir, `${fileNameOf(id)}.json`);
  }

  /** The file a proposal is kept in. */
  fileOf(id: string): string {
    return join(this.dir, `${fileNameOf(id)}.json`);
  }

  /** Deletes a decided proposal's file (keel gc); its row in the run store stays for reports. */
  async forget(id: string): Promise<void> {
    await rm(this.fileOf(id), { force: true });
    this.proposals.delete(id);
  }

  async save(proposal: StoredProposal): Promise<void> {
    const checked = StoredProposal.parse(proposal);
    const target = join(this.dir, `${fileNameOf(checked.id)}.json`);
    const temp = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    // Never written through a link someone left under the temporary name.
    await rm(temp, { force: true });
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(JSON.stringify(this.seal.sealObject('proposal', checked), null, 2) + '\n');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
    this.proposals.set(checked.id, checked);
  }
}

function fileNameOf(id: string): string {
  return id.replace(/[^a-zA-Z0-9._-]/g, '_');
}
