/**
 * Messages between the extension host and the Keel Dashboard webview (a view of its own next to the
 * sidebar), as discriminated unions: the host validates what the webview sends, the webview
 * switches on `type`.
 */
import { z } from 'zod';
import { BudgetAdvice } from './protocol/advice';
import { ControlState, MetricsReportRequest } from './protocol/control';
import { EvalReportRequest } from './protocol/evals';
import { IndexStatus } from './protocol/memory';
import { StaleRun } from './protocol/provenance';
import { RunSummary } from './protocol/runs';
import { ConnectionState } from './webview';

export const MetricsReport = MetricsReportRequest.result;
export type MetricsReport = z.infer<typeof MetricsReport>;

/** Everything the dashboard shows, sent whole after each (debounced) change. */
export const DashboardSnapshot = z.object({
  connection: ConnectionState,
  /** The emergency stop, quotas and breakers; null while the daemon is not running or did not answer. */
  control: ControlState.unwrap().nullable(),
  /** The metrics over the dashboard's span (`days` days up to now). */
  report: MetricsReport.nullable(),
  /** Budget advice over the same span (null: not fetched). */
  advice: BudgetAdvice.unwrap().nullable().default(null),
  days: z.number().int().positive(),
  /** The host's local date (YYYY-MM-DD): the last day of the spend chart. */
  today: z.string(),
  /** Proposals waiting for the operator (pending or stale). */
  pendingApprovals: z.number().int().nonnegative().nullable(),
  /** The recent runs, most recent first. */
  runs: z.array(RunSummary.unwrap()),
  index: IndexStatus.unwrap().nullable(),
  /** Runs built on a version of a note that has changed since (null: not fetched). */
  staleRuns: z.array(StaleRun.unwrap()).nullable().default(null),
  /** Evals per runbook and tier over the span, and the drift they found (null: not fetched). */
  evals: EvalReportRequest.result.nullable().default(null),
  /** What could not be fetched, in words, or null. */
  error: z.string().nullable(),
});
export type DashboardSnapshot = z.infer<typeof DashboardSnapshot>;

export const HostToDashboardMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), snapshot: DashboardSnapshot }),
  /** An emergency stop or resume is under way (its button is disabled), or done (`null`). */
  z.object({ type: z.literal('busy'), action: z.enum(['stopping', 'resuming']).nullable() }),
]);
export type HostToDashboardMessage = z.infer<typeof HostToDashboardMessage>;

export const DashboardToHostMessage = z.discriminatedUnion('type', [
  /** The webview has loaded and wants the current snapshot. */
  z.object({ type: z.literal('ready') }),
  /** The webview received the host's first message: it loaded and listens, whether or not `ready` came. */
  z.object({ type: z.literal('loaded') }),
  /** The Emergency Stop button: the host asks for confirmation in a modal first. */
  z.object({ type: z.literal('emergencyStop') }),
  z.object({ type: z.literal('resume') }),
  z.object({ type: z.literal('showRunTrace'), id: z.string().min(1) }),
  /** A possibly stale run's Re-run button: the same runbook and inputs, through normal approvals. */
  z.object({ type: z.literal('rerun'), id: z.string().min(1) }),
]);
export type DashboardToHostMessage = z.infer<typeof DashboardToHostMessage>;
