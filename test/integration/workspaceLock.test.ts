/** One daemon per workspace, even when several start at once over a lock left by a crash. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runKeel, startDaemon, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
beforeEach(async () => {
  dirs = await makeTempDirs();
});
afterEach(async () => {
  await dirs.cleanup();
});

it('lets exactly one of four simultaneous daemons take over a stale lock', async () => {
  await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
  // A lock left by a daemon that died with kill -9: its pid no longer exists.
  await mkdir(join(dirs.workspace, '.keel'), { recursive: true });
  await writeFile(
    join(dirs.workspace, '.keel', 'daemon.lock'),
    JSON.stringify({
      pid: 2 ** 22 + 12345,
      mode: 'daemon',
      socketPath: join(dirs.runtime, 'gone.sock'),
      tokenPath: join(dirs.runtime, 'gone.token'),
      startedAt: '2026-01-01T00:00:00.000Z',
      version: '0.1.0',
    }),
  );
  const attempts = await Promise.allSettled(
    [1, 2, 3, 4].map(() => startDaemon(dirs.workspace, dirs.runtime)),
  );
  const winners = attempts.filter(
    (a): a is PromiseFulfilledResult<RunningDaemon> => a.status === 'fulfilled',
  );
  const losers = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
  try {
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(3);
    for (const loser of losers) {
      expect(String(loser.reason)).toContain(
        `already running for ${dirs.workspace} (pid ${winners[0]!.value.pid}`,
      );
    }
  } finally {
    for (const winner of winners) {
      winner.value.process.kill('SIGTERM');
      await winner.value.exited;
    }
  }
});
