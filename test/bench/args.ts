/** The benchmark's command line: `npm run bench -- [--chunks N] [--seed S] [--json FILE] ...`. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export interface BenchOptions {
  chunks: number;
  seed: number;
  /** Absolute path of the JSON report, or null for none. */
  json: string | null;
  restartDocs: number;
  skipRestart: boolean;
  /** Measure only one part: the memory plane, the conductor, or searches under saves (default: all). */
  only: 'memory' | 'conductor' | 'concurrency' | 'durable' | null;
  /** The concurrency phase: clients searching at once, and seconds without then with a writer. */
  clients: number;
  concurrencySeconds: number;
  skipConcurrency: boolean;
  /** Runs of the 5-step runbook for the conductor's figures. */
  conductorRuns: number;
  /** The durable step beside LangGraph: interleaved rounds, runs per contender per round. */
  durableRounds: number;
  durableRuns: number;
  /** A saved build's cli.js run as one more contender of the durable step: two builds, same rounds. */
  durableBaselineCli: string | null;
  /** Runs the daemon makes before its stop is timed (0: skip). */
  stopAfterRuns: number;
  queries: number;
  saves: number;
  /** Exit 1 when a target is missed (by default the benchmark only measures and reports). */
  strict: boolean;
  /** Keep the run's workspaces and logs instead of deleting them. */
  keep: boolean;
  /** Node flags for the daemons, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them. */
  daemonNodeArgs: string[];
  /** KEEL_LOG_LEVEL for the daemons (debug shows more of what they do). */
  logLevel: string;
  /** Extra environment for the daemons, for experiments: LANCE_CPU_THREADS=2. */
  daemonEnv: Record<string, string>;
  /**
   * Cold indexes timed against the floor: the first is the main daemon's; each further one is a
   * cold index on its own, followed by another floor run, so every Keel run has a floor on each side.
   */
  indexRounds: number;
  /** The built CLI the daemons run (default daemon/dist/cli.js): compare two builds on one machine. */
  daemonCli: string | null;
}

export const USAGE = `Usage: npm run bench -- [options]

  --chunks N              chunks in the generated workspace (default 100000)
  --seed S                seed of the generated notes and queries (default 42)
  --json FILE             also write the results as JSON to FILE
  --queries N             search queries to time (default 300, after 20 warm-up queries)
  --saves N               saves to time for save-to-searchable (default 50)
  --restart-docs N        notes in the restart workload (default 10000)
  --skip-restart          skip the restart measurement
  --only PART             measure one part only: memory, conductor, concurrency or durable
                          (default: all; memory includes concurrency, conductor includes durable)
  --clients N             concurrency: clients searching at once (default 32)
  --concurrency-seconds N concurrency: seconds searching idle, then as long under saves (default 15)
  --skip-concurrency      skip the concurrency phase
  --conductor-runs N      runs of the 5-step runbook for the conductor figures (default 200)
  --durable-rounds N      durable step: interleaved rounds of Keel, LangGraph and the fsync floor
                          (default 5)
  --durable-runs N        durable step: 10-step runs per contender per round (default 20)
  --durable-baseline-cli FILE
                          durable step: a saved build's cli.js (a copy of daemon/dist) run as one
                          more contender in the same rounds, to compare two builds
  --stop-after-runs N     durable step: runs the daemon makes before its stop is timed (default
                          5000; 0 skips it)
  --strict                exit 1 if a target is missed (default: report only, exit 0)
  --keep                  keep the run's workspaces and daemon logs
  --daemon-node-args=S    node flags for the daemons (e.g. ="--cpu-prof --cpu-prof-dir=DIR")
  --log-level L           KEEL_LOG_LEVEL for the daemons (default info)
  --daemon-env K=V        extra environment for the daemons (repeatable), for experiments
  --index-rounds N        cold indexes timed against the floor, interleaved with it (default 1):
                          more rounds give the cold index / floor ratio a median and a spread
  --daemon-cli FILE       the built cli.js the daemons run (default daemon/dist/cli.js), to compare
                          a saved build with the current one in alternating runs
`;

export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      chunks: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '42' },
      json: { type: 'string' },
      queries: { type: 'string', default: '300' },
      saves: { type: 'string', default: '50' },
      'restart-docs': { type: 'string', default: '10000' },
      'skip-restart': { type: 'boolean', default: false },
      only: { type: 'string' },
      clients: { type: 'string', default: '32' },
      'concurrency-seconds': { type: 'string', default: '15' },
      'skip-concurrency': { type: 'boolean', default: false },
      'conductor-runs': { type: 'string', default: '200' },
      'durable-rounds': { type: 'string', default: '5' },
      'durable-runs': { type: 'string', default: '20' },
      'durable-baseline-cli': { type: 'string' },
      'stop-after-runs': { type: 'string', default: '5000' },
      strict: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'daemon-node-args': { type: 'string', default: '' },
      'log-level': { type: 'string', default: 'info' },
      'daemon-env': { type: 'string', multiple: true, default: [] },
      'index-rounds': { type: 'string', default: '1' },
      'daemon-cli': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  // npm runs scripts from the package root; a relative --json is meant from where npm was typed.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  return {
    chunks: positiveInt('--chunks', values.chunks),
    seed: positiveInt('--seed', values.seed, 0),
    json: values.json ? resolve(cwd, values.json) : null,
    restartDocs: positiveInt('--restart-docs', values['restart-docs']),
    skipRestart: values['skip-restart'],
    only: only(values.only),
    clients: positiveInt('--clients', values.clients),
    concurrencySeconds: positiveInt('--concurrency-seconds', values['concurrency-seconds']),
    skipConcurrency: values['skip-concurrency'],
    conductorRuns: positiveInt('--conductor-runs', values['conductor-runs']),
    durableRounds: positiveInt('--durable-rounds', values['durable-rounds']),
    durableRuns: positiveInt('--durable-runs', values['durable-runs']),
    durableBaselineCli: values['durable-baseline-cli'] ? resolve(cwd, values['durable-baseline-cli']) : null,
    stopAfterRuns: positiveInt('--stop-after-runs', values['stop-after-runs'], 0),
    queries: positiveInt('--queries', values.queries),
    saves: positiveInt('--saves', values.saves),
    strict: values.strict,
    keep: values.keep,
    daemonNodeArgs: values['daemon-node-args'].split(/\s+/).filter((arg) => arg.length > 0),
    logLevel: values['log-level'],
    daemonEnv: Object.fromEntries(values['daemon-env'].map(keyValue)),
    indexRounds: positiveInt('--index-rounds', values['index-rounds']),
    daemonCli: values['daemon-cli'] ? resolve(cwd, values['daemon-cli']) : null,
  };
}

function only(value: string | undefined): BenchOptions['only'] {
  if (value === undefined) return null;
  if (value === 'memory' || value === 'conductor' || value === 'concurrency' || value === 'durable')
    return value;
  throw new Error(`--only ${value}: give memory, conductor, concurrency or durable`);
}

function positiveInt(name: string, value: string, min = 1): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min)
    throw new Error(`${name} ${value}: give a whole number >= ${min}`);
  return number;
}

function keyValue(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at < 1) throw new Error(`--daemon-env ${text}: write it as NAME=VALUE`);
  return [text.slice(0, at), text.slice(at + 1)];
}
