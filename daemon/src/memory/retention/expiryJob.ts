/**
 * The daily expiry of working memory: once per local day (at start-up when the day's run is still
 * due, so a daemon that was down catches up with one proposal, not one per missed day), the
 * expired notes become ONE proposal (`retention-<day>`) through the normal approvals: a keel.yaml
 * rule may let Keel's own notes through, the operator decides the rest; approval commits it with
 * Keel's trailers. The day done is kept in `.keel/retention.json` (sealed), and the proposal id is
 * the day, so a stop between proposing and saving never proposes twice.
 */
import { join } from 'node:path';
import { localDay, type Proposal, type WorkspaceConfig } from '@keel/schemas';
import type { Logger } from '../../log';
import type { ProposeInput } from '../../approvals/approvalService';
import type { Clock } from '../../conductor/triggerSchedule';
import { readSealedState, writeSealedState } from '../../runtime/sealedState';
import { StateSeal } from '../../runtime/stateKey';
import { expiredNotes } from './expiryPlan';
import { existingArchives, expiryProposal } from './expiryProposal';

/** What the job needs of the approvals service. */
export interface ExpiryApprovals {
  propose(input: ProposeInput): Promise<Proposal>;
  list(statuses?: Proposal['status'][]): Proposal[];
}

/** How often the job looks whether a new day began (real time; the day comes from the clock). */
const CHECK_MS = 15 * 60_000;

export const RETENTION_RUNBOOK = 'keel-retention';

export class ExpiryJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<Proposal | null> = Promise.resolve(null);

  private constructor(
    private readonly options: {
      workspace: string;
      log: Logger;
      clock: Clock;
      config: () => WorkspaceConfig;
      approvals: ExpiryApprovals;
      trusted: () => boolean;
    },
    private lastDay: string | null,
    private readonly path: string,
    private readonly seal: StateSeal,
  ) {}

  static async open(options: ExpiryJob['options']): Promise<ExpiryJob> {
    const path = join(options.workspace, '.keel', 'retention.json');
    const seal = new StateSeal(options.workspace);
    const state = await readSealedState(
      options.workspace,
      path,
      'retention',
      seal,
      { holds: 'the day working memory last expired', without: 'the expiry runs again today' },
      (message) => options.log.warn(message),
    );
    const lastDay = typeof state?.lastDay === 'string' ? state.lastDay : null;
    return new ExpiryJob(options, lastDay, path, seal);
  }

  /** Runs the day's expiry now if due, then checks again every CHECK_MS. */
  start(): void {
    void this.runDue();
    this.timer = setInterval(() => void this.runDue(), CHECK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running.catch(() => undefined);
  }

  /** The day the expiry last ran (YYYY-MM-DD, local), or null. */
  get lastRunDay(): string | null {
    return this.lastDay;
  }

  /** Today's proposal when today's expiry was due (null when nothing expired, or not due). */
  runDue(): Promise<Proposal | null> {
    const next = this.running.catch(() => null).then(() => this.runDueNow());
    this.running = next.catch((error: unknown) => {
      this.options.log.error('the daily expiry of working memory failed; it runs again later', { error });
      return null;
    });
    return next;
  }

  private async runDueNow(): Promise<Proposal | null> {
    // An untrusted workspace (a fresh clone) proposes nothing: its notes are not ours to move yet.
    if (!this.options.trusted()) return null;
    const now = new Date(this.options.clock.now());
    const day = localDay(now);
    if (this.lastDay !== null && this.lastDay >= day) return null;
    const config = this.options.config();
    const waiting = new Set(
      this.options.approvals.list(['pending', 'stale']).flatMap((p) => p.changes.map((c) => c.path)),
    );
    const notes = await expiredNotes({
      workspace: this.options.workspace,
      memoryDir: config.memory.dir,
      rules: config.memory.retention,
      now,
      waiting,
    });
    let proposal: Proposal | null = null;
    if (notes.length > 0) {
      const archives = await existingArchives(this.options.workspace, notes, config.memory.dir);
      const planned = expiryProposal(notes, config.memory.dir, day, (path) => archives.has(path));
      proposal = await this.options.approvals.propose({
        id: `retention-${day}`,
        runId: `retention-${day}`,
        stepId: 'expire',
        runbook: RETENTION_RUNBOOK,
        summary: planned.summary,
        reasoning: planned.reasoning,
        changes: planned.changes,
        askOperator: planned.askOperator,
      });
      this.options.log.info('working memory expired: a proposal was made', {
        proposal: proposal.id,
        notes: notes.length,
        status: proposal.status,
      });
    }
    this.lastDay = day;
    await writeSealedState(this.path, 'retention', this.seal, { version: 1, lastDay: day });
    return proposal;
  }
}
