/** A memory plane on a temporary workspace, with the real LanceDB and DuckDB stores. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WorkspaceConfig, type MemorySearchConfig } from '@keel/schemas';
import { createLogger, type Logger } from '../../daemon/src/log';
import { createLocalEmbedder } from '../../daemon/src/memory/embed/local';
import type { Embedder } from '../../daemon/src/memory/embed/embedder';
import { IndexWriter } from '../../daemon/src/memory/indexer';
import { MemoryService } from '../../daemon/src/memory/memoryService';
import { inProcessPreparer } from '../../daemon/src/memory/prepare';
import { openStores, type Stores } from '../../daemon/src/memory/store/stores';

export async function openMemory(
  root: string,
  config: Partial<{
    maxAgeDays: number;
    search: Partial<MemorySearchConfig>;
    log: Logger;
    /** A daemon's memory: it watches the files (once started). */
    watch: boolean;
  }> = {},
): Promise<MemoryService> {
  return MemoryService.open({
    root,
    config: WorkspaceConfig.parse({
      version: 1,
      memory: { maxAgeDays: config.maxAgeDays ?? 365, search: config.search ?? {} },
    }),
    log: config.log ?? createLogger({ level: 'error' }),
    watch: config.watch ?? false,
    onStatus: () => undefined,
  });
}

export async function writeNote(root: string, path: string, content: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

/** A small company's notes: distinct facts so each query has one right answer. */
export const COMPANY: Record<string, string> = {
  'memory/customers/acme.md':
    '---\ntype: customer\ntags: [logistics, priority]\nreview-by: 2020-01-01\n---\n# Acme Corp\n\nLogistics firm in Rotterdam.\n\n## Contract\n\nThe renewal is due in March; pricing is 4,000 EUR per month.\n',
  'memory/customers/northwind.md':
    '---\ntype: customer\ntags: [retail]\ndate: 2026-11-20\n---\n# Northwind\n\nRetail chain. The onboarding call with Sam is next week.\n',
  'memory/decisions/2026-03-hiring.md':
    '---\ntype: decision\ndate: 2026-03-02\ntags: [hiring]\n---\n# Hire a contractor\n\nWe decided to hire a freelance designer instead of an agency.\n',
  'memory/notes/old-idea.md':
    '---\ntype: note\ndate: 2019-05-01\n---\n# Podcast idea\n\nA podcast about bookkeeping for freelancers.\n',
  'runbooks/sales.yaml': 'name: sales-follow-up\ndescription: Draft a follow-up email after a sales call.\n',
};

export async function writeCompany(root: string): Promise<void> {
  for (const [path, content] of Object.entries(COMPANY)) await writeNote(root, path, content);
}

/** The index's writer on real stores in `stateDir` (the local embedder, parsing in this thread). */
export interface IndexedFiles {
  stores: Stores;
  writer: IndexWriter;
  embedder: Embedder;
}

/** Indexes `paths` of the workspace at `root` into new stores in `stateDir`; close with closeBoth(stores). */
export async function indexFiles(
  root: string,
  stateDir: string,
  paths: string[],
  log: Logger = createLogger({ level: 'error' }),
): Promise<IndexedFiles> {
  const embedder = await createLocalEmbedder();
  const stores = await openStores(stateDir, embedder.dimensions, log);
  const writer = new IndexWriter(
    { root, ...stores, embedder, log, preparer: inProcessPreparer, onProgress: () => undefined },
    new Map(),
  );
  writer.enqueue(paths);
  await writer.whenIdle();
  return { stores, writer, embedder };
}
