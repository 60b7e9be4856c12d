/**
 * Every test file gets its own per-user state folder (KEEL_STATE_DIR: the operator's trust
 * decisions, the key that signs Keel's records), so tests never read or write the real user's,
 * nor each other's. Child processes inherit it through the environment.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'keel-user-state-')));
process.env.KEEL_STATE_DIR = dir;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
