/**
 * The cold index's floor: the least a program must do to make the workspace searchable the way
 * Keel does, in one script and one process. It reads every Markdown file, drops the frontmatter,
 * splits the rest at headings outside code fences, embeds each piece with Keel's own embedder, adds
 * the rows to one LanceDB table in large batches and builds its full-text index. No catalog, no
 * worker thread, no watcher, no size bounds, no crash safety: what is left is the libraries' cost.
 *
 * Bundled and started by measure/indexFloor.ts as `node floor.js WORKSPACE STATE_DIR`; it writes
 * `ready N` once the N rows are written and `searchable` once the full-text index is built, and
 * exits. Keel's figures are timed from the daemon's spawn, so this is timed from its spawn too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { createLocalEmbedder } from '../../../daemon/src/memory/embed/local';

const BATCH_ROWS = 20_000;

interface Piece {
  id: string;
  path: string;
  text: string;
}

async function main(): Promise<void> {
  const [workspace, stateDir] = process.argv.slice(2);
  if (!workspace || !stateDir) throw new Error('usage: node floor.js WORKSPACE STATE_DIR');
  // The daemon's setting (chunkIndex.ts): LanceDB's own default deadlocks on 2 cores.
  process.env.LANCE_CPU_THREADS ??= String(Math.max(2, availableParallelism()));
  const embedder = await createLocalEmbedder();
  const db = await lancedb.connect(stateDir);
  let table: lancedb.Table | null = null;
  let batch: Piece[] = [];
  let rows = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const vectors = await embedder.embedDocuments(batch.map((r) => r.text));
    const data = batch.map((r, i) => ({ ...r, vector: Array.from(vectors[i]!) }));
    if (table) await table.add(data);
    else table = await db.createTable('chunks', data);
    rows += batch.length;
    batch = [];
  };
  for (const entry of readdirSync(workspace, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.md')) continue;
    const path = join(entry.parentPath, entry.name).slice(workspace.length + 1);
    const sections = splitAtHeadings(readFileSync(join(workspace, path), 'utf8'));
    sections.forEach((text, i) => batch.push({ id: `${path}#${i}`, path, text }));
    if (batch.length >= BATCH_ROWS) await flush();
  }
  await flush();
  process.stdout.write(`ready ${rows}\n`);
  const written = table as lancedb.Table | null;
  await written?.createIndex('text', { config: lancedb.Index.fts() });
  process.stdout.write('searchable\n');
}

/** The note without its frontmatter, cut before each heading that is not inside a code fence. */
function splitAtHeadings(content: string): string[] {
  const lines = content.split('\n');
  let start = 0;
  if (lines[0]?.trim() === '---') {
    const end = lines.findIndex((line, i) => i > 0 && line.trim() === '---');
    if (end > 0) start = end + 1;
  }
  const sections: string[] = [];
  let current: string[] = [];
  let fence: string | null = null;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!;
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === null || marker.startsWith(fence))) fence = fence === null ? marker : null;
    if (fence === null && /^#{1,6}\s/.test(line) && current.some((l) => l.trim())) {
      sections.push(current.join('\n').trim());
      current = [];
    }
    current.push(line);
  }
  if (current.some((l) => l.trim())) sections.push(current.join('\n').trim());
  return sections;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `index floor: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
