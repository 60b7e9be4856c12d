/**
 * The bench's "first step without a daemon" on its own, round after round, each round timing every
 * build given once (interleaved, so a busy machine slows them alike): `keel run` of a runbook that
 * never searches, spawn to its first step's start, in a copy of the restart workload (10,000 notes,
 * memory never indexed). Prints each build's median and spread, and the median of the per-round
 * ratios to the first build with their spread, and the load average before and after. Each build
 * runs once first, uncounted, to write its code cache.
 *
 *   KEEL_BENCH_CLIS=daemon/build/cli.js,daemon/dist/cli.js npx tsx test/bench/profile/firstStepOnly.ts [rounds] [notes]
 * To profile one `keel run`, run `node --cpu-prof --cpu-prof-dir=DIR daemon/dist/cli.js run NAME`
 * twice in the workspace and read the second profile: the code cache is kept per set of Node flags
 * (Node refuses --cpu-prof in NODE_OPTIONS), so the first run compiles the bundle.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI } from '../daemonProcess';
import { measureFirstStep } from '../measure/firstStep';
import { percentile } from '../stats';
import { loadOrGenerate } from '../workload/generate';

const median = (values: number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const spread = (values: number[]): string => {
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[0]?.toFixed(2)}-${sorted.at(-1)?.toFixed(2)}`;
};

async function main(): Promise<void> {
  const [rounds = '10', notes = '10000'] = process.argv.slice(2);
  const clis = (process.env.KEEL_BENCH_CLIS ?? '')
    .split(',')
    .filter(Boolean)
    .map((cli) => resolve(cli));
  if (clis.length === 0) clis.push(CLI);
  const workload = await loadOrGenerate({ seed: 42, notes: Number(notes) });
  const dir = await mkdtemp(join(tmpdir(), 'keel-first-step-'));
  const load = loadavg().map((l) => l.toFixed(1));
  try {
    const workspaces = await Promise.all(
      clis.map(async (_cli, i) => {
        const workspace = join(dir, `ws${i}`);
        await cp(workload.workspace, workspace, { recursive: true });
        return workspace;
      }),
    );
    // One run of each build first, not counted: it writes the build's code cache.
    for (const [i, cli] of clis.entries())
      await measureFirstStep(workspaces[i]!, join(dir, `rt${i}`), 1, cli);
    const samples: number[][] = clis.map(() => []);
    for (let round = 0; round < Number(rounds); round++) {
      for (const [i, cli] of clis.entries()) {
        const first = await measureFirstStep(workspaces[i]!, join(dir, `rt${i}`), 1, cli);
        samples[i]!.push(first.msToFirstStep[0]!);
      }
    }
    for (const [i, cli] of clis.entries()) {
      const ratios = samples[i]!.map((ms, round) => ms / samples[0]![round]!);
      process.stdout.write(
        `${cli}: median ${median(samples[i]!)} ms (${samples[i]!.join(', ')})` +
          (i > 0
            ? `; per round / first build: median ${median(ratios).toFixed(2)} (${spread(ratios)})`
            : '') +
          '\n',
      );
    }
    process.stdout.write(
      `load average ${load.join(' ')} before, ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} after\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
