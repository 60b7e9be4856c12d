/**
 * keel.yaml edited in a burst (a git checkout, an editor saving fast) while the daemon's watcher
 * and the operator both ask it to read the file again: the daemon ends with the file as it is
 * last, never an older read that happened to finish later.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TrustStateRequest } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let daemon: Daemon | null = null;

const keelYaml = (port: number): string => `version: 1
models:
  endpoint: { baseUrl: 'http://127.0.0.1:${port}/v1' }
  tiers:
    fast: { model: m }
`;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-config-reload-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
  await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml(40000));
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error', write: () => undefined }),
  });
});

afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await dirs.cleanup();
});

it('holds the last keel.yaml after a burst of edits and reloads, and writes nothing once stopped', async () => {
  const client = new InProcessClient(daemon!);
  const reloads: Promise<void>[] = [];
  for (let port = 40001; port <= 40040; port++) {
    await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml(port));
    reloads.push(daemon!.reloadConfig());
  }
  await Promise.all(reloads);
  const { endpoints } = await client.request(TrustStateRequest, {});
  expect(endpoints.map((e) => e.origin)).toContain('http://127.0.0.1:40040');
  expect(endpoints.filter((e) => e.purpose === 'models')).toHaveLength(1);

  // The watcher's own reloads of the burst may still be under way: stop waits for them.
  await daemon!.stop('test');
  daemon = null;
  const listing = async (): Promise<string[]> =>
    (await readdir(join(dirs.workspace, '.keel'), { recursive: true })).sort();
  const atStop = await listing();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(await listing()).toEqual(atStop);
});
