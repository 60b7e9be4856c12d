/**
 * Messages between the extension host and the approval inbox (a webview panel): every proposal
 * waiting for the operator, across agents, with what the inbox shows beside it. The host validates
 * what the webview sends; the webview switches on `type`.
 */
import { z } from 'zod';
import { Proposal } from './protocol/approvals';

/** A note the proposing run read, at the lines it read. */
export const InboxMemoryRead = z.object({
  path: z.string(),
  startLine: z.number().int().min(1),
  endLine: z.number().int().min(1),
});
export type InboxMemoryRead = z.infer<typeof InboxMemoryRead>;

/** One waiting proposal and what its run says about it (null fields: the run could not be read). */
export const InboxItem = z.object({
  proposal: Proposal,
  /** The run's inputs, as it was started with them. */
  inputs: z.record(z.string(), z.unknown()).nullable(),
  /** What the run has spent so far, in US dollars. */
  costUsd: z.number().nullable(),
  /** The notes the run read before it proposed this, each once. */
  read: z.array(InboxMemoryRead),
});
export type InboxItem = z.infer<typeof InboxItem>;

export const HostToInboxMessage = z.discriminatedUnion('type', [
  /** Every open proposal, sent again (debounced) each time one is made, goes stale or is decided. */
  z.object({ type: z.literal('items'), items: z.array(InboxItem) }),
  /** The proposals could not be listed, in words. */
  z.object({ type: z.literal('error'), message: z.string() }),
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
  /** The proposing run's timeline. */
  z.object({ type: z.literal('openRun'), id }),
  /** A note the run read, at its line (a workspace-relative path; the host checks it). */
  z.object({ type: z.literal('openNote'), path: z.string().min(1), line: z.number().int().min(1) }),
]);
export type InboxToHostMessage = z.infer<typeof InboxToHostMessage>;
