/**
 * Damage does not hurt: a truncated or corrupt DuckDB catalog, damaged LanceDB files, or a deleted
 * .keel/ are reported, quarantined and rebuilt from the files, and search keeps working.
 */
import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MemoryService } from '../../daemon/src/memory/memoryService';
import { COMPANY, openMemory, writeCompany } from '../helpers/memory';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let memory: MemoryService | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  await writeCompany(dirs.workspace);
  const first = await openMemory(dirs.workspace);
  await first.sync();
  await first.close();
});
afterEach(async () => {
  await memory?.close();
  memory = null;
  await dirs.cleanup();
});

const keel = (...parts: string[]): string => join(dirs.workspace, '.keel', ...parts);

async function findsAcme(service: MemoryService): Promise<void> {
  const [top] = await service.search({ query: 'Acme renewal pricing', k: 1 });
  expect(top?.path).toBe('memory/customers/acme.md');
}

async function lanceFiles(suffix: string): Promise<string[]> {
  const entries = await readdir(keel('lance'), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(suffix)).map((e) => join(e.parentPath, e.name));
}

async function expectNotesUntouched(): Promise<void> {
  for (const [path, content] of Object.entries(COMPANY)) {
    expect(await readFile(join(dirs.workspace, path), 'utf8')).toBe(content);
  }
}

describe('a damaged index', () => {
  it('rebuilds a truncated DuckDB catalog, keeping the damaged file aside', async () => {
    await truncate(keel('keel.duckdb'), 1000);
    memory = await openMemory(dirs.workspace);
    expect(memory.status().recovery).toMatch(
      /index catalog \(DuckDB\) could not be opened.*moved to .*quarantine/,
    );
    await memory.sync();
    await findsAcme(memory);
    expect((await readdir(keel('quarantine'))).some((name) => name.startsWith('keel.duckdb-'))).toBe(true);
    await expectNotesUntouched();
  });

  it('rebuilds a catalog overwritten with garbage', async () => {
    await writeFile(keel('keel.duckdb'), Buffer.alloc(64 * 1024, 0x5a));
    memory = await openMemory(dirs.workspace);
    await memory.sync();
    expect(memory.status().recovery).toMatch(/DuckDB/);
    expect(memory.status().documents).toBe(5);
    await findsAcme(memory);
  });

  it('rebuilds LanceDB data files that were truncated', async () => {
    const files = await lanceFiles('.lance');
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) await truncate(file, 16);
    memory = await openMemory(dirs.workspace);
    await memory.sync();
    expect(memory.status().recovery).toMatch(/search index \(LanceDB\)/);
    await findsAcme(memory);
    await expectNotesUntouched();
  });

  it('rebuilds LanceDB whose version manifests are gone', async () => {
    for (const file of await lanceFiles('.manifest')) await rm(file);
    memory = await openMemory(dirs.workspace);
    await memory.sync();
    await findsAcme(memory);
    expect(memory.status().chunks).toBeGreaterThan(0);
  });

  it('rebuilds everything when .keel/ is deleted while it runs', async () => {
    memory = await openMemory(dirs.workspace);
    await memory.sync();
    await rm(keel(), { recursive: true, force: true });
    await memory.checkStores();
    expect(memory.status().recovery).toMatch(/\.keel folder .* was deleted.*rebuilt from the files/);
    await findsAcme(memory);
    expect((await stat(keel('keel.duckdb'))).isFile()).toBe(true);
    await expectNotesUntouched();
  });

  it('starts empty and fills up when .keel/ is deleted while it is stopped', async () => {
    await rm(keel(), { recursive: true, force: true });
    memory = await openMemory(dirs.workspace);
    await memory.sync();
    await findsAcme(memory);
    expect(memory.status().documents).toBe(5);
  });
});
