/**
 * The approval inbox's order, filters and batch rule, pure so the webview and the tests share them:
 * riskiest first, then oldest; filters by agent, risk and words; and which proposals are low-risk
 * enough to approve together once the operator has looked at each.
 */
// Types only: the inbox's browser bundle must not pull in zod.
import type { Proposal, RunTrace } from '@keel/schemas';
import type { InboxItem, InboxMemoryRead } from '@keel/schemas/src/webviews';

/** How much a proposal can do, in the words the inbox filters by, least to most. */
export const RISKS = ['memory note', 'file', 'internal action', 'external action', 'irreversible'] as const;
export type InboxRisk = (typeof RISKS)[number];

/**
 * A proposal's risk: a connector action by its connector's risk (a read counts as internal); a
 * change of files as `memory note` when it only creates or modifies notes under memory/, else `file`
 * (a deletion, a protected file, anything else in the workspace).
 */
export function riskOf(proposal: Proposal): InboxRisk {
  const action = proposal.action;
  if (action) {
    if (action.risk === 'irreversible') return 'irreversible';
    return action.risk === 'external' ? 'external action' : 'internal action';
  }
  const notesOnly =
    !proposal.protected && proposal.changes.every((c) => c.action !== 'delete' && inMemoryFolder(c.path));
  return notesOnly ? 'memory note' : 'file';
}

/** Under memory/ and staying there: no `..` segment, no backslash, nothing absolute. */
function inMemoryFolder(path: string): boolean {
  return path.startsWith('memory/') && !path.includes('\\') && !path.split('/').includes('..');
}

/** Riskiest first; within a risk, the oldest first (as a queue is worked through); then by id. */
export function sortInbox(items: readonly InboxItem[]): InboxItem[] {
  const rank = (item: InboxItem): number => RISKS.indexOf(riskOf(item.proposal));
  return [...items].sort(
    (a, b) =>
      rank(b) - rank(a) ||
      a.proposal.createdAt.localeCompare(b.proposal.createdAt) ||
      a.proposal.id.localeCompare(b.proposal.id),
  );
}

export interface InboxFilter {
  /** A runbook's name, or null for every agent. */
  agent: string | null;
  risk: InboxRisk | null;
  /** Words each of which the summary, reasoning, runbook or a path must contain (any case). */
  text: string;
}

export const NO_FILTER: InboxFilter = { agent: null, risk: null, text: '' };

export function filterInbox(items: readonly InboxItem[], filter: InboxFilter): InboxItem[] {
  const words = filter.text.toLowerCase().split(/\s+/).filter(Boolean);
  return items.filter(({ proposal }) => {
    if (filter.agent !== null && proposal.runbook !== filter.agent) return false;
    if (filter.risk !== null && riskOf(proposal) !== filter.risk) return false;
    if (words.length === 0) return true;
    const haystack = [
      proposal.summary,
      proposal.reasoning,
      proposal.runbook,
      ...proposal.changes.map((c) => c.path),
      proposal.action ? `${proposal.action.connector}.${proposal.action.action}` : '',
    ]
      .join('\n')
      .toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

/** The agents with something waiting, by name: the agent filter's choices. */
export function inboxAgents(items: readonly InboxItem[]): string[] {
  return [...new Set(items.map((i) => i.proposal.runbook))].sort();
}

/**
 * Approvable in a batch: a pending (not stale) proposal that only creates or modifies notes under
 * memory/. Everything else, connector actions above all, is decided one by one.
 */
export function batchable(proposal: Proposal): boolean {
  return proposal.status === 'pending' && riskOf(proposal) === 'memory note';
}

/**
 * What of a batch the webview asked for may be approved: the ids it names that are still open
 * and batchable as the host knows them now. The webview's word is never taken for it.
 */
export function approvableBatch(
  ids: readonly string[],
  lookup: (id: string) => Proposal | undefined,
): { approve: Proposal[]; left: number } {
  const approve: Proposal[] = [];
  for (const id of new Set(ids)) {
    const proposal = lookup(id);
    if (proposal && batchable(proposal)) approve.push(proposal);
  }
  return { approve, left: ids.length - approve.length };
}

/** How long ago, in a word or two: `just now`, `5 min ago`, `3 h ago`, `2 days ago`. */
export function age(createdAt: string, now: number): string {
  const minutes = Math.max(0, Math.floor((now - Date.parse(createdAt)) / 60_000));
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/** A proposal with what its run's trace says: inputs, spend so far, notes read (each range once). */
export function inboxItem(proposal: Proposal, trace: RunTrace | null): InboxItem {
  const read: InboxMemoryRead[] = [];
  const seen = new Set<string>();
  for (const step of trace?.steps ?? []) {
    for (const chunk of step.retrieved) {
      const key = `${chunk.path}:${chunk.startLine}-${chunk.endLine}`;
      if (seen.has(key)) continue;
      seen.add(key);
      read.push({
        path: chunk.path,
        startLine: Math.max(1, chunk.startLine),
        endLine: Math.max(1, chunk.endLine),
      });
    }
  }
  return {
    proposal,
    inputs: trace ? trace.run.inputs : null,
    costUsd: trace ? trace.run.costUsd : null,
    read,
  };
}

/**
 * Names a proposal's diff: its id, its status and the version of each file it was computed
 * against. A proposal gone stale, or rebased on a file changed again, gets a new key, so its diff
 * is computed again; any other refresh of the list reuses the one computed.
 */
export function inboxDiffKey(proposal: Pick<Proposal, 'id' | 'status' | 'changes'>): string {
  return [
    proposal.id,
    proposal.status,
    ...proposal.changes.map((c) => `${c.path}@${c.baseHash ?? '-'}`),
  ].join('\n');
}
