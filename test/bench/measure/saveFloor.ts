/**
 * The floor of save to searchable: what no indexer can avoid, measured in the bench process beside
 * Keel's own saves (interleaved, so both see the same machine load). A note is written into a
 * watched folder; the time runs until the file-system event arrives, the file is read, its text
 * embedded (Keel's default embedder) and added to a LanceDB table in one `add`, after which
 * LanceDB answers with the row. Keel's figure divided by this one is what Keel adds.
 *
 * The event is Node's `fs.watch` on the folder, which is what Keel's watcher uses (chokidar sits
 * on the same call and only adds work after it).
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Schema, Utf8 } from 'apache-arrow';
import { createLocalEmbedder } from '../../../daemon/src/memory/embed/local';
import type { Embedder } from '../../../daemon/src/memory/embed/embedder';

export class SaveFloor {
  private readonly arrivals = new Map<string, () => void>();

  private constructor(
    private readonly dir: string,
    private readonly watcher: FSWatcher,
    private readonly db: lancedb.Connection,
    private readonly table: lancedb.Table,
    private readonly embedder: Embedder,
  ) {
    watcher.on('change', (_type, name) => {
      const wake = this.arrivals.get(String(name));
      if (wake) {
        this.arrivals.delete(String(name));
        wake();
      }
    });
  }

  /** A watched folder and an empty table under `dir` (created; removed by close()). */
  static async open(dir: string): Promise<SaveFloor> {
    const notes = join(dir, 'notes');
    await mkdir(notes, { recursive: true });
    const embedder = await createLocalEmbedder();
    const db = await lancedb.connect(join(dir, 'lance'));
    const table = await db.createEmptyTable('floor', schema(embedder.dimensions));
    return new SaveFloor(dir, watch(notes), db, table, embedder);
  }

  /** Milliseconds from writing `content` as a new note to LanceDB holding it. */
  async measure(name: string, content: string): Promise<number> {
    const path = join(this.dir, 'notes', name);
    const arrived = new Promise<void>((resolve) => this.arrivals.set(name, resolve));
    const started = performance.now();
    await writeFile(path, content);
    await arrived;
    const text = await readFile(path, 'utf8');
    const [vector] = await this.embedder.embedDocuments([text]);
    await this.table.add([{ id: name, text, vector: vector! }]);
    return performance.now() - started;
  }

  async close(): Promise<void> {
    this.watcher.close();
    this.table.close();
    this.db.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function schema(dimensions: number): Schema {
  return new Schema([
    new Field('id', new Utf8(), false),
    new Field('text', new Utf8(), false),
    new Field('vector', new FixedSizeList(dimensions, new Field('item', new Float32(), true)), false),
  ]);
}
