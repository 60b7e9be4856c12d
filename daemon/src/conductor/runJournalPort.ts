/**
 * The journals as the run index (memory/runs/runMemory.ts) reads them: ids, presence, and records
 * read through the conductor (sealed lines only, a forged journal refused) with its redaction.
 */
import { access } from 'node:fs/promises';
import { keelDir } from '../files/workspacePaths';
import type { RunJournals } from '../memory/runs/runMemory';
import type { Conductor } from './conductor';
import { journalIds, journalPath } from './journal';

export function runJournalPort(workspace: string, conductor: () => Promise<Conductor>): RunJournals {
  const runsDir = (): Promise<string> => keelDir(workspace, 'runs');
  return {
    ids: async () => journalIds(await runsDir()),
    has: async (id) =>
      access(journalPath(await runsDir(), id)).then(
        () => true,
        () => false,
      ),
    read: async (id) => {
      const running = await conductor();
      return { records: await running.records(id), redact: running.redactText };
    },
  };
}
