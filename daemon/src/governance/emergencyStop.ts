/**
 * The emergency stop's state, kept so it survives a restart: while it exists, no run executes and
 * none starts. It is written twice: `.keel/emergency-stop.json` (what the workspace shows) and a
 * copy in the per-user state folder, which a workspace cannot reach: deleting or forging the
 * workspace's file can add a stop, never lift one the operator set.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { userStateDir, workspaceKey } from '../runtime/paths';
import { readStateFile } from '../runtime/stateKey';

const StopState = z.object({ stoppedAt: z.string(), reason: z.string().nullable() });
export type StopState = z.infer<typeof StopState>;

export class EmergencyStop {
  private constructor(
    private readonly files: string[],
    private current: StopState | null,
  ) {}

  static async open(keelDir: string): Promise<EmergencyStop> {
    const files = [
      join(userStateDir(), 'stops', `${workspaceKey(dirname(keelDir))}.json`),
      join(keelDir, 'emergency-stop.json'),
    ];
    let state: StopState | null = null;
    for (const file of files) {
      // Not a plain file (a symlink?) counts as damaged: still stopped.
      const text = await readStateFile(file).catch(() => '');
      if (text === null) continue;
      // A damaged file still means stopped: failing safe is the point of an emergency stop.
      state = StopState.safeParse(safeJson(text)).data ?? {
        stoppedAt: new Date().toISOString(),
        reason: 'the stop file was damaged',
      };
      break;
    }
    return new EmergencyStop(files, state);
  }

  get state(): StopState | null {
    return this.current;
  }

  async stop(reason: string | null): Promise<StopState> {
    if (this.current) return this.current;
    const state = { stoppedAt: new Date().toISOString(), reason };
    for (const file of this.files) {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      const temp = `${file}.${process.pid}.tmp`;
      await rm(temp, { force: true });
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify(state) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    }
    this.current = state;
    return state;
  }

  async resume(): Promise<void> {
    for (const file of [...this.files].reverse()) await rm(file, { force: true });
    this.current = null;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
