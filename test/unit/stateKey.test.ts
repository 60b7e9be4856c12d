/** The per-user key that seals Keel's records, and the seals themselves. */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { canonicalJson, StateSeal, userStateKey } from '../../daemon/src/runtime/stateKey';

let root: string;
let saved: string | undefined;
beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'keel-key-')));
  saved = process.env.KEEL_STATE_DIR;
  process.env.KEEL_STATE_DIR = join(root, 'state');
  mkdirSync(join(root, 'ws'));
  mkdirSync(join(root, 'other'));
});
afterEach(() => {
  process.env.KEEL_STATE_DIR = saved;
  rmSync(root, { recursive: true, force: true });
});

it('creates a 32-byte key readable by its owner only, and keeps using it', () => {
  const key = userStateKey();
  expect(key).toHaveLength(32);
  expect(statSync(join(root, 'state', 'state.key')).mode & 0o777).toBe(0o600);
  expect(userStateKey().equals(key)).toBe(true);
});

it('refuses a key that is a symlink or that others can read', () => {
  mkdirSync(join(root, 'state'), { mode: 0o700 });
  writeFileSync(join(root, 'elsewhere.key'), Buffer.alloc(32, 1), { mode: 0o600 });
  symlinkSync(join(root, 'elsewhere.key'), join(root, 'state', 'state.key'));
  expect(() => userStateKey()).toThrow(/is not a regular file/);
  rmSync(join(root, 'state', 'state.key'));
  writeFileSync(join(root, 'state', 'state.key'), Buffer.alloc(32, 1), { mode: 0o600 });
  chmodSync(join(root, 'state', 'state.key'), 0o644);
  expect(() => userStateKey()).toThrow(/can be read or written by others/);
});

it('verifies a sealed record whatever its key order, and nothing else', () => {
  const seal = new StateSeal(join(root, 'ws'));
  const sealed = seal.sealObject('proposal', { b: 1, a: { d: [1, 2], c: 'x' } });
  const reordered = JSON.parse(
    JSON.stringify({ a: { c: 'x', d: [1, 2] }, seal: sealed.seal, b: 1 }),
  ) as unknown;
  expect(seal.openObject('proposal', reordered)).toEqual({ a: { c: 'x', d: [1, 2] }, b: 1 });
  expect(seal.openObject('proposal', { ...sealed, b: 2 })).toBeNull();
  expect(seal.openObject('triggers', sealed)).toBeNull();
  expect(new StateSeal(join(root, 'other')).openObject('proposal', sealed)).toBeNull();
  expect(seal.openObject('proposal', { b: 1, a: { d: [1, 2], c: 'x' } })).toBeNull();
  expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
});
