/**
 * A durable step as a user meets it, beside its peer and its floor, in interleaved rounds:
 *  - Keel: a run of a 10-step no-op `llm` runbook started over the daemon's socket (the built
 *    `keel daemon`, its own process), until its end arrives as a `keel/runs/changed` notification;
 *  - LangGraph JS with SqliteSaver, as shipped and with `PRAGMA synchronous=FULL` (the power-loss
 *    guarantee Keel's fdatasync gives), on the same 10 steps, each a call through the openai SDK;
 *  - the fsync floor: one 1 KB append + fdatasync per step.
 * Every contender asks the same local OpenAI-compatible test server, which answers at once.
 * Then the daemon's stop time after it has run N runs (the trace store's drain). Given a saved
 * build (`baselineCli`), that build's daemon runs as one more contender, so two builds are
 * compared round by round on one loaded machine.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, realpath, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import { SqliteSaver } from '@langchain/langgraph-checkpoint-sqlite';
import {
  RunChangedNotification,
  RunStartRequest,
  TrustGrantRequest,
  TrustStateRequest,
  type RunSummary,
} from '@keel/schemas';
import type { SocketClient } from '../../../daemon/src/rpc/socketClient';
import { ModelServer } from '../../helpers/modelServer';
import { DaemonProcess } from '../daemonProcess';
import { readCpuSeconds } from '../procStats';
import { round } from '../stats';

/** The durable-step runbook's steps (profile/durableThreads.ts runs the same). */
export const STEPS = 10;

export interface DurableStepOptions {
  /** Interleaved rounds; each contender runs `runsPerRound` runs of 10 steps in each. */
  rounds: number;
  runsPerRound: number;
  /** Runs the daemon makes before its stop is timed (0: not measured). */
  stopAfterRuns: number;
  /** How the daemons start: extra environment, node flags (--cpu-prof), another build's cli.js. */
  daemon?: DaemonSettings;
  /** A saved build's cli.js, run as the `baseline` contender (null: none). */
  baselineCli?: string | null;
}

export interface DaemonSettings {
  env?: Record<string, string>;
  nodeArgs?: string[];
  cli?: string;
}

/** Per-step milliseconds: the median over rounds, and its spread (lowest, highest round). */
export interface Figure {
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Keel's per-step time over this contender's, per round (median and spread); null for Keel. */
  ratio: { median: number; min: number; max: number } | null;
}

export interface DurableStepResult {
  steps: number;
  rounds: number;
  runsPerRound: number;
  keel: Figure;
  langgraph: Figure;
  langgraphFull: Figure;
  fsyncFloor: Figure;
  /** The saved build's daemon (its ratio: this build over it), when one was given. */
  baseline: Figure | null;
  /** The saved build over LangGraph as shipped, per round: the target's figure before the change. */
  baselineToLanggraph: Figure['ratio'];
  /** The daemons' CPU time per step (user + system, every thread), from /proc. */
  cpu: { keel: Figure; baseline: Figure | null };
  /** 1-minute load average at each round's start (cores busy), and the machine's core count. */
  load: { perRound: number[]; median: number; cpus: number };
  stop: { afterRuns: number; ms: number; killed: boolean; runsMs: number } | null;
}

/** Each step's prompt carries the step before's answer, as each LangGraph node does with the state. */
export const RUNBOOK = `apiVersion: keel/v1
name: ten
role: Benchmark
description: Ten no-op model steps.
inputs:
  topic: { type: string, default: renewals }
steps:
${Array.from({ length: STEPS }, (_, i) => `  - { id: s${i}, type: llm, prompt: "Step ${i}. {{ ${i === 0 ? 'inputs.topic' : `steps.s${i - 1}.output`} }}" }`).join('\n')}
`;

type Contender = 'keel' | 'langgraph' | 'langgraphFull' | 'fsyncFloor' | 'baseline';

export async function measureDurableStep(options: DurableStepOptions): Promise<DurableStepResult> {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'keel-durable-')));
  const server = await ModelServer.start();
  server.respondWith(() => ({ content: 'ok', usage: { prompt_tokens: 5, completion_tokens: 1 } }));
  const settings = options.daemon ?? {};
  const keel = await KeelDaemon.start(join(base, 'keel'), server.baseUrl, settings);
  const baseline = options.baselineCli
    ? await KeelDaemon.start(join(base, 'baseline'), server.baseUrl, {
        ...settings,
        cli: options.baselineCli,
      })
    : null;
  const graphs = {
    langgraph: LangGraphWorkflow.open(join(base, 'lg-shipped.sqlite'), server.baseUrl, false),
    langgraphFull: LangGraphWorkflow.open(join(base, 'lg-full.sqlite'), server.baseUrl, true),
  };
  const floor = await open(join(base, 'floor.log'), 'a');
  const once: Partial<Record<Contender, () => Promise<void>>> = {
    keel: () => keel.run(),
    ...(baseline ? { baseline: () => baseline.run() } : {}),
    langgraph: () => graphs.langgraph.run(),
    langgraphFull: () => graphs.langgraphFull.run(),
    fsyncFloor: async () => {
      for (let i = 0; i < STEPS; i++) {
        await floor.write(Buffer.alloc(1024, 120));
        await floor.datasync();
      }
    },
  };
  const perStep: Record<Contender, number[]> = {
    keel: [],
    langgraph: [],
    langgraphFull: [],
    fsyncFloor: [],
    baseline: [],
  };
  /**
   * Each daemon's CPU time (all its threads) at the start of each of its blocks: a round's figure
   * runs to its next block, so work it did in the background meanwhile (the trace store's batch,
   * indexing ended runs) counts too. Steadier than wall time on a busy machine.
   */
  const cpuMarks: Record<'keel' | 'baseline', number[]> = { keel: [], baseline: [] };
  const daemons = { keel, baseline };
  const load: number[] = [];
  try {
    // A warm-up run each: module loading, JIT, the first SQLite and DuckDB pages.
    for (const run of Object.values(once)) await run();
    const order = Object.keys(once) as Contender[];
    for (let r = 0; r < options.rounds; r++) {
      load.push(round(loadavg()[0]!));
      // Rotated each round: no contender always follows the same one.
      const turn = r % order.length;
      for (const contender of [...order.slice(turn), ...order.slice(0, turn)]) {
        const run = once[contender]!;
        if (contender === 'keel' || contender === 'baseline')
          cpuMarks[contender].push(daemons[contender]!.cpuSeconds() ?? 0);
        const started = performance.now();
        for (let i = 0; i < options.runsPerRound; i++) await run();
        perStep[contender].push((performance.now() - started) / (options.runsPerRound * STEPS));
      }
      server.requests.length = 0;
    }
    // Before the stop's runs, which would count in the last round.
    const cpu = {
      keel: figure(cpuPerStep(keel, cpuMarks.keel, options.runsPerRound), null),
      baseline: baseline
        ? figure(
            cpuPerStep(baseline, cpuMarks.baseline, options.runsPerRound),
            cpuPerStep(keel, cpuMarks.keel, options.runsPerRound),
          )
        : null,
    };
    const stop = options.stopAfterRuns > 0 ? await keel.stopAfter(options.stopAfterRuns, server) : null;
    return {
      steps: STEPS,
      rounds: options.rounds,
      runsPerRound: options.runsPerRound,
      keel: figure(perStep.keel, null),
      langgraph: figure(perStep.langgraph, perStep.keel),
      langgraphFull: figure(perStep.langgraphFull, perStep.keel),
      fsyncFloor: figure(perStep.fsyncFloor, perStep.keel),
      baseline: baseline ? figure(perStep.baseline, perStep.keel) : null,
      baselineToLanggraph: baseline ? figure(perStep.langgraph, perStep.baseline).ratio : null,
      cpu,
      load: { perRound: load, median: median(load), cpus: cpus().length },
      stop,
    };
  } finally {
    await floor.close();
    graphs.langgraph.close();
    graphs.langgraphFull.close();
    await keel.close();
    await baseline?.close();
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
}

/** CPU milliseconds per step of each round, from each block's start to the next (the last: to now). */
function cpuPerStep(daemon: KeelDaemon, marks: readonly number[], runs: number): number[] {
  const ends = [...marks.slice(1), daemon.cpuSeconds() ?? marks.at(-1)!];
  return marks.map((mark, i) => ((ends[i]! - mark) * 1000) / (runs * STEPS));
}

/** Keel's ratio to the contender per round (Keel / contender): <= 1 is Keel as fast or faster. */
function figure(samples: number[], keel: number[] | null): Figure {
  const ratios = keel ? keel.map((k, i) => k / samples[i]!) : null;
  return {
    medianMs: round(median(samples), 3),
    minMs: round(Math.min(...samples), 3),
    maxMs: round(Math.max(...samples), 3),
    ratio: ratios
      ? {
          median: round(median(ratios), 2),
          min: round(Math.min(...ratios), 2),
          max: round(Math.max(...ratios), 2),
        }
      : null,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The built daemon in its own process, trusted, with the 10-step runbook. */
class KeelDaemon {
  private readonly ended = new Map<string, (summary: RunSummary) => void>();

  private constructor(
    private daemon: DaemonProcess,
    private readonly client: SocketClient,
  ) {
    client.onNotification(RunChangedNotification, (run) => {
      if (run.endedAt) this.ended.get(run.id)?.(run);
    });
  }

  static async start(base: string, baseUrl: string, settings: DaemonSettings): Promise<KeelDaemon> {
    const workspace = join(base, 'workspace');
    await mkdir(join(workspace, 'runbooks'), { recursive: true });
    await writeFile(join(workspace, 'runbooks', 'ten.yaml'), RUNBOOK);
    await writeFile(
      join(workspace, 'keel.yaml'),
      `version: 1\nmodels:\n  endpoint: { baseUrl: ${baseUrl} }\n  tiers:\n    fast: { model: m }\n` +
        'runbooks:\n  concurrency: 2\n',
    );
    const daemon = DaemonProcess.spawn({
      workspace,
      runtimeDir: join(base, 'runtime'),
      logFile: join(base, 'daemon.log'),
      env: { KEEL_LOG_LEVEL: 'warn', ...settings.env },
      ...(settings.nodeArgs ? { nodeArgs: settings.nodeArgs } : {}),
      ...(settings.cli ? { cli: settings.cli } : {}),
    });
    const client = await daemon.connect();
    const { wantsHash } = await client.request(TrustStateRequest);
    await client.request(TrustGrantRequest, { wantsHash });
    return new KeelDaemon(daemon, client);
  }

  /** CPU seconds the daemon's process has used so far (null once it has exited). */
  cpuSeconds(): number | null {
    return readCpuSeconds(this.daemon.pid);
  }

  /** One run, from the start request to its end notification; fails unless it succeeded. */
  async run(): Promise<void> {
    let resolve!: (summary: RunSummary) => void;
    const done = new Promise<RunSummary>((r) => (resolve = r));
    const started = await this.client.request(RunStartRequest, { runbook: 'ten', inputs: {} });
    this.ended.set(started.id, resolve);
    // An end that arrived before the start's answer is read back in the summary it returned.
    const summary = started.endedAt ? started : await done;
    this.ended.delete(started.id);
    if (summary.status !== 'succeeded')
      throw new Error(`the benchmark run ${summary.id} ${summary.status}: ${summary.error}`);
  }

  /** Runs `runs` runs (two at a time, as keel.yaml allows), then times the daemon's stop. */
  async stopAfter(
    runs: number,
    server: ModelServer,
  ): Promise<{ afterRuns: number; ms: number; killed: boolean; runsMs: number }> {
    process.stderr.write(`Durable step: ${runs} runs, then the daemon's stop...\n`);
    const started = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < runs) {
        next++;
        await this.run();
        if (next % 500 === 0) server.requests.length = 0;
      }
    };
    await Promise.all([worker(), worker()]);
    const runsMs = performance.now() - started;
    const stopped = await this.daemon.stop(60_000);
    return { afterRuns: runs, ms: round(stopped.ms, 1), killed: stopped.killed, runsMs: round(runsMs) };
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
    await this.daemon.stop();
  }
}

/** The same 10 steps as a LangGraph StateGraph, checkpointed by SqliteSaver after every step. */
class LangGraphWorkflow {
  private constructor(
    private readonly saver: SqliteSaver,
    private readonly graph: { invoke(input: unknown, config: unknown): Promise<unknown> },
  ) {}

  static open(file: string, baseUrl: string, fullSync: boolean): LangGraphWorkflow {
    const saver = SqliteSaver.fromConnString(file);
    // As shipped: WAL with synchronous=NORMAL (no fsync at commit); FULL syncs the WAL at each commit.
    if (fullSync) saver.db.pragma('synchronous = FULL');
    const model = new OpenAI({ baseURL: baseUrl, apiKey: 'bench', maxRetries: 0 });
    const State = Annotation.Root({
      text: Annotation<string>({ reducer: (_old, next) => next, default: () => '' }),
    });
    // Node names are built in a loop; StateGraph's types want literal names, hence the widening.
    const builder = new StateGraph(State) as unknown as LooseGraph;
    for (let i = 0; i < STEPS; i++) {
      builder.addNode(`s${i}`, async (state: { text: string }) => {
        const answer = await model.chat.completions.create({
          model: 'm',
          messages: [{ role: 'user', content: `Step ${i}. ${state.text}` }],
        });
        return { text: answer.choices[0]?.message.content ?? '' };
      });
      builder.addEdge(i === 0 ? START : `s${i - 1}`, `s${i}`);
    }
    builder.addEdge(`s${STEPS - 1}`, END);
    const graph = builder.compile({ checkpointer: saver });
    return new LangGraphWorkflow(saver, graph);
  }

  async run(): Promise<void> {
    await this.graph.invoke({ text: 'renewals' }, { configurable: { thread_id: randomUUID() } });
  }

  close(): void {
    this.saver.db.close();
  }
}

interface LooseGraph {
  addNode(name: string, node: (state: { text: string }) => Promise<{ text: string }>): LooseGraph;
  addEdge(from: string, to: string): LooseGraph;
  compile(options: { checkpointer: SqliteSaver }): {
    invoke(input: unknown, config: unknown): Promise<unknown>;
  };
}
