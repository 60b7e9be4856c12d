/**
 * The conductor's own overhead, with the model taken out of the picture.
 *  - Per step: a 5-step runbook (four `llm` steps, one `fs.outbox@1` write) executed from a real,
 *    fsync'd journal on disk with a model that answers at once, in this process: the time from a
 *    step's start to its end record on disk, which includes rendering templates, the budget
 *    check, three journal records (start, model call, end) each written and fsync'd, and the
 *    outbox write for the connector step.
 *  - Runs per second: the same runbook through the whole conductor (queue, journal, DuckDB trace
 *    store, run notifications) against the OpenAI-compatible test server answering instantly over
 *    loopback HTTP through the openai SDK: sequentially, and all at once (concurrency 2).
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkspaceConfig, type Runbook } from '@keel/schemas';
import { Conductor } from '../../../daemon/src/conductor/conductor';
import { Journal } from '../../../daemon/src/conductor/journal';
import { StateSeal } from '../../../daemon/src/runtime/stateKey';
import type { ModelProvider } from '../../../daemon/src/conductor/models/modelProvider';
import type { ApprovalPort } from '../../../daemon/src/conductor/proposals';
import { parseRunbook } from '../../../daemon/src/conductor/runbookFile';
import { executeRun } from '../../../daemon/src/conductor/runExecutor';
import { RunHistory } from '../../../daemon/src/conductor/runHistory';
import type { MemoryAccess } from '../../../daemon/src/conductor/steps/stepRuntime';
import { createLogger } from '../../../daemon/src/log';
import { WorkspaceTrust } from '../../../daemon/src/trust/workspaceTrust';
import { ModelServer } from '../../helpers/modelServer';
import { round, summarize, type Summary } from '../stats';
import type { DurableStepResult } from './durableStep';

export interface ConductorResult {
  /** Milliseconds from a step's start record to its end record, fsyncs included. */
  stepOverhead: Summary & { steps: number };
  /** Whole runs executed from a new journal, per second, one after another (instant model). */
  executorRunsPerSecond: number;
  /** The same steps in two parallel branches (parallelSteps 4). */
  parallel: { stepOverhead: Summary & { steps: number }; executorRunsPerSecond: number };
  /** Runs through the conductor and the HTTP model server, one after another. */
  runsPerSecondSequential: number;
  /** The same, all queued at once (the conductor runs 2 at a time). */
  runsPerSecondConcurrent: number;
  /**
   * A hand-off through the conductor: a parent whose one step hands the five steps off to a child
   * run, against the five-step run started directly, one after another.
   */
  handoff: { childRunMs: number; parentAndChildMs: number; overheadMs: number };
  /** A durable step through the daemon beside LangGraph and the fsync floor (run.ts fills it). */
  durable: DurableStepResult | null;
  workload: {
    runbookSteps: number;
    modelSteps: number;
    executorRuns: number;
    conductorRuns: number;
    journalRecordsPerRun: number;
  };
}

const RUNBOOK = `apiVersion: keel/v1
name: five
role: Benchmark
description: Four model steps and an outbox write.
steps:
  - id: a
    type: llm
    prompt: "Start from {{ inputs.topic }}."
  - id: b
    type: llm
    prompt: "Continue {{ steps.a.output }}."
  - id: save
    type: connector
    use: fs.outbox@1
    with: { path: "{{ run.id }}.md", content: "{{ steps.b.output }}" }
  - id: c
    type: llm
    prompt: "Check {{ steps.b.output }}."
  - id: d
    type: llm
    prompt: "Sum up {{ steps.c.output }}."
inputs:
  topic: { type: string, default: renewals }
`;

/** A parent that hands the five steps off to a child run. */
const RELAY = `apiVersion: keel/v1
name: relay
role: Benchmark
description: Hands the five steps off to a child run.
budget: { maxUsd: 2, maxTokens: 300000 }
steps:
  - { id: hand, type: runbook, runbook: five, inputs: { topic: renewals } }
`;

/** The same five steps in two branches (a, b, save | c), joined by d: run with parallelSteps 4. */
const PARALLEL = RUNBOOK.replace('name: five', 'name: five-parallel')
  .replace('  - id: a\n', '  - id: a\n    needs: []\n')
  .replace(
    '  - id: c\n    type: llm\n    prompt: "Check {{ steps.b.output }}."',
    '  - id: c\n    needs: []\n    type: llm\n    prompt: "Check {{ inputs.topic }}."',
  )
  .replace('  - id: d\n', '  - id: d\n    needs: [save, c]\n');

const INSTANT: ModelProvider = {
  kind: 'instant',
  complete: () =>
    Promise.resolve({
      content: 'ok',
      toolCalls: [],
      finishReason: 'stop',
      usage: { inputTokens: 12, outputTokens: 2 },
      model: 'instant',
    }),
};

const NO_MEMORY: MemoryAccess = {
  search: () => Promise.reject(new Error('the benchmark runbook reads no memory')),
  read: () => Promise.reject(new Error('the benchmark runbook reads no memory')),
};

/**
 * Keel's default approvals rule, and nothing else: a new file under outbox/ is written without the
 * operator (the conductor part of the bench gets it from its ApprovalService).
 */
const OUTBOX_POLICY: ApprovalPort = {
  propose: () => Promise.reject(new Error('the benchmark runbook proposes nothing')),
  waitForDecision: () => Promise.reject(new Error('the benchmark runbook proposes nothing')),
  policyRule: (path, kind) =>
    kind === 'create' && path.startsWith('outbox/') ? 'outbox/** allow create' : null,
};

export async function measureConductor(options: {
  executorRuns: number;
  conductorRuns: number;
}): Promise<ConductorResult> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'keel-bench-conductor-')));
  try {
    const parsed = parseRunbook(RUNBOOK, 'runbooks/five.yaml');
    if (!parsed.runbook) throw new Error(parsed.problems.map((p) => p.message).join('; '));
    const executor = await measureExecutor(join(root, 'executor'), parsed.runbook, options.executorRuns, 1);
    const branched = parseRunbook(PARALLEL, 'runbooks/five-parallel.yaml');
    if (!branched.runbook) throw new Error(branched.problems.map((p) => p.message).join('; '));
    const parallel = await measureExecutor(join(root, 'parallel'), branched.runbook, options.executorRuns, 4);
    const conductor = await measureConductorRuns(join(root, 'conductor'), options.conductorRuns);
    return {
      ...executor,
      parallel: {
        stepOverhead: parallel.stepOverhead,
        executorRunsPerSecond: parallel.executorRunsPerSecond,
      },
      ...conductor,
      durable: null,
      workload: {
        runbookSteps: 5,
        modelSteps: 4,
        executorRuns: options.executorRuns,
        conductorRuns: options.conductorRuns,
        journalRecordsPerRun: executor.records,
      },
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function measureExecutor(
  workspace: string,
  runbook: Runbook,
  runs: number,
  parallelSteps: number,
): Promise<{
  stepOverhead: ConductorResult['stepOverhead'];
  executorRunsPerSecond: number;
  records: number;
}> {
  const journals = join(workspace, '.keel', 'runs');
  await mkdir(journals, { recursive: true });
  const models = WorkspaceConfig.parse({
    version: 1,
    models: { tiers: { fast: { model: 'instant' } } },
  }).models;
  const sealer = new StateSeal(workspace);
  const stepMs: number[] = [];
  let records = 0;
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    const id = `bench-${i}`;
    const journal = await Journal.create(
      join(journals, `${id}.jsonl`),
      {
        type: 'run',
        version: 1,
        id,
        runbook: runbook.name,
        runbookHash: 'bench',
        inputs: { topic: 'renewals' },
        recordCassette: null,
        replayCassette: null,
        at: new Date().toISOString(),
      },
      sealer,
    );
    const opened = new Map<string, number>();
    const result = await executeRun({
      runId: id,
      runbook,
      workspace,
      history: new RunHistory(journal.records, 'live', async (record) => {
        if (record.type === 'stepStart') opened.set(record.stepId, performance.now());
        await journal.append(record);
        if (record.type === 'stepEnd') stepMs.push(performance.now() - opened.get(record.stepId)!);
      }),
      models,
      provider: INSTANT,
      memory: NO_MEMORY,
      approvals: OUTBOX_POLICY,
      signal: new AbortController().signal,
      parallelSteps,
    });
    await journal.append({
      type: 'runEnd',
      status: result.status,
      outputs: result.outputs,
      error: result.error,
      escalation: null,
      at: new Date().toISOString(),
    });
    if (result.status !== 'succeeded')
      throw new Error(`benchmark run ${id} ${result.status}: ${result.error}`);
    records = journal.records.length;
    await journal.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    stepOverhead: { ...summarize(stepMs), steps: stepMs.length },
    executorRunsPerSecond: round(runs / seconds, 1),
    records,
  };
}

async function measureConductorRuns(
  workspace: string,
  runs: number,
): Promise<{
  runsPerSecondSequential: number;
  runsPerSecondConcurrent: number;
  handoff: ConductorResult['handoff'];
}> {
  const server = await ModelServer.start();
  server.respondWith(() => ({ content: 'ok' }));
  await mkdir(join(workspace, 'runbooks'), { recursive: true });
  await writeFile(join(workspace, 'runbooks', 'five.yaml'), RUNBOOK);
  await writeFile(join(workspace, 'runbooks', 'relay.yaml'), RELAY);
  const config = WorkspaceConfig.parse({
    version: 1,
    models: { endpoint: { baseUrl: server.baseUrl }, tiers: { fast: { model: 'instant' } } },
  });
  // The operator trusts the bench's workspace (and the decision is removed afterwards).
  const log = createLogger({ level: 'error' });
  const trust = await WorkspaceTrust.load(workspace, log);
  trust.update(config, []);
  await trust.grant(trust.state().wantsHash);
  const conductor = await Conductor.open({
    workspace,
    log,
    config,
    resume: false,
    trust,
    memory: () => Promise.resolve(NO_MEMORY),
    onRunChanged: () => undefined,
  });
  try {
    const timed = async (start: () => Promise<void>): Promise<number> => {
      const began = performance.now();
      await start();
      return round(runs / ((performance.now() - began) / 1000), 1);
    };
    const runOne = async (runbook = 'five'): Promise<void> => {
      const run = await conductor.start(runbook, {});
      const done = await conductor.wait(run.id);
      if (done.status !== 'succeeded')
        throw new Error(`benchmark run ${done.id} ${done.status}: ${done.error}`);
    };
    await runOne(); // warm-up: SDK, DuckDB, first journal
    const runsPerSecondSequential = await timed(async () => {
      for (let i = 0; i < runs; i++) await runOne();
    });
    const runsPerSecondConcurrent = await timed(async () => {
      await Promise.all(Array.from({ length: runs }, () => runOne()));
    });
    // Interleaved, so the machine's noise falls on both alike.
    const direct: number[] = [];
    const relayed: number[] = [];
    await runOne('relay');
    for (let i = 0; i < runs; i++) {
      for (const [runbook, times] of [
        ['five', direct],
        ['relay', relayed],
      ] as const) {
        const began = performance.now();
        await runOne(runbook);
        times.push(performance.now() - began);
      }
    }
    const childRunMs = summarize(direct).p50Ms;
    const parentAndChildMs = summarize(relayed).p50Ms;
    return {
      runsPerSecondSequential,
      runsPerSecondConcurrent,
      handoff: { childRunMs, parentAndChildMs, overheadMs: round(parentAndChildMs - childRunMs, 2) },
    };
  } finally {
    await conductor.stop();
    await trust.revoke();
    await server.close();
  }
}
