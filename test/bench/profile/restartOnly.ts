/**
 * Restarts a daemon on a workspace whose index exists (one the benchmark kept with --keep) and
 * times spawn to socket and to the first search answered with results, a few times over, with
 * each run's daemon log lines timed from the spawn: where a restart's second goes, without
 * building the index again each time.
 *
 *   npx tsx test/bench/profile/restartOnly.ts /tmp/keel-bench-XXXX/restart [runs] [query]
 *   KEEL_BENCH_CLIS=/tmp/before/cli.js,daemon/dist/cli.js npx tsx ... (builds interleaved)
 *   KEEL_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npx tsx test/bench/profile/restartOnly.ts ...
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemorySearchRequest } from '@keel/schemas';
import { DaemonProcess, sleep } from '../daemonProcess';
import { readMemory } from '../procStats';

async function once(workspace: string, query: string, logFile: string, cli?: string): Promise<string> {
  const runtimeDir = await mkdtemp(join(tmpdir(), 'keel-rt-'));
  const nodeArgs = (process.env.KEEL_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const daemon = DaemonProcess.spawn({
    workspace,
    runtimeDir,
    logFile,
    nodeArgs,
    ...(cli ? { cli } : {}),
    env: { KEEL_LOG_LEVEL: process.env.KEEL_LOG_LEVEL ?? 'debug' },
  });
  try {
    const client = await daemon.connect(60_000, 2);
    const socketMs = performance.now() - daemon.spawnedAt;
    let results = 0;
    while (results === 0 && performance.now() - daemon.spawnedAt < 60_000) {
      const answer = await client.request(MemorySearchRequest, { query, k: 10 }).catch(() => null);
      results = answer?.results.length ?? 0;
      if (results === 0) await sleep(2);
    }
    const searchMs = performance.now() - daemon.spawnedAt;
    const rss = readMemory(daemon.pid)?.rssMb ?? null;
    await client.close();
    const lines = daemon.lines
      .filter((l) => /INFO|WARN|ERROR/.test(l.text))
      .map((l) => `    +${Math.round(l.at - daemon.spawnedAt)} ms ${l.text.slice(25, 160)}`);
    return [
      `socket ${Math.round(socketMs)} ms, first search ${Math.round(searchMs)} ms (${results} results), RSS ${rss?.toFixed(0)} MB`,
      ...lines,
    ].join('\n');
  } finally {
    await daemon.stop();
  }
}

async function main(): Promise<void> {
  const [workspace, runs = '3', query = 'renewal terms'] = process.argv.slice(2);
  if (!workspace) throw new Error('give the workspace of an existing index');
  const clis = (process.env.KEEL_BENCH_CLIS ?? '').split(',').filter(Boolean);
  for (let i = 0; i < Number(runs); i++) {
    for (const cli of clis.length > 0 ? clis : [undefined]) {
      const log = join(tmpdir(), 'keel-restart-only.log');
      process.stdout.write(`${cli ?? 'daemon/dist/cli.js'}: ${await once(workspace, query, log, cli)}\n`);
    }
  }
}

void main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
