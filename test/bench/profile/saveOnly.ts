/**
 * Save to searchable alone, on a workspace whose index exists (one the benchmark kept with --keep):
 * the benchmark's own measure (measure/saveToSearchable.ts, with its floor after each save), for
 * one build or several interleaved, without indexing again each time.
 *
 *   npx tsx test/bench/profile/saveOnly.ts /tmp/keel-bench-XXXX/main [rounds] [saves]
 *   KEEL_BENCH_CLIS=/tmp/before/cli.js,daemon/dist/cli.js npx tsx ... (builds interleaved)
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IndexStatusRequest } from '@keel/schemas';
import { DaemonProcess, sleep } from '../daemonProcess';
import { measureSaveToSearchable } from '../measure/saveToSearchable';
import type { NoteEntry } from '../workload/generate';

async function once(
  workspace: string,
  entries: NoteEntry[],
  saves: number,
  seed: number,
  cli?: string,
): Promise<string> {
  const runtimeDir = await mkdtemp(join(tmpdir(), 'keel-rt-'));
  const daemon = DaemonProcess.spawn({
    workspace,
    runtimeDir,
    logFile: join(tmpdir(), 'keel-save-only.log'),
    ...(cli ? { cli } : {}),
    env: { KEEL_LOG_LEVEL: 'info' },
  });
  try {
    const client = await daemon.connect(60_000, 2);
    for (;;) {
      const status = await client.request(IndexStatusRequest);
      if (status.state === 'ready' && status.pending === 0) break;
      await sleep(100);
    }
    await sleep(1000);
    const result = await measureSaveToSearchable(client, {
      workspace,
      entries,
      saves,
      seed,
      floorDir: await mkdtemp(join(tmpdir(), 'keel-save-floor-')),
    });
    await client.close();
    const { latency, floor, floorRatio, pairedRatio, newNotes, edits } = result;
    return `p50 ${latency.p50Ms} (new ${newNotes.p50Ms}, edits ${edits.p50Ms}) floor ${floor.p50Ms}: x${floorRatio.p50}, paired x${pairedRatio.median}; p99 ${latency.p99Ms}`;
  } finally {
    await daemon.stop();
  }
}

async function main(): Promise<void> {
  const [workspace, rounds = '3', saves = '40'] = process.argv.slice(2);
  if (!workspace) throw new Error('give the workspace of an existing index');
  const entries: NoteEntry[] = [];
  for (const folder of await readdir(join(workspace, 'memory'))) {
    if (folder === 'inbox') continue;
    for (const name of await readdir(join(workspace, 'memory', folder)))
      if (name.endsWith('.md')) entries.push({ path: `memory/${folder}/${name}` } as NoteEntry);
  }
  const clis = (process.env.KEEL_BENCH_CLIS ?? '').split(',').filter(Boolean);
  for (let i = 0; i < Number(rounds); i++) {
    for (const cli of clis.length > 0 ? clis : [undefined]) {
      process.stdout.write(
        `${cli ?? 'daemon/dist/cli.js'}: ${await once(workspace, entries, Number(saves), Date.now() % 1_000_000, cli)}\n`,
      );
    }
  }
}

void main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
