/** Temporary folders for tests: a workspace, and a private runtime dir so tests never share sockets. */
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDirs {
  /** The workspace folder (real path). */
  workspace: string;
  /** KEEL_RUNTIME_DIR for daemons of this test. */
  runtime: string;
  cleanup(): Promise<void>;
}

export async function makeTempDirs(prefix = 'keel-test-'): Promise<TempDirs> {
  const root = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  const workspace = join(root, 'ws');
  const runtime = join(root, 'run');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(workspace);
  return { workspace, runtime, cleanup: () => rm(root, { recursive: true, force: true }) };
}
