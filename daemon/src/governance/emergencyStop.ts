/**
 * The emergency stop's state, kept in `.keel/emergency-stop.json` so it survives a restart: while
 * it exists, no run executes and none starts.
 */
import { constants } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const StopState = z.object({ stoppedAt: z.string(), reason: z.string().nullable() });
export type StopState = z.infer<typeof StopState>;

export class EmergencyStop {
  private constructor(
    private readonly file: string,
    private current: StopState | null,
  ) {}

  static async open(keelDir: string): Promise<EmergencyStop> {
    const file = join(keelDir, 'emergency-stop.json');
    const text = await readFile(file, 'utf8').catch(() => null);
    // A damaged file still means stopped: failing safe is the point of an emergency stop.
    const state =
      text === null
        ? null
        : (StopState.safeParse(safeJson(text)).data ?? {
            stoppedAt: new Date().toISOString(),
            reason: 'the stop file was damaged',
          });
    return new EmergencyStop(file, state);
  }

  get state(): StopState | null {
    return this.current;
  }

  async stop(reason: string | null): Promise<StopState> {
    if (this.current) return this.current;
    const state = { stoppedAt: new Date().toISOString(), reason };
    const temp = `${this.file}.tmp`;
    const handle = await open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await handle.writeFile(JSON.stringify(state) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.file);
    this.current = state;
    return state;
  }

  async resume(): Promise<void> {
    await rm(this.file, { force: true });
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
