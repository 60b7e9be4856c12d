/**
 * Proposals on disk, one JSON file each in `.keel/approvals/`, written atomically (temporary file,
 * fsync, rename). A proposal being applied carries its decision (`applying`) before any file is
 * touched, so a daemon killed mid-apply finishes the job on its next start, exactly once.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Proposal } from '@keel/schemas';
import { z } from 'zod';

export const StoredProposal = Proposal.extend({
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
  /** The proposed contents as the agent made them, kept when the operator edits. */
  proposedContents: z.record(z.string(), z.string().nullable()).default({}),
});
export type StoredProposal = z.infer<typeof StoredProposal>;

export class ProposalStore {
  private readonly proposals = new Map<string, StoredProposal>();

  private constructor(private readonly dir: string) {}

  static async open(dir: string, warn: (message: string) => void): Promise<ProposalStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new ProposalStore(dir);
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.json'))) {
      try {
        const parsed = StoredProposal.parse(JSON.parse(await readFile(join(dir, name), 'utf8')));
        store.proposals.set(parsed.id, parsed);
      } catch (error) {
        warn(
          `${join(dir, name)} is not a readable proposal (${(error as Error).message}); it is left as it is`,
        );
      }
    }
    return store;
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

  async save(proposal: StoredProposal): Promise<void> {
    const checked = StoredProposal.parse(proposal);
    const target = join(this.dir, `${fileNameOf(checked.id)}.json`);
    const temp = `${target}.${process.pid}.tmp`;
    // Created afresh, never through a link someone planted under this name.
    const file = await open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await file.writeFile(JSON.stringify(checked, null, 2) + '\n');
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
