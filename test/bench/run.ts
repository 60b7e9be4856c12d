/**
 * `npm run bench`: Keel's memory plane measured as a user meets it. A seeded workspace is generated
 * (not timed), copied, and indexed cold by the built daemon (`keel daemon`) in its own process; the
 * same daemon is then searched and fed saves over its real socket, and a second workspace measures
 * a restart on an existing index. Prints a table, writes JSON with --json, and exits 0 unless
 * --strict is given and a target is missed: it is a measurement, not a test.
 */
import { cp, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseBenchArgs, USAGE, type BenchOptions } from './args';
import { DaemonProcess } from './daemonProcess';
import { measureColdIndex, type ColdIndexResult } from './measure/coldIndex';
import { measureFirstStep, type FirstStepResult } from './measure/firstStep';
import {
  bundleIndexFloor,
  indexFloorRatio,
  measureIndexFloor,
  type IndexFloorResult,
} from './measure/indexFloor';
import { measureConcurrency, type ConcurrencyResult } from './measure/concurrency';
import { measureConductor, type ConductorResult } from './measure/conductor';
import { measureDurableStep, type DurableStepResult } from './measure/durableStep';
import { durableSection, durableTargets } from './durableReport';
import { measureRestart, type RestartResult } from './measure/restart';
import { measureSaveToSearchable, type SaveResult } from './measure/saveToSearchable';
import { measureSearch, type SearchResult } from './measure/search';
import { SearchFloor } from './measure/searchFloor';
import { LoadMonitor, readMemory, RssSampler, type MemorySample } from './procStats';
import {
  concurrencySection,
  concurrencyTargets,
  conductorSection,
  conductorTargets,
  evaluateTargets,
  firstStepTarget,
  formatReport,
  indexFloorTarget,
  formatTarget,
  loadRows,
  machine,
  type ConcurrencyReport,
  type ConductorReport,
  type BenchReport,
  type PhaseLoad,
  type RssFigures,
} from './report';
import { round } from './stats';
import { loadOrGenerate, type Workload } from './workload/generate';
import { buildQueries, toJsonLines, type BenchQuery } from './workload/queries';

const REPO_ROOT = join(__dirname, '..', '..');

interface Dirs {
  /** Copies of the workspaces and the daemons' runtime dir; deleted at the end unless --keep. */
  run: string;
  runtime: string;
  /** Logs and the query set, kept: bench-results/<time>/. */
  results: string;
}

interface MainFigures {
  index: ColdIndexResult;
  search: SearchResult;
  save: SaveResult;
  concurrency: ConcurrencyResult | null;
  rss: RssFigures;
  /** Cores used by the daemon, this process and everything else, per phase. */
  load: Record<string, PhaseLoad>;
  shutdown: { ms: number; killed: boolean };
}

async function main(): Promise<number> {
  const options = parseBenchArgs(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const startedAt = new Date();
  if (options.only === 'durable') return reportDurable(options, await runDurable(options));
  const conductor =
    options.only === 'memory' || options.only === 'concurrency' ? null : await runConductor(options);
  if (options.only === 'conductor') return reportConductor(options, conductor!);
  const workload = await prepare('main', () =>
    loadOrGenerate({ seed: options.seed, chunks: options.chunks }),
  );
  if (options.only === 'concurrency') return runConcurrencyOnly(options, workload, startedAt);
  const restartWorkload = options.skipRestart
    ? null
    : await prepare('restart', () => loadOrGenerate({ seed: options.seed, notes: options.restartDocs }));
  const dirs = await makeDirs(startedAt);
  try {
    // The cold index's floor runs right before and right after Keel's, on the same workspace.
    const floorScript = await bundleIndexFloor(dirs.run);
    const floors: IndexFloorResult[] = [await indexFloor(floorScript, workload, dirs)];
    const figures = await runMain(options, workload, dirs);
    floors.push(await indexFloor(floorScript, workload, dirs));
    const coldIndexes = [figures.index];
    for (let round = 2; round <= options.indexRounds; round++) {
      coldIndexes.push(await coldIndexRound(options, workload, dirs, round));
      floors.push(await indexFloor(floorScript, workload, dirs));
    }
    const restart = restartWorkload ? await runRestart(options, restartWorkload, dirs) : null;
    if (restart && !('documents' in restart)) process.stderr.write(`Restart failed: ${restart.error}\n`);
    const report = assemble(options, workload, restartWorkload, figures, restart, startedAt, conductor);
    report.indexFloor = indexFloorRatio(
      coldIndexes.map((index) => ({
        readyMs: index.phasesMs.ready,
        searchableMs: index.phasesMs.searchIndexes,
      })),
      floors,
    );
    report.targets.push(indexFloorTarget(report.indexFloor));
    report.firstStep = await firstStep(restartWorkload ?? workload, dirs);
    report.targets.push(firstStepTarget(report.firstStep));
    process.stdout.write(formatReport(report));
    process.stdout.write(`Logs and queries: ${dirs.results}\n`);
    if (options.json) {
      await mkdir(dirname(options.json), { recursive: true });
      await writeFile(options.json, JSON.stringify(report, null, 2) + '\n');
      process.stdout.write(`JSON: ${options.json}\n`);
    }
    return options.strict && report.targets.some((t) => !t.pass) ? 1 : 0;
  } finally {
    if (options.keep) process.stdout.write(`Kept the run's workspaces in ${dirs.run}\n`);
    else await rm(dirs.run, { recursive: true, force: true });
  }
}

async function runConductor(options: BenchOptions): Promise<ConductorResult> {
  const runs = options.conductorRuns;
  process.stderr.write(`Conductor: ${runs} runs of a 5-step runbook...\n`);
  const conductor = await measureConductor({
    executorRuns: runs,
    conductorRuns: Math.max(10, Math.round(runs / 2)),
  });
  return { ...conductor, durable: await runDurable(options) };
}

async function runDurable(options: BenchOptions): Promise<DurableStepResult> {
  process.stderr.write(
    `Durable step: ${options.durableRounds} rounds of Keel (over the socket), LangGraph + SqliteSaver, the fsync floor...\n`,
  );
  const { env, nodeArgs, cli } = daemonRun(options);
  // The durable phase's daemons log warnings only unless --log-level says otherwise.
  const { KEEL_LOG_LEVEL: _level, ...daemonEnv } = env;
  return measureDurableStep({
    rounds: options.durableRounds,
    runsPerRound: options.durableRuns,
    stopAfterRuns: options.stopAfterRuns,
    daemon: {
      env: options.logLevel === 'info' ? daemonEnv : env,
      nodeArgs,
      ...(cli ? { cli } : {}),
    },
    baselineCli: options.durableBaselineCli,
  });
}

/** `--only durable`: the durable step's lines, targets and JSON, nothing else. */
async function reportDurable(options: BenchOptions, durable: DurableStepResult): Promise<number> {
  const targets = durableTargets(durable);
  process.stdout.write([...durableSection(durable), 'Targets', ...targets.map(formatTarget), ''].join('\n'));
  if (options.json) {
    await mkdir(dirname(options.json), { recursive: true });
    await writeFile(options.json, JSON.stringify({ durable, machine: machine(), targets }, null, 2) + '\n');
    process.stdout.write(`JSON: ${options.json}\n`);
  }
  return options.strict && targets.some((t) => !t.pass) ? 1 : 0;
}

/** `--only conductor`: the conductor's table, target and JSON, without the memory workloads. */
async function reportConductor(options: BenchOptions, conductor: ConductorResult): Promise<number> {
  const report: ConductorReport = { conductor, machine: machine(), targets: conductorTargets(conductor) };
  process.stdout.write(
    [...conductorSection(conductor), 'Targets', ...report.targets.map(formatTarget), ''].join('\n'),
  );
  if (options.json) {
    await mkdir(dirname(options.json), { recursive: true });
    await writeFile(options.json, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`JSON: ${options.json}\n`);
  }
  return options.strict && report.targets.some((t) => !t.pass) ? 1 : 0;
}

async function prepare(name: string, load: () => Promise<Workload>): Promise<Workload> {
  const workload = await load();
  const { notes, chunks } = workload.manifest;
  const how = workload.cached ? 'cached' : `generated in ${(workload.generateMs / 1000).toFixed(1)} s`;
  process.stderr.write(
    `Workload ${name}: ${notes} notes, ${chunks} chunks (${how}) at ${workload.workspace}\n`,
  );
  return workload;
}

async function makeDirs(startedAt: Date): Promise<Dirs> {
  const run = await realpath(await mkdtemp(join(tmpdir(), 'keel-bench-')));
  const results = join(REPO_ROOT, 'bench-results', startedAt.toISOString().replace(/[:.]/g, '-'));
  await mkdir(results, { recursive: true });
  return { run, runtime: join(run, 'rt'), results };
}

/** How every daemon of the run is started: environment, node flags, and which build. */
function daemonRun(options: BenchOptions): { env: Record<string, string>; nodeArgs: string[]; cli?: string } {
  return {
    env: { KEEL_LOG_LEVEL: options.logLevel, ...options.daemonEnv },
    nodeArgs: options.daemonNodeArgs,
    ...(options.daemonCli ? { cli: options.daemonCli } : {}),
  };
}

/** `keel run` with no daemon, in a copy of a workload's workspace (its memory never indexed). */
async function firstStep(workload: Workload, dirs: Dirs): Promise<FirstStepResult> {
  const workspace = join(dirs.run, 'first-step');
  await cp(workload.workspace, workspace, { recursive: true });
  process.stderr.write(`First step of "keel run" without a daemon (${workload.manifest.notes} notes)...\n`);
  return measureFirstStep(workspace, join(dirs.run, 'rt-first-step'), 5);
}

function indexFloor(script: string, workload: Workload, dirs: Dirs): Promise<IndexFloorResult> {
  process.stderr.write(`Cold index floor (one script: read, split, embed, LanceDB add, FTS build)...\n`);
  return measureIndexFloor(script, workload.workspace, dirs.run);
}

/** `--index-rounds`: one more cold index of the main workload, on a daemon that does nothing else. */
async function coldIndexRound(
  options: BenchOptions,
  workload: Workload,
  dirs: Dirs,
  round: number,
): Promise<ColdIndexResult> {
  const workspace = join(dirs.run, `index-round-${round}`);
  await cp(workload.workspace, workspace, { recursive: true });
  process.stderr.write(`Cold index of ${workload.manifest.chunks} chunks (round ${round})...\n`);
  const daemon = DaemonProcess.spawn({
    workspace,
    runtimeDir: dirs.runtime,
    logFile: join(dirs.results, `daemon-index-round-${round}.log`),
    ...daemonRun(options),
  });
  try {
    const { result, client } = await measureColdIndex(daemon, {
      workspace,
      expectedChunks: workload.manifest.chunks,
    });
    await client.close();
    return result;
  } finally {
    await daemon.stop();
    await rm(workspace, { recursive: true, force: true });
  }
}

/** Cold index, search, RSS and save-to-searchable, all on one daemon over the main workload. */
async function runMain(options: BenchOptions, workload: Workload, dirs: Dirs): Promise<MainFigures> {
  const workspace = join(dirs.run, 'main');
  await cp(workload.workspace, workspace, { recursive: true });
  const queries = await buildQueries(workspace, workload.manifest, options.queries);
  await writeFile(join(dirs.results, 'queries.jsonl'), toJsonLines(queries));
  process.stderr.write(`Cold index of ${workload.manifest.chunks} chunks...\n`);
  const daemon = DaemonProcess.spawn({
    workspace,
    runtimeDir: dirs.runtime,
    logFile: join(dirs.results, 'daemon-main.log'),
    ...daemonRun(options),
  });
  const sampler = new RssSampler(daemon.pid);
  const load = new LoadMonitor(machine().cpus, daemon.pid);
  const phases: Record<string, PhaseLoad> = {};
  let stopped: { ms: number; killed: boolean } | null = null;
  try {
    const { result: index, client } = await measureColdIndex(daemon, {
      workspace,
      expectedChunks: workload.manifest.chunks,
    });
    phases.index = load.phase();
    const afterIndex = sampler.sample();
    process.stderr.write(`Searching (${queries.length} queries)...\n`);
    const floor = await SearchFloor.open(workspace);
    const search = await measureSearch(client, queries, floor).finally(() => floor.close());
    phases.search = load.phase();
    const afterSearch = sampler.sample();
    process.stderr.write(`Saving and searching (${options.saves} saves)...\n`);
    const save = await measureSaveToSearchable(client, {
      workspace,
      entries: workload.manifest.entries,
      saves: options.saves,
      seed: options.seed,
      floorDir: join(dirs.run, 'floor'),
    });
    phases.saves = load.phase();
    const afterSaves = sampler.sample();
    const concurrency = options.skipConcurrency
      ? null
      : await concurrencyPhase(options, daemon, workspace, workload, queries, load, phases);
    const rss = rssFigures({ afterIndex, afterSearch, afterSaves }, sampler, daemon.pid);
    await client.close();
    stopped = await daemon.stop();
    return { index, search, save, concurrency, rss, load: phases, shutdown: roundStop(stopped) };
  } finally {
    sampler.stop();
    if (!stopped) await daemon.stop();
  }
}

/** Searches under steady saves, on a daemon that has indexed the workload; loads per phase. */
function concurrencyPhase(
  options: BenchOptions,
  daemon: DaemonProcess,
  workspace: string,
  workload: Workload,
  queries: BenchQuery[],
  load: LoadMonitor,
  phases: Record<string, PhaseLoad>,
): Promise<ConcurrencyResult> {
  const seconds = options.concurrencySeconds;
  process.stderr.write(
    `Concurrency: ${options.clients} clients searching ${seconds} s idle, then ${seconds} s under saves...\n`,
  );
  return measureConcurrency(daemon, {
    workspace,
    entries: workload.manifest.entries,
    queries,
    seed: options.seed,
    clients: options.clients,
    seconds,
    onPhase: (name) => {
      const used = load.phase();
      if (name) phases[`concurrency, ${name}`] = used;
    },
  });
}

/** `--only concurrency`: a cold index (its figures not reported), then the concurrency phase. */
async function runConcurrencyOnly(
  options: BenchOptions,
  workload: Workload,
  startedAt: Date,
): Promise<number> {
  const dirs = await makeDirs(startedAt);
  const workspace = join(dirs.run, 'main');
  let daemon: DaemonProcess | null = null;
  try {
    await cp(workload.workspace, workspace, { recursive: true });
    const queries = await buildQueries(workspace, workload.manifest, options.queries);
    process.stderr.write(`Cold index of ${workload.manifest.chunks} chunks (not reported)...\n`);
    daemon = DaemonProcess.spawn({
      workspace,
      runtimeDir: dirs.runtime,
      logFile: join(dirs.results, 'daemon-concurrency.log'),
      ...daemonRun(options),
    });
    const { client } = await measureColdIndex(daemon, {
      workspace,
      expectedChunks: workload.manifest.chunks,
    });
    await client.close();
    const load = new LoadMonitor(machine().cpus, daemon.pid);
    const phases: Record<string, PhaseLoad> = {};
    const concurrency = await concurrencyPhase(options, daemon, workspace, workload, queries, load, phases);
    const m = workload.manifest;
    const report: ConcurrencyReport = {
      concurrency,
      workload: { seed: options.seed, notes: m.notes, chunks: m.chunks, machine: machine() },
      load: phases,
      targets: concurrencyTargets(concurrency),
    };
    const mc = report.workload.machine;
    process.stdout.write(
      [
        '',
        `  workload   seed ${m.seed}: ${count(m.notes)} notes, ${count(m.chunks)} chunks`,
        `  machine    ${mc.cpus} x ${mc.cpuModel}, ${mc.memoryGb} GiB, node ${mc.node}`,
        '',
        ...concurrencySection(concurrency),
        'Machine load (cores: daemon / benchmark / other processes)',
        ...loadRows(phases),
        '',
        'Targets',
        ...report.targets.map(formatTarget),
        '',
      ].join('\n'),
    );
    process.stdout.write(`Logs: ${dirs.results}\n`);
    if (options.json) {
      await mkdir(dirname(options.json), { recursive: true });
      await writeFile(options.json, JSON.stringify(report, null, 2) + '\n');
      process.stdout.write(`JSON: ${options.json}\n`);
    }
    return options.strict && report.targets.some((t) => !t.pass) ? 1 : 0;
  } finally {
    await daemon?.stop();
    if (options.keep) process.stdout.write(`Kept the run's workspaces in ${dirs.run}\n`);
    else await rm(dirs.run, { recursive: true, force: true });
  }
}

function count(value: number): string {
  return value.toLocaleString('en');
}

function rssFigures(
  samples: Record<'afterIndex' | 'afterSearch' | 'afterSaves', MemorySample | null>,
  sampler: RssSampler,
  pid: number,
): RssFigures {
  return {
    afterIndexMb: round(samples.afterIndex?.rssMb ?? 0, 1),
    afterSearchMb: round(samples.afterSearch?.rssMb ?? 0, 1),
    afterSavesMb: samples.afterSaves ? round(samples.afterSaves.rssMb, 1) : null,
    maxSampledMb: round(sampler.maxRssMb, 1),
    peakMb: round(readMemory(pid)?.peakRssMb ?? 0, 1),
    afterSearchAnonMb: round(samples.afterSearch?.anonMb ?? 0, 1),
    afterSearchFileMb: round(samples.afterSearch?.fileMb ?? 0, 1),
  };
}

function roundStop(stop: { ms: number; killed: boolean }): { ms: number; killed: boolean } {
  return { ms: round(stop.ms, 0), killed: stop.killed };
}

/** The restart measurement; its failure is reported, not allowed to lose the other figures. */
async function runRestart(
  options: BenchOptions,
  workload: Workload,
  dirs: Dirs,
): Promise<RestartResult | { error: string }> {
  const workspace = join(dirs.run, 'restart');
  await cp(workload.workspace, workspace, { recursive: true });
  const [query] = await buildQueries(workspace, workload.manifest, 1);
  process.stderr.write(`Restart: indexing ${workload.manifest.notes} notes, then restarting...\n`);
  return measureRestart(
    {
      workspace,
      runtimeDir: dirs.runtime,
      logFile: join(dirs.results, 'daemon-restart.log'),
      ...daemonRun(options),
    },
    { documents: workload.manifest.notes, chunks: workload.manifest.chunks },
    query?.query ?? 'renewal terms',
  );
}

function assemble(
  options: BenchOptions,
  workload: Workload,
  restartWorkload: Workload | null,
  figures: MainFigures,
  restart: RestartResult | { error: string } | null,
  startedAt: Date,
  conductor: ConductorResult | null,
): BenchReport {
  const { daemon: inside, ...searchRest } = figures.search;
  const { latency, ...saveRest } = figures.save;
  const m = workload.manifest;
  const partial: Omit<BenchReport, 'targets'> = {
    conductor,
    index: figures.index,
    search: { ...inside, ...searchRest },
    saveToSearchable: { ...latency, latency, ...saveRest },
    rssMb: Math.max(figures.rss.afterIndexMb, figures.rss.afterSearchMb),
    rss: figures.rss,
    restart: restart && 'documents' in restart ? restart : null,
    concurrency: figures.concurrency,
    restartError: restart && 'error' in restart ? restart.error : null,
    workload: {
      seed: options.seed,
      notes: m.notes,
      chunks: m.chunks,
      bytes: m.bytes,
      byType: m.byType,
      queries: figures.search.queries,
      saves: figures.save.saves,
      generateMs: round(workload.generateMs, 0),
      cached: workload.cached,
      restart: restartWorkload
        ? {
            notes: restartWorkload.manifest.notes,
            chunks: restartWorkload.manifest.chunks,
            bytes: restartWorkload.manifest.bytes,
          }
        : null,
      machine: machine(),
    },
    load: figures.load,
    shutdown: figures.shutdown,
    indexFloor: null,
    firstStep: null,
    warnings: [],
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
  partial.warnings = warningsOf(partial);
  return { ...partial, targets: evaluateTargets(partial) };
}

/** What makes a figure unrepresentative or shows a defect, in words, for the report's reader. */
function warningsOf(report: Omit<BenchReport, 'targets'>): string[] {
  const warnings: string[] = [];
  const { index, saveToSearchable: save, restart, shutdown } = report;
  if (index.searchIndexes !== 'built') {
    warnings.push(
      `The search indexes were not built after "ready" (${index.searchIndexes}; the table has ` +
        `[${index.indexColumns.join(', ')}]): searches ran without the full-text index.`,
    );
  }
  if (shutdown.killed) warnings.push('The daemon did not exit after SIGTERM and was killed (SIGKILL).');
  if (save.timeouts > 0 || save.skipped > 0) {
    warnings.push(`${save.timeouts} saves never became searchable; ${save.skipped} were not attempted.`);
  }
  if (report.restartError) warnings.push(`Restart could not be measured: ${report.restartError}`);
  if (restart && restart.msToFirstSearch === null) {
    warnings.push('Restart: the new daemon answered no search within 60 s of its spawn.');
  }
  if (restart?.firstShutdown.killed) warnings.push('Restart: the first daemon had to be killed to stop it.');
  if (restart && restart.firstSearchIndexes !== 'built') {
    warnings.push(`Restart: the first index build's search indexes were ${restart.firstSearchIndexes}.`);
  }
  for (const [phase, load] of Object.entries(report.load)) {
    if (load.otherCores >= 0.25) {
      warnings.push(
        `Other processes used ${load.otherCores} of the cores during ${phase}: figures are pessimistic.`,
      );
    }
  }
  return warnings;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A mistyped option gets its message and the usage; anything else its stack, to debug.
    const usage = (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? `\n${USAGE}` : '';
    const text =
      error instanceof Error ? (usage ? error.message : (error.stack ?? error.message)) : String(error);
    process.stderr.write(`bench: ${text}\n${usage}`);
    process.exit(2);
  },
);
