/**
 * Where a durable run's CPU goes, by daemon thread: the built daemon runs N runs of the 10-step
 * no-op `llm` runbook back to back (as the durable step's benchmark starts them), and each
 * thread's CPU time over them is read from /proc (Linux).
 *
 *   npx tsx test/bench/profile/durableThreads.ts [runs] [cli.js]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunChangedNotification, RunStartRequest, TrustGrantRequest, TrustStateRequest } from '@keel/schemas';
import { ModelServer } from '../../helpers/modelServer';
import { DaemonProcess } from '../daemonProcess';
import { RUNBOOK, STEPS } from '../measure/durableStep';

/** CPU ticks (1/100 s) per thread name and id. */
function threads(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${name} ${tid}`, Number(fields[11]) + Number(fields[12]));
    } catch {
      // The thread ended.
    }
  }
  return out;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 60);
  const base = await realpath(await mkdtemp(join(tmpdir(), 'keel-threads-')));
  const server = await ModelServer.start();
  server.respondWith(() => ({ content: 'ok', usage: { prompt_tokens: 5, completion_tokens: 1 } }));
  const workspace = join(base, 'workspace');
  await mkdir(join(workspace, 'runbooks'), { recursive: true });
  await writeFile(join(workspace, 'runbooks', 'ten.yaml'), RUNBOOK);
  await writeFile(
    join(workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m }\n`,
  );
  const daemon = DaemonProcess.spawn({
    workspace,
    runtimeDir: join(base, 'runtime'),
    logFile: join(base, 'daemon.log'),
    env: { KEEL_LOG_LEVEL: 'warn' },
    ...(process.argv[3] ? { cli: process.argv[3] } : {}),
  });
  const client = await daemon.connect();
  try {
    const { wantsHash } = await client.request(TrustStateRequest);
    await client.request(TrustGrantRequest, { wantsHash });
    const ended = new Map<string, () => void>();
    client.onNotification(RunChangedNotification, (run) => {
      if (run.endedAt) ended.get(run.id)?.();
    });
    const one = async (): Promise<void> => {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const started = await client.request(RunStartRequest, { runbook: 'ten', inputs: {} });
      ended.set(started.id, resolve);
      if (!started.endedAt) await done;
    };
    for (let i = 0; i < 5; i++) await one();
    await new Promise((r) => setTimeout(r, 1000));
    const before = threads(daemon.pid);
    const began = performance.now();
    for (let i = 0; i < runs; i++) await one();
    const wallMs = performance.now() - began;
    // Background work the runs left (trace batches, the run index) counts too.
    await new Promise((r) => setTimeout(r, 2000));
    const after = threads(daemon.pid);
    const rows = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
    rows.sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((sum, [, v]) => sum + v, 0);
    process.stdout.write(
      `${runs} runs, ${(wallMs / (runs * STEPS)).toFixed(2)} ms/step wall; CPU ${((total * 10) / (runs * STEPS)).toFixed(2)} ms/step\n`,
    );
    for (const [k, v] of rows)
      process.stdout.write(`  ${((v * 10) / (runs * STEPS)).toFixed(2)} ms/step  ${k}\n`);
  } finally {
    await client.close().catch(() => undefined);
    await daemon.stop();
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
}

void main();
