/**
 * Messages between the extension host and a run's timeline (a webview panel, "Run <id>"), as
 * discriminated unions: the host validates what the webview sends, the webview switches on `type`.
 */
import { z } from 'zod';
import { RunTrace } from './protocol/runs';

export const HostToTimelineMessage = z.discriminatedUnion('type', [
  /** The run's whole trace, sent again (debounced) each time the run changes. */
  z.object({
    type: z.literal('trace'),
    trace: RunTrace.unwrap(),
    /** The run has not ended: the timeline says it follows the run. */
    live: z.boolean(),
  }),
  /** The trace could not be fetched, in words. */
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type HostToTimelineMessage = z.infer<typeof HostToTimelineMessage>;

export const TimelineToHostMessage = z.discriminatedUnion('type', [
  /** The webview has loaded and wants the trace. */
  z.object({ type: z.literal('ready') }),
  /** The webview received the host's first message: it loaded and listens, whether or not `ready` came. */
  z.object({ type: z.literal('loaded') }),
  /** A child run's (or the parent's) Open button: that run's timeline. */
  z.object({ type: z.literal('openRun'), id: z.string().min(1) }),
  /** A memory read: the note at its line (a workspace-relative path; the host checks it). */
  z.object({ type: z.literal('openNote'), path: z.string().min(1), line: z.number().int().min(1) }),
  /** A failed or cancelled run's "Take over from here" on one of its steps. */
  z.object({ type: z.literal('takeOver'), stepId: z.string().min(1) }),
  /** The proposal the run waits for, as a diff. */
  z.object({ type: z.literal('openProposal'), id: z.string().min(1) }),
  /** Today's text form: copied to the clipboard, or opened as a Markdown document. */
  z.object({ type: z.literal('copyMarkdown') }),
  z.object({ type: z.literal('openMarkdown') }),
]);
export type TimelineToHostMessage = z.infer<typeof TimelineToHostMessage>;
