/**
 * Messages between the extension host and the approval inbox (a webview panel): every proposal
 * waiting for the operator, across agents, with what the inbox shows beside it. The host validates
 * what the webview sends; the webview switches on `type`.
 */
import { z } from 'zod';
import { FileChange, Proposal } from './protocol/approvals';

/** A note the proposing run read, at the lines it read. */
export const InboxMemoryRead = z.object({
  path: z.string(),
  startLine: z.number().int().min(1),
  endLine: z.number().int().min(1),
});
export type InboxMemoryRead = z.infer<typeof InboxMemoryRead>;

/** One waiting proposal and what its run says about it (null fields: the run could not be read). */
export const InboxItem = z.object({
  proposal: Proposal.unwrap(),
  /** The run's inputs, as it was started with them. */
  inputs: z.record(z.string(), z.unknown()).nullable(),
  /** What the run has spent so far, in US dollars. */
  costUsd: z.number().nullable(),
  /** The notes the run read before it proposed this, each once. */
  read: z.array(InboxMemoryRead),
});
export type InboxItem = z.infer<typeof InboxItem>;

/** One line of a file's diff, with its numbers in the file as it is now and as proposed. */
export const InboxDiffLine = z.object({
  kind: z.enum(['context', 'added', 'removed']),
  text: z.string(),
  /** Its line in the file as it is now (null for an added line). */
  oldLine: z.number().int().min(1).nullable(),
  /** Its line in the file as proposed (null for a removed line). */
  newLine: z.number().int().min(1).nullable(),
  /** The line is the file's last and has no newline after it. */
  noNewline: z.boolean().optional(),
});
export type InboxDiffLine = z.infer<typeof InboxDiffLine>;

/** Changed lines with a few unchanged ones around them, as `@@ -oldStart,oldLines +newStart,newLines @@`. */
export const InboxDiffHunk = z.object({
  oldStart: z.number().int().min(0),
  oldLines: z.number().int().min(0),
  newStart: z.number().int().min(0),
  newLines: z.number().int().min(0),
  lines: z.array(InboxDiffLine),
});
export type InboxDiffHunk = z.infer<typeof InboxDiffHunk>;

/** One changed file's diff, from the file as it is now to the proposed content. */
export const InboxFileDiff = z.object({
  path: z.string(),
  action: FileChange.unwrap().shape.action,
  /**
   * `text`: hunks follow; `binary`: a side holds a NUL byte or is not UTF-8; `identical`: the file
   * already reads as proposed; `tooLarge`: too different to compare here in reasonable time.
   */
  kind: z.enum(['text', 'binary', 'identical', 'tooLarge']),
  hunks: z.array(InboxDiffHunk),
  added: z.number().int().min(0),
  removed: z.number().int().min(0),
  /** Lines of this file's diff left out to keep the proposal's diff short. */
  omitted: z.number().int().min(0),
  /** The proposed side is the operator's saved edit of the agent's text (what approving applies). */
  edited: z.boolean().optional(),
});
export type InboxFileDiff = z.infer<typeof InboxFileDiff>;

export const InboxProposalDiff = z.object({
  files: z.array(InboxFileDiff),
  /** Lines left out across all files: the full diff is in the diff editor. */
  omitted: z.number().int().min(0),
});
export type InboxProposalDiff = z.infer<typeof InboxProposalDiff>;

export const HostToInboxMessage = z.discriminatedUnion('type', [
  /** Every open proposal, sent again (debounced) each time one is made, goes stale or is decided. */
  z.object({ type: z.literal('items'), items: z.array(InboxItem) }),
  /** The proposals could not be listed, in words. */
  z.object({ type: z.literal('error'), message: z.string() }),
  /** A proposal's diff, for the proposal as `key` names it (inboxDiffKey: id, status, file versions). */
  z.object({ type: z.literal('diff'), key: z.string(), diff: InboxProposalDiff }),
  /** A proposal's diff could not be computed (its files could not be read), in words. */
  z.object({ type: z.literal('diffError'), key: z.string(), message: z.string() }),
]);
export type HostToInboxMessage = z.infer<typeof HostToInboxMessage>;

const id = z.string().min(1);

export const InboxToHostMessage = z.discriminatedUnion('type', [
  /** The webview has loaded and wants the items. */
  z.object({ type: z.literal('ready') }),
  /** The webview received the host's first message: it loaded and listens, whether or not `ready` came. */
  z.object({ type: z.literal('loaded') }),
  /** The proposal's diff (or an action's review document) in an editor. */
  z.object({ type: z.literal('open'), id }),
  z.object({ type: z.literal('approve'), id }),
  z.object({ type: z.literal('edit'), id }),
  /** Asks the operator why in an input box, then rejects. */
  z.object({ type: z.literal('reject'), id }),
  /** Low-risk proposals the operator reviewed, approved together (the host checks each again). */
  z.object({ type: z.literal('approveBatch'), ids: z.array(id).min(1).max(200) }),
  /** The selected proposal's diff, shown inline; computed only when asked. */
  z.object({ type: z.literal('diff'), id }),
  /** The proposing run's timeline. */
  z.object({ type: z.literal('openRun'), id }),
  /** A note the run read, at its line (a workspace-relative path; the host checks it). */
  z.object({ type: z.literal('openNote'), path: z.string().min(1), line: z.number().int().min(1) }),
]);
export type InboxToHostMessage = z.infer<typeof InboxToHostMessage>;
