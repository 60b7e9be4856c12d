/**
 * What `keel eval` and the report ask of evals: run a runbook's cases, store the results, keep
 * the first result set (or the one run with `--baseline`) as the baseline per runbook and tier,
 * and compare every later set with it (drift). The store opens at the first use.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EvalCaseResult, EvalDrift, EvalSummaryRow } from '@keel/schemas';
import { keelDir } from '../../files/workspacePaths';
import { parseWhen } from '../../governance/metrics';
import { findDrift } from './evalDrift';
import { loadEvalSection, runEvals, type EvalRunOptions } from './evalRunner';
import { EvalStore } from './evalStore';

const DAY_MS = 86_400_000;

export interface EvalRun {
  at: string;
  results: EvalCaseResult[];
  baseline: boolean;
  drift: EvalDrift | null;
}

export class Evaluations {
  private store: Promise<EvalStore> | null = null;

  constructor(
    private readonly workspace: string,
    private readonly warn: (message: string) => void,
  ) {}

  async run(options: EvalRunOptions & { makeBaseline: boolean }): Promise<EvalRun> {
    const { section } = await loadEvalSection(options.workspace, options.catalog, options.runbook);
    const results = await runEvals(options, section);
    // Cut short (emergency stop, shutdown): its runs did not end on their own, so they are no
    // measure of the model and would read as drift; nothing is stored.
    if (options.signal.aborted) {
      throw new Error(
        `the eval of ${options.runbook} was stopped (${(options.signal.reason as Error | undefined)?.message ?? 'cancelled'}); nothing was stored`,
      );
    }
    const at = new Date().toISOString();
    const evalId = `eval-${options.runbook}-${at}-${randomBytes(3).toString('hex')}`;
    const tier = results[0]!.tier;
    const store = await this.open();
    await store.save(evalId, at, results);
    const baseline = await store.baseline(options.runbook, tier);
    if (!baseline || options.makeBaseline) {
      await store.setBaseline(options.runbook, tier, evalId, at);
      return { at, results, baseline: true, drift: null };
    }
    const drift = findDrift({
      runbook: options.runbook,
      tier,
      at,
      baselineAt: baseline.at,
      tolerance: section.tolerance,
      baseline: baseline.results,
      current: results,
    });
    if (drift) await store.saveDrift(evalId, drift);
    return { at, results, baseline: false, drift };
  }

  /** Per runbook and tier over the span (30 days by default), and the drift found in it. */
  async report(span: {
    since?: string | undefined;
    until?: string | undefined;
  }): Promise<{ rows: EvalSummaryRow[]; drift: EvalDrift[] }> {
    const until = parseWhen(span.until, new Date(), 'until');
    const since = parseWhen(span.since, new Date(until.getTime() - 30 * DAY_MS), 'since');
    const store = await this.open();
    const [rows, drift] = await Promise.all([
      store.summary(since.toISOString(), until.toISOString()),
      store.drifts(since.toISOString(), until.toISOString()),
    ]);
    return { rows, drift };
  }

  /** Per tier, the runbook's newest eval there: passed of total (for routing), null for none. */
  async latest(
    runbook: string,
    tiers: readonly string[],
  ): Promise<Map<string, { passed: number; total: number } | null>> {
    const store = await this.open();
    const found = new Map<string, { passed: number; total: number } | null>();
    for (const tier of tiers) found.set(tier, await store.latest(runbook, tier));
    return found;
  }

  async close(): Promise<void> {
    const store = await this.store?.catch(() => null);
    this.store = null;
    await store?.close();
  }

  private open(): Promise<EvalStore> {
    this.store ??= keelDir(this.workspace).then((dir) =>
      EvalStore.open(join(dir, 'evals.duckdb'), this.warn),
    );
    return this.store;
  }
}
