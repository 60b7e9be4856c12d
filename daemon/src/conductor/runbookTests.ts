/**
 * `keel test`: runbook test cases (`runbooks/tests/*.test.yaml`) run offline from their cassettes,
 * side effects captured instead of performed, and their expectations checked: prompt and model
 * changes are tested like code.
 */
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RunbookTestFile, type RunbookTestResult, type WorkspaceConfig } from '@keel/schemas';
import { parseYamlWithSchema } from '../files/yamlProblems';
import { childRunRecord } from './childRuns';
import type { ChildRunPort, ChildStart } from './handoffs';
import type { JournalRecord, RecordOf } from './journalRecords';
import { CassetteProvider, cassetteMemory } from './models/cassetteProvider';
import type { RunbookCatalog } from './runbookCatalog';
import { checkInputs } from './runInputs';
import { executeRun } from './runExecutor';
import type { ConnectorPort } from '../connectors/workspaceConnectors';
import { RunHistory } from './runHistory';
import type { MemoryAccess } from './steps/stepRuntime';
import { absoluteIn, readInsideText } from '../files/workspacePaths';
import { WorkspaceAnalytics } from '../analytics/workspaceAnalytics';

/**
 * A test's analytics: no stored tables and empty `keel.*` metrics, so a case gives the same rows
 * on every machine; its `into:` stores nothing.
 */
const NO_TABLES = new WorkspaceAnalytics(null, null);

export async function runRunbookTests(options: {
  workspace: string;
  catalog: RunbookCatalog;
  models: WorkspaceConfig['models'];
  memory: MemoryAccess;
  only?: string;
  /** The workspace's connectors: actions are validated and captured, never performed. */
  connectors?: ConnectorPort;
}): Promise<RunbookTestResult[]> {
  const testsDir = `${options.catalog.folder}/tests`;
  const names = await readdir(absoluteIn(options.workspace, testsDir)).catch(() => [] as string[]);
  const results: RunbookTestResult[] = [];
  for (const name of names.filter((n) => /\.test\.ya?ml$/.test(n)).sort()) {
    const file = `${testsDir}/${name}`;
    const text = await readInsideText(options.workspace, file);
    if (text === null) continue;
    const parsed = parseYamlWithSchema(text, RunbookTestFile, file);
    if (!parsed.ok) {
      const problem = parsed.problems[0]!;
      results.push(
        failure(name, '(file)', file, `${problem.path}:${problem.line}:${problem.column} ${problem.message}`),
      );
      continue;
    }
    if (options.only && parsed.value.runbook !== options.only) continue;
    for (const testCase of parsed.value.cases) {
      results.push(await runCase(options, file, parsed.value.runbook, testCase));
    }
  }
  return results;
}

async function runCase(
  options: Parameters<typeof runRunbookTests>[0],
  file: string,
  runbookName: string,
  testCase: RunbookTestFile['cases'][number],
): Promise<RunbookTestResult> {
  const started = performance.now();
  let cassette: CassetteProvider | null = null;
  const result = (status: RunbookTestResult['status'], failures: string[]): RunbookTestResult => ({
    runbook: runbookName,
    case: testCase.name,
    file,
    passed: failures.length === 0,
    status,
    failures,
    durationMs: Math.round(performance.now() - started),
    cassetteSource: cassette?.cassetteSource ?? null,
    notes: cassette?.notes() ?? [],
  });
  try {
    const loaded = await options.catalog.get(runbookName);
    const cassettePath = join(dirname(file), testCase.cassette).split('\\').join('/');
    const provider = await CassetteProvider.load(options.workspace, cassettePath);
    cassette = provider;
    const id = `test-${runbookName}`;
    const children: JournalRecord[][] = [];
    const records: JournalRecord[] = [
      {
        type: 'run',
        version: 1,
        id,
        runbook: runbookName,
        runbookHash: loaded.hash,
        inputs: checkInputs(loaded.runbook, testCase.inputs),
        recordCassette: null,
        replayCassette: null,
        at: new Date().toISOString(),
      },
    ];
    const run = await executeRun({
      runId: id,
      runbook: loaded.runbook,
      workspace: options.workspace,
      history: new RunHistory(records, 'live', (record) => {
        records.push(record);
        return Promise.resolve();
      }),
      effects: 'capture',
      analytics: NO_TABLES,
      models: options.models,
      provider,
      memory: cassetteMemory(provider, options.memory),
      ...(options.connectors ? { connectors: options.connectors } : {}),
      recordedTools: (stepId) => provider.recordedTools(stepId),
      signal: new AbortController().signal,
      children: childrenInMemory(options, cassettePath, children),
    });
    return result(run.status, expectations(testCase, run, [...records, ...children.flat()]));
  } catch (error) {
    return result('failed', [(error as Error).message]);
  }
}

/**
 * Hand-offs in a runbook test: each child runs right here, offline from its part of the same
 * cassette, its side effects captured like its parent's; its journal is kept for the expectations.
 */
function childrenInMemory(
  options: Parameters<typeof runRunbookTests>[0],
  cassettePath: string,
  journals: JournalRecord[][],
): ChildRunPort {
  const started = new Map<string, ChildStart>();
  const port: ChildRunPort = {
    runbook: async (name) => (await options.catalog.get(name)).runbook,
    start: async (request) => {
      await options.catalog.get(request.runbook);
      started.set(request.id, request);
    },
    wait: async (id, signal) => {
      const request = started.get(id);
      if (!request) throw new Error(`no child run ${id} was started`);
      const loaded = await options.catalog.get(request.runbook);
      const provider = await CassetteProvider.load(options.workspace, cassettePath, request.scope);
      // Answered from its part of the test's cassette (loaded above), never from a replay record.
      const records: JournalRecord[] = [childRunRecord(request, loaded, null)];
      journals.push(records);
      const history = new RunHistory(records, 'live', (record) => {
        records.push(record);
        return Promise.resolve();
      });
      const run = await executeRun({
        runId: id,
        runbook: loaded.runbook,
        workspace: options.workspace,
        history,
        effects: 'capture',
        analytics: NO_TABLES,
        models: options.models,
        provider,
        memory: cassetteMemory(provider, options.memory),
        ...(options.connectors ? { connectors: options.connectors } : {}),
        recordedTools: (stepId) => provider.recordedTools(stepId),
        signal,
        children: port,
      });
      const spent = history.spend();
      return {
        status: run.status,
        outputs: run.outputs,
        error: run.error,
        costUsd: spent.usd,
        tokens: spent.tokens,
      };
    },
  };
  return port;
}

function expectations(
  testCase: RunbookTestFile['cases'][number],
  run: { status: string; outputs: Record<string, unknown> | null; error: string | null },
  records: JournalRecord[],
): string[] {
  const failures: string[] = [];
  const expect = testCase.expect;
  if (run.status !== expect.outcome) {
    failures.push(
      `expected the run to end ${expect.outcome}, it ended ${run.status}${run.error ? `: ${run.error}` : ''}`,
    );
  }
  for (const [name, check] of Object.entries(expect.outputs)) {
    failures.push(...valueFailures(`output "${name}"`, run.outputs?.[name], check));
  }
  // A propose step's file change is journaled as an effect of keel.approvals too; it is no
  // connector action (a case checks it through its outputs), so it is not listed among them.
  const called = records
    .filter(
      (r): r is RecordOf<'effect'> =>
        r.type === 'effect' && r.connector !== 'fs.outbox@1' && r.connector !== 'keel.approvals',
    )
    .map((r) => r.result as { action?: string; input?: Record<string, unknown> });
  const actions = expect.actions ?? [];
  if (expect.actions && called.length > actions.length) {
    const extra = called.slice(actions.length).map((c) => c.action);
    failures.push(`the run called actions the case does not expect: ${extra.join(', ')}`);
  }
  actions.forEach((wanted, i) => {
    const call = called[i];
    if (call?.action !== wanted.action) {
      const made = called.map((c) => c.action).join(', ') || 'none';
      failures.push(`expected action ${i + 1} to be ${wanted.action}; the run called: ${made}`);
      return;
    }
    for (const [name, check] of Object.entries(wanted.with)) {
      failures.push(...valueFailures(`${wanted.action} argument "${name}"`, call.input?.[name], check));
    }
  });
  const written = records
    .filter((r): r is RecordOf<'effect'> => r.type === 'effect' && r.connector === 'fs.outbox@1')
    .map((r) => (r.result as { path?: unknown }).path)
    .filter((path): path is string => typeof path === 'string')
    .map((path) => path.replace(/^outbox\//, ''));
  for (const path of expect.outbox) {
    if (!written.includes(path.replace(/^outbox\//, '')))
      failures.push(`expected an outbox write of "${path}"; writes: ${written.join(', ') || 'none'}`);
  }
  return failures;
}

/** Why a value fails its check (`contains`: in its text, its JSON when not a string; `equals`: exactly). */
function valueFailures(
  what: string,
  value: unknown,
  check: { contains?: string; equals?: unknown },
): string[] {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
  const failures: string[] = [];
  if (check.contains !== undefined && !text.includes(check.contains)) {
    failures.push(`${what} does not contain "${check.contains}" (it is: ${text.slice(0, 200)})`);
  }
  if (check.equals !== undefined && JSON.stringify(value) !== JSON.stringify(check.equals)) {
    failures.push(`${what} is ${text.slice(0, 200)}, expected ${JSON.stringify(check.equals)}`);
  }
  return failures;
}

function failure(runbook: string, name: string, file: string, message: string): RunbookTestResult {
  return {
    runbook,
    case: name,
    file,
    passed: false,
    status: 'failed',
    failures: [message],
    durationMs: 0,
    cassetteSource: null,
    notes: [],
  };
}
