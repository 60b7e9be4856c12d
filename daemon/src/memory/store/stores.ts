/**
 * Opening the index's two stores together, repairing what cannot be opened: a damaged store is
 * quarantined and replaced by an empty one, which the next sync fills from the files.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log';
import { Catalog } from './catalog';
import { ChunkIndex } from './chunkIndex';
import { quarantine } from './recovery';
import { removePlantedLink } from '../../files/workspacePaths';

export interface Stores {
  catalog: Catalog;
  chunkIndex: ChunkIndex;
  /** What had to be repaired while opening, in words, or null. */
  repaired: string | null;
}

export function storePaths(stateDir: string): { catalog: string; lance: string } {
  return { catalog: join(stateDir, 'keel.duckdb'), lance: join(stateDir, 'lance') };
}

export async function openStores(stateDir: string, dimensions: number, log: Logger): Promise<Stores> {
  await mkdir(stateDir, { recursive: true });
  const paths = storePaths(stateDir);
  const repairs: string[] = [];
  for (const path of [paths.catalog, `${paths.catalog}.wal`, paths.lance]) {
    if (await removePlantedLink(path)) {
      const message = `${path} was a symbolic link; Keel removed the link (not what it pointed at) and rebuilds the index inside .keel/.`;
      log.warn(message);
      repairs.push(message);
    }
  }

  // A link anywhere inside the index folder (a table's data/ pointing elsewhere, say) would let
  // LanceDB write, or its clean-up delete, outside the workspace: such an index is not Keel's.
  const link = await firstLinkInside(paths.lance);
  if (link) {
    const moved = await quarantine(stateDir, paths.lance);
    const message = `${link} was a symbolic link inside the index; Keel moved the index to ${moved ?? 'quarantine'} (never following the link) and rebuilds it.`;
    log.warn(message);
    repairs.push(message);
  }

  const open = async <T>(name: string, target: string[], opener: () => Promise<T>): Promise<T> => {
    try {
      return await opener();
    } catch (error) {
      const moved: string[] = [];
      for (const path of target) {
        const destination = await quarantine(stateDir, path);
        if (destination) moved.push(destination);
      }
      const message =
        `${new Date().toISOString()}: the ${name} could not be opened (${firstLine(error)}); ` +
        (moved.length > 0 ? `it was moved to ${moved.join(', ')} and ` : '') +
        'a new one is being built from the files.';
      log.warn(message);
      repairs.push(message);
      return opener();
    }
  };

  // Together: DuckDB opens and checks its file on its own threads while LanceDB's libraries load
  // on this one (0.2-0.6 s of a restart at 10,000 notes).
  const [catalog, chunkIndex] = await Promise.allSettled([
    open('index catalog (DuckDB)', [paths.catalog, `${paths.catalog}.wal`], () =>
      Catalog.open(paths.catalog),
    ),
    open('search index (LanceDB)', [paths.lance], () => ChunkIndex.open(paths.lance, dimensions, log)),
  ]);
  if (catalog.status === 'rejected' || chunkIndex.status === 'rejected') {
    if (catalog.status === 'fulfilled') await catalog.value.close();
    if (chunkIndex.status === 'fulfilled') chunkIndex.value.close();
    throw catalog.status === 'rejected' ? catalog.reason : (chunkIndex as PromiseRejectedResult).reason;
  }
  return {
    catalog: catalog.value,
    chunkIndex: chunkIndex.value,
    repaired: repairs.length > 0 ? repairs.join(' ') : null,
  };
}

/**
 * Checks freshly opened stores against each other and the index identity: built by another
 * embedder or chunker, both are emptied (nothing to report); holding different numbers of chunks
 * (a lost DuckDB WAL, a deleted LanceDB folder, a crash between the two writes), both are emptied
 * and the repair is reported. Throws if either store fails to read.
 */
export async function prepareStores(
  stores: Stores,
  identity: string,
  log: Logger,
): Promise<{ repaired: string | null }> {
  const { catalog, chunkIndex } = stores;
  let repaired: string | null = null;
  const built = await catalog.getMeta('index_identity');
  if (built !== identity) {
    const rows = built === null ? await chunkIndex.countRows() : 0;
    if (rows > 0) {
      repaired =
        `${new Date().toISOString()}: the index catalog (DuckDB) was empty but the search index ` +
        `(LanceDB) held ${rows} chunks (a lost DuckDB write-ahead log or a deleted keel.duckdb); ` +
        'Keel emptied both and rebuilt the index from the files.';
      log.warn(repaired);
    }
    await chunkIndex.clear();
    await catalog.clear();
    await catalog.setMeta('index_identity', identity);
  }
  const [counts, rows] = await Promise.all([catalog.counts(), chunkIndex.countRows()]);
  if (counts.chunks !== rows) {
    repaired =
      `${new Date().toISOString()}: the index catalog (DuckDB) listed ${counts.chunks} chunks but the ` +
      `search index (LanceDB) held ${rows} (a lost DuckDB write-ahead log, a deleted .keel/lance folder ` +
      'or an interrupted write); Keel emptied both and rebuilt the index from the files.';
    log.warn(repaired);
    await chunkIndex.clear();
    await catalog.clear();
  }
  // What each file was indexed from is read later (MemoryService.loadStates): searches need none of it.
  return { repaired };
}

/** Moves both stores (and DuckDB's WAL) to `.keel/quarantine/`; answers where they went. */
export async function quarantineStores(stateDir: string): Promise<string[]> {
  const paths = storePaths(stateDir);
  const moved: string[] = [];
  for (const path of [paths.catalog, `${paths.catalog}.wal`, paths.lance]) {
    const destination = await quarantine(stateDir, path).catch(() => null);
    if (destination) moved.push(destination);
  }
  return moved;
}

export async function closeBoth(stores: Stores): Promise<void> {
  // An optimize runs beside the writes, and searches beside both: LanceDB must not be closed under any.
  await stores.chunkIndex.quiet();
  try {
    stores.chunkIndex.close();
  } catch {
    // Already unusable: that is why it is being closed.
  }
  await stores.catalog.close().catch(() => undefined);
}

export function movedText(moved: string[]): string {
  return moved.length > 0 ? `the damaged files were moved to ${moved.join(', ')} and ` : '';
}

export function joinRepairs(...repairs: (string | null)[]): string | null {
  const text = repairs.filter(Boolean).join(' ');
  return text.length > 0 ? text : null;
}

/** Whether both stores are still where they were opened (someone may delete `.keel/`). */
export async function storesPresent(stateDir: string): Promise<boolean> {
  const paths = storePaths(stateDir);
  const results = await Promise.all(
    [stat(paths.catalog), stat(paths.lance)].map((p) =>
      p.then(
        () => true,
        () => false,
      ),
    ),
  );
  return results.every(Boolean);
}

export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).slice(0, 300);
}

/** The first symbolic link found under `dir` (the folder itself not included), or null. */
async function firstLinkInside(dir: string): Promise<string | null> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  const link = entries.find((entry) => entry.isSymbolicLink());
  return link ? join(link.parentPath, link.name) : null;
}
