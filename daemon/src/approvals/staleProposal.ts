/**
 * A proposal whose files changed since it was computed turns `stale`: the operator looks at the
 * diff against the files as they are now and decides again. A change that appends to a section
 * (a propose step's `append:`) is computed again from the file as it is now, so that diff still
 * adds only its lines and approving it keeps the operator's edit; any other change keeps its
 * content, and the new diff shows what it would undo.
 */
import { AppendError, appendUnderHeading } from '../files/appendSection';
import { currentContents, sha256 } from './applyChanges';
import type { StoredProposal } from './proposalStore';

/** `proposal` marked stale for `changed` (path -> the file's hash now, null when it is gone). */
export async function markedStale(
  workspace: string,
  proposal: StoredProposal,
  changed: Record<string, string | null>,
): Promise<StoredProposal> {
  const now = await currentContents(workspace, Object.keys(changed));
  const proposedContents = { ...proposal.proposedContents };
  const changes = proposal.changes.map((change) => {
    if (!(change.path in changed)) return change;
    const rebased = { ...change, baseHash: changed[change.path] ?? null };
    const text = now[change.path] ?? null;
    // Computed again only from the very version the operator will be shown.
    if (!change.append || text === null || sha256(text) !== rebased.baseHash) return rebased;
    try {
      const content = appendUnderHeading(text, change.append.under, change.append.text);
      proposedContents[change.path] = content;
      return { ...rebased, content };
    } catch (error) {
      if (!(error instanceof AppendError)) throw error;
      return rebased;
    }
  });
  return { ...proposal, status: 'stale', staleFiles: Object.keys(changed), changes, proposedContents };
}
