/**
 * Opening the index's two stores together, repairing what cannot be opened: a damaged store is
 * quarantined and replaced by an empty one, which the next sync fills from the files.
 */
import { mkdir, stat } from 'node:fs/promises';
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
        `The ${name} could not be opened (${firstLine(error)}); ` +
        (moved.length > 0 ? `it was moved to ${moved.join(', ')} and ` : '') +
        'a new one is being built from the files.';
      log.warn(message);
      repairs.push(message);
      return opener();
    }
  };

  const catalog = await open('index catalog (DuckDB)', [paths.catalog, `${paths.catalog}.wal`], () =>
    Catalog.open(paths.catalog),
  );
  let chunkIndex: ChunkIndex;
  try {
    chunkIndex = await open('search index (LanceDB)', [paths.lance], () =>
      ChunkIndex.open(paths.lance, dimensions, log),
    );
  } catch (error) {
    await catalog.close();
    throw error;
  }
  return { catalog, chunkIndex, repaired: repairs.length > 0 ? repairs.join(' ') : null };
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
