/**
 * The hybrid search floor: the same search done with LanceDB alone, on the daemon's own table
 * (opened by path from the benchmark's process, with the daemon's cache sizes), with Keel's
 * embedder and Keel's fusion: embed the query, one vector query (dot product, the daemon's probes
 * and depth, the columns a search reads), one full-text query (the same text Keel asks), the
 * weighted min-max fusion, the top k. No recent-saves table, no priors, no neighbours, no socket:
 * what Keel's search costs beyond this is Keel's own (issue 14: <= 1.25x, p50 and p99).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import type { Embedder } from '../../../daemon/src/memory/embed/embedder';
import { createLocalEmbedder } from '../../../daemon/src/memory/embed/local';
import { filterSql } from '../../../daemon/src/memory/filterSql';
import { DEFAULT_TUNING } from '../../../daemon/src/memory/search';
import { fullTextQuery } from '../../../daemon/src/memory/searchText';
import { DISPLAY_COLUMNS, VECTOR_PROBES } from '../../../daemon/src/memory/store/chunkIndex';
import type { BenchQuery } from '../workload/queries';

type Row = Record<string, unknown>;

export class SearchFloor {
  private constructor(
    private readonly table: lancedb.Table,
    private readonly embedder: Embedder,
  ) {}

  /** Opens the chunks table of the daemon's index in `workspace` (the daemon keeps running). */
  static async open(workspace: string): Promise<SearchFloor> {
    // As the daemon sets it (chunkIndex.ts): read when LanceDB's CPU pool starts.
    process.env.LANCE_CPU_THREADS ??= String(Math.max(2, availableParallelism()));
    const session = new lancedb.Session(64n * 1024n * 1024n, 16n * 1024n * 1024n);
    const db = await lancedb.connect(join(workspace, '.keel', 'lance'), {}, session);
    return new SearchFloor(await db.openTable('chunks'), await createLocalEmbedder());
  }

  /** One search; resolves to the ids of the top k (so the work cannot be skipped). */
  async search(query: BenchQuery): Promise<string[]> {
    const where = filterSql(query.filter);
    const depth = Math.max(DEFAULT_TUNING.depth, query.k);
    const vectorRows = async (): Promise<Row[]> => {
      const vector = await this.embedder.embedQuery(query.query);
      let search = this.table.vectorSearch(vector).distanceType('dot').nprobes(VECTOR_PROBES).limit(depth);
      if (where) search = search.where(where);
      return (await search.select([...DISPLAY_COLUMNS, '_distance']).toArray()) as Row[];
    };
    const textRows = async (): Promise<Row[]> => {
      const match = new lancedb.MatchQuery(fullTextQuery(query.query), 'search_text');
      let search = this.table.query().fullTextSearch(match).limit(depth);
      if (where) search = search.where(where);
      return (await search.select([...DISPLAY_COLUMNS, '_score']).toArray()) as Row[];
    };
    const [vector, text] = await Promise.all([vectorRows(), textRows()]);
    const fused = new Map<string, number>();
    const weight = DEFAULT_TUNING.vectorWeight;
    for (const [rows, w, score] of [
      [text, 1 - weight, (row: Row) => Number(row._score)],
      [vector, weight, (row: Row) => 1 - Number(row._distance)],
    ] as const) {
      const scores = rows.map(score);
      const max = Math.max(...scores);
      const min = Math.min(...scores);
      rows.forEach((row, i) => {
        const normalised = max > min ? (scores[i]! - min) / (max - min) : 1;
        fused.set(String(row.id), (fused.get(String(row.id)) ?? 0) + w * normalised);
      });
    }
    return [...fused]
      .sort((a, b) => b[1] - a[1])
      .slice(0, query.k)
      .map(([id]) => id);
  }

  close(): void {
    this.table.close();
  }
}
