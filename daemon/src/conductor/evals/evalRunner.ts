/**
 * `keel eval`: a runbook's `evals:` cases run live against the configured endpoint, like
 * `keel test` runs its cases from cassettes: side effects captured, never performed (no mail
 * sent, no outbox file, no approval, nothing stored into analytics), then graded by their checks.
 */
import { readdir } from 'node:fs/promises';
import {
  RunbookTestFile,
  type EvalCaseResult,
  type EvalCheckResult,
  type EvalSection,
  type Runbook,
  type WorkspaceConfig,
} from '@keel/schemas';
import { WorkspaceAnalytics } from '../../analytics/workspaceAnalytics';
import type { ConnectorPort } from '../../connectors/workspaceConnectors';
import { parseYamlWithSchema } from '../../files/yamlProblems';
import { absoluteIn, readInsideText } from '../../files/workspacePaths';
import type { ChildRunPort } from '../handoffs';
import type { JournalRecord, RecordOf } from '../journalRecords';
import type { ModelProvider } from '../models/modelProvider';
import type { RunbookCatalog } from '../runbookCatalog';
import { executeRun } from '../runExecutor';
import { RunHistory } from '../runHistory';
import { checkInputs } from '../runInputs';
import type { MemoryAccess } from '../steps/stepRuntime';
import { checkKind, gradeCheck, selectValue, textOf, type RunView } from './evalChecks';
import { judge, judgeTier } from './evalJudge';

export interface EvalRunOptions {
  workspace: string;
  catalog: RunbookCatalog;
  models: WorkspaceConfig['models'];
  memory: MemoryAccess;
  connectors?: ConnectorPort;
  /** The live endpoint, as runs use it (trust checked on every call). */
  provider: ModelProvider;
  runbook: string;
  /** Every model step of the runbook uses this tier; the runbook's own tiers when absent. */
  tier?: string;
  repeat: number;
  signal: AbortSignal;
}

/** An eval's analytics: no stored tables, and its `into:` stores nothing (as in `keel test`). */
const NO_TABLES = new WorkspaceAnalytics(null, null);

/** Hand-offs would start live child runs with their own effects: an eval does not run them. */
const NO_CHILDREN: ChildRunPort = {
  runbook: () =>
    Promise.reject(new Error('keel eval does not run hand-offs; evaluate the child runbook itself')),
  start: () =>
    Promise.reject(new Error('keel eval does not run hand-offs; evaluate the child runbook itself')),
  wait: () =>
    Promise.reject(new Error('keel eval does not run hand-offs; evaluate the child runbook itself')),
};

/** The `evals:` section for the runbook, from the first test file that has one. */
export async function loadEvalSection(
  workspace: string,
  catalog: RunbookCatalog,
  runbook: string,
): Promise<{ file: string; section: EvalSection }> {
  const testsDir = `${catalog.folder}/tests`;
  const names = await readdir(absoluteIn(workspace, testsDir)).catch(() => [] as string[]);
  for (const name of names.filter((n) => /\.test\.ya?ml$/.test(n)).sort()) {
    const file = `${testsDir}/${name}`;
    const text = await readInsideText(workspace, file);
    if (text === null || !/^evals:/m.test(text)) continue;
    const parsed = parseYamlWithSchema(text, RunbookTestFile, file);
    if (!parsed.ok) {
      const problem = parsed.problems[0]!;
      throw new Error(`${file}:${problem.line}:${problem.column} ${problem.path}: ${problem.message}`);
    }
    if (parsed.value.runbook === runbook && parsed.value.evals) return { file, section: parsed.value.evals };
  }
  throw new Error(
    `no ${testsDir}/*.test.yaml has an evals: section for runbook "${runbook}": add one (see "Evaluations" in the README)`,
  );
}

/** Runs every case `repeat` times, one after another, and grades each run. */
export async function runEvals(options: EvalRunOptions, section: EvalSection): Promise<EvalCaseResult[]> {
  const loaded = await options.catalog.get(options.runbook);
  const tier = options.tier ?? loaded.runbook.model.tier;
  if (!options.models.tiers[tier]) {
    throw new Error(
      `tier "${tier}" is not in keel.yaml models.tiers (it has: ${Object.keys(options.models.tiers).join(', ') || 'none'})`,
    );
  }
  // A routed runbook is measured on one tier too: its first, unless `--tier` names another.
  const runbook =
    options.tier || loaded.runbook.model.route ? withTier(loaded.runbook, tier) : loaded.runbook;
  const results: EvalCaseResult[] = [];
  for (const evalCase of section.cases) {
    for (let repeat = 0; repeat < options.repeat && !options.signal.aborted; repeat++) {
      results.push(await runCase(options, section, runbook, loaded.hash, tier, evalCase, repeat));
    }
  }
  return results;
}

async function runCase(
  options: EvalRunOptions,
  section: EvalSection,
  runbook: Runbook,
  runbookHash: string,
  tier: string,
  evalCase: EvalSection['cases'][number],
  repeat: number,
): Promise<EvalCaseResult> {
  const started = performance.now();
  const id = `eval-${runbook.name}`;
  const records: JournalRecord[] = [
    {
      type: 'run',
      version: 1,
      id,
      runbook: runbook.name,
      runbookHash,
      inputs: {},
      recordCassette: null,
      replayCassette: null,
      at: new Date().toISOString(),
    },
  ];
  const history = new RunHistory(records, 'live', (record) => {
    records.push(record);
    return Promise.resolve();
  });
  let run: { status: string; outputs: Record<string, unknown> | null; error: string | null };
  try {
    (records[0] as RecordOf<'run'>).inputs = checkInputs(runbook, evalCase.inputs);
    run = await executeRun({
      runId: id,
      runbook,
      workspace: options.workspace,
      history,
      effects: 'capture',
      analytics: NO_TABLES,
      models: options.models,
      provider: options.provider,
      memory: options.memory,
      ...(options.connectors ? { connectors: options.connectors } : {}),
      children: NO_CHILDREN,
      signal: options.signal,
    });
  } catch (error) {
    run = { status: 'failed', outputs: null, error: (error as Error).message };
  }
  const spent = history.spend();
  const view: RunView = { outputs: run.outputs, outboxWrites: outboxWrites(records) };
  let costUsd = spent.usd;
  let tokens = spent.tokens;
  const checks: EvalCheckResult[] = [];
  const reasons: string[] = [];
  for (const check of evalCase.checks) {
    if (check.rubric === undefined) {
      checks.push(safely(checkKind(check), () => gradeCheck(check, view)));
      continue;
    }
    if (run.status !== 'succeeded') {
      checks.push({ kind: 'rubric', passed: false, score: 0, detail: `not judged: the run ${run.status}` });
      continue;
    }
    try {
      const verdict = await judge({
        provider: options.provider,
        models: options.models,
        tier: judgeTier(options.models, check.judge, section.judge),
        rubric: check.rubric,
        output: textOf(selectValue(run.outputs, check)),
        signal: options.signal,
      });
      costUsd += verdict.costUsd;
      tokens += verdict.tokens;
      reasons.push(verdict.reasoning);
      checks.push({
        kind: 'rubric',
        passed: verdict.score >= check.threshold,
        score: verdict.score,
        detail: verdict.reasoning,
      });
    } catch (error) {
      checks.push({
        kind: 'rubric',
        passed: false,
        score: 0,
        detail: `the judge failed: ${(error as Error).message}`,
      });
    }
  }
  // A run that did not succeed fails its case whatever its checks say (a noOutbox check passes on a failed run).
  const ranWell = run.status === 'succeeded';
  return {
    runbook: runbook.name,
    case: evalCase.name,
    tier,
    repeat,
    model: reportedModel(records),
    passed: ranWell && checks.every((c) => c.passed),
    score: ranWell ? checks.reduce((sum, c) => sum + c.score, 0) / checks.length : 0,
    status: run.status,
    costUsd,
    tokens,
    latencyMs: Math.round(performance.now() - started),
    checks: ranWell
      ? checks
      : [{ kind: 'run', passed: false, score: 0, detail: run.error ?? run.status }, ...checks],
    reasoning: reasons.length > 0 ? reasons.join('\n') : null,
  };
}

/** A check that throws (a regex RE2 cannot take) fails, saying why, instead of failing the eval. */
function safely(kind: string, grade: () => EvalCheckResult): EvalCheckResult {
  try {
    return grade();
  } catch (error) {
    return { kind, passed: false, score: 0, detail: (error as Error).message };
  }
}

/** The model the endpoint said answered the run's last successful call (null without a call). */
function reportedModel(records: readonly JournalRecord[]): string | null {
  const calls = records.filter(
    (r): r is RecordOf<'modelCall'> => r.type === 'modelCall' && r.response !== null,
  );
  return calls.at(-1)?.response?.model ?? null;
}

/** Paths the run would have written under outbox/ (captured). */
function outboxWrites(records: readonly JournalRecord[]): string[] {
  return records
    .filter((r): r is RecordOf<'effect'> => r.type === 'effect' && r.connector === 'fs.outbox@1')
    .map((r) => (r.result as { path?: unknown }).path)
    .filter((path): path is string => typeof path === 'string');
}

/** The runbook with every model step on `tier` (`--tier`): the runbook's and each step's tier replaced. */
function withTier(runbook: Runbook, tier: string): Runbook {
  const copy = structuredClone(runbook);
  // No route either: an eval measures the one tier, never escalating past it.
  copy.model = { tier };
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') {
      const step = value as Record<string, unknown>;
      if (
        typeof step.id === 'string' &&
        typeof step.type === 'string' &&
        ('tier' in step || 'model' in step)
      ) {
        delete step.model;
        step.tier = tier;
      }
      Object.values(step).forEach(visit);
    }
  };
  visit(copy.steps);
  return copy;
}
